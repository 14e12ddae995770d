"""Customers, segments and coupon batches (DESIGN §6.7) as the HTTP API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from api.pagination import Page
from api.schemas.common import Public, Strict
from api.schemas.orders import AddressIn, ContactPublic
from api.schemas.types import MAX_DAYS, Code, Fen, Id, ShortName

PersonName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Phone = Annotated[str, StringConstraints(pattern=r"^[0-9+\-]{5,20}$")]
Days = Annotated[int, Field(ge=1, le=MAX_DAYS, strict=True)]


class CustomerUpsert(Strict):
    """The storefront's customer as it stands now (the whole record: a field left out is
    reset to its default)."""

    name: PersonName
    phone: Phone
    channel: Code = "web"  # where they registered: app, mini_program, web…
    addresses: Annotated[list[AddressIn], Field(max_length=20)] = []


class CustomerPublic(Public):
    id: int
    customer_key: int  # the storefront's own key: its orders name it as customer_id
    api_key_id: int
    channel: str
    contact: ContactPublic  # name and phone (region and detail empty)
    addresses: list[ContactPublic]
    masked: bool
    created_at: datetime
    updated_at: datetime


class RevealedCustomer(Public):
    contact: ContactPublic
    addresses: list[ContactPublic]


class CustomerCouponPublic(Public):
    code: str
    batch_id: int
    issued_at: datetime
    used: bool  # used by one of the customer's orders (and not given back)
    used_order_no: str | None = None  # the order using it


class CustomerAfterSale(Public):
    as_no: str
    order_no: str
    type: str
    status: str
    refund_fen: int
    requested_at: datetime


class PaidAtLeastIn(Strict):
    kind: Literal["paid_at_least"]
    min_fen: Fen
    days: Days


class NoOrderInIn(Strict):
    kind: Literal["no_order_in"]
    days: Days


class LevelAtLeastIn(Strict):
    kind: Literal["level_at_least"]
    level_id: Id  # a member level (GET /v1/loyalty/settings); that level or above


RuleIn = Annotated[PaidAtLeastIn | NoOrderInIn | LevelAtLeastIn, Field(discriminator="kind")]


class SegmentCreate(Strict):
    name: ShortName
    rules: Annotated[list[RuleIn], Field(min_length=1, max_length=10)]


class SegmentPublic(Public):
    id: int
    name: str
    rules: list[dict[str, object]]
    created_at: datetime
    archived_at: datetime | None = None  # no longer listed, issued to or holding a level
    updated_at: datetime  # last changed (edited or archived)
    members: int | None = None  # counted now, on the segment's own page


class CouponBatchCreate(Strict):
    coupon_id: Id


class CouponBatchPublic(Public):
    id: int
    segment_id: int
    coupon_id: int
    rules: list[dict[str, object]]  # the segment's when the batch began: its customers' rules
    status: str
    as_of: datetime
    total: int
    issued: int
    created_by: str
    created_at: datetime
    finished_at: datetime | None


CustomersPublic = Page[CustomerPublic]
SegmentsPublic = Page[SegmentPublic]
CouponBatchesPublic = Page[CouponBatchPublic]
CustomerCouponsPublic = Page[CustomerCouponPublic]
CustomerAfterSalesPublic = Page[CustomerAfterSale]
