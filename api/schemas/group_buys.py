"""Group-buy schemas of the HTTP API (DESIGN §6.8): offers operations configure, groups buyers
open and join (each join an order at the group price)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from api.pagination import Page
from api.schemas.common import Public, Strict
from api.schemas.orders import AddressIn, Key, OrderPublic
from api.schemas.types import AwareInstant, BigId, Id, Reason, ShortName

OfferStatus = Literal["scheduled", "live", "ended", "stopped"]
GroupStatus = Literal["forming", "completed", "failed"]
GroupSize = Annotated[int, Field(ge=2, le=100, strict=True)]
TimeLimitMinutes = Annotated[int, Field(ge=1, le=30 * 24 * 60, strict=True)]  # up to 30 days
GroupPrice = Annotated[int, Field(ge=1, le=10**12, strict=True)]


class OfferCreate(Strict):
    name: ShortName
    sku_id: Id
    group_price_fen: GroupPrice
    group_size: GroupSize
    time_limit_minutes: TimeLimitMinutes
    starts_at: AwareInstant
    ends_at: AwareInstant

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class OfferStop(Strict):
    reason: Reason


class OfferFigures(Public):
    forming: int = 0
    completed: int = 0
    failed: int = 0
    members: int = 0  # seats held in forming groups
    paid_members: int = 0  # paid members of every group


class OfferPublic(Public):
    id: int
    name: str
    sku_id: int
    group_price_fen: int
    group_size: int
    time_limit_minutes: int
    starts_at: datetime
    ends_at: datetime
    stopped_at: datetime | None
    status: OfferStatus
    figures: OfferFigures


OffersPublic = Page[OfferPublic]


class GroupMemberPublic(Public):
    order_no: str
    customer_id: int
    status: str
    joined_at: datetime
    paid_at: datetime | None


class GroupPublic(Public):
    group_no: str
    offer_id: int
    status: GroupStatus
    opened_by: int
    group_size: int
    members: int
    paid: int
    opened_at: datetime
    deadline: datetime
    finished_at: datetime | None
    reason: str


class GroupDetail(GroupPublic):
    member_list: list[GroupMemberPublic]


GroupsPublic = Page[GroupPublic]


class GroupJoin(Strict):
    """A buyer opening a group on an offer (`offer_id`) or joining one: one unit of the offer's
    SKU, an ordinary order at the group price, paid as any order."""

    # The storefront's own key for this order: sending it again returns the same join.
    client_order_key: Key
    customer_id: BigId
    address: AddressIn


class GroupOpen(GroupJoin):
    offer_id: Id


class JoinedPublic(Public):
    group: GroupDetail
    order: OrderPublic
