"""Payloads of a group buy (拼团, DESIGN §6.8): the `group-…` process that a first buyer opens
and that needs `size` paying members before its deadline; each member's order is an ordinary
order (`order-SO…`) priced at the group price whose shipment waits for the group.

Money in integer fen. A member is `joined` (its order placed, seat held), `paid`, `left` (its
order ended before the group did: seat given back), then `completed` (ships) or `failed`
(cancelled and refunded by its order)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

GroupStatus = Literal["forming", "completed", "failed"]
MemberStatus = Literal["joined", "paid", "left", "completed", "failed"]
GroupOutcome = Literal["completed", "failed"]
# Seats a member holds: an order placed and not ended (paid or about to be).
HOLDING: frozenset[str] = frozenset({"joined", "paid"})


class GroupLink(BaseModel):
    """What an order knows of its group: which, and the price it sells the offer's SKU at."""

    group_no: str
    sku_id: int
    price_fen: int


class GroupInput(BaseModel):
    group_no: str
    offer_id: int
    sku_id: int
    price_fen: int
    size: int = Field(ge=2)
    time_limit: float  # seconds the group has to fill, from its opening
    opened_by: int  # customer id of the first buyer


class JoinRequest(BaseModel):
    customer_id: int  # the storefront's key, as the member's order names it
    order_no: str
    # The customer record (customers.id), who the member is: two storefronts' customer 7 are two
    # members. None in a join sent before joins named it (compared by the key, as then).
    customer_record_id: int | None = None


class GroupMember(BaseModel):
    customer_id: int
    order_no: str
    customer_record_id: int | None = None
    status: MemberStatus = "joined"
    joined_at: datetime
    paid_at: datetime | None = None  # its order took its payment (kept when the group ends)


class GroupView(BaseModel):
    group_no: str
    offer_id: int
    sku_id: int
    price_fen: int
    size: int
    status: GroupStatus
    opened_by: int
    opened_at: datetime
    deadline: datetime
    finished_at: datetime | None = None
    reason: str = ""
    members: list[GroupMember] = Field(default_factory=list)

    @property
    def holding(self) -> int:
        return sum(1 for m in self.members if m.status in HOLDING)

    @property
    def paid(self) -> int:
        """Members who paid and did not leave (refunded by their orders if the group failed)."""
        return sum(1 for m in self.members if m.paid_at is not None and m.status != "left")


def same_customer(member: GroupMember, request: JoinRequest) -> bool:
    """Whether a join is by a customer already a member: the same customer record; a member or
    a join from before joins named their record is compared by the storefront's key (as then)."""
    if member.customer_record_id is not None and request.customer_record_id is not None:
        return member.customer_record_id == request.customer_record_id
    return member.customer_id == request.customer_id


class MemberPaid(BaseModel):
    """A member's order took its payment (order -> group)."""

    order_no: str


class MemberLeft(BaseModel):
    """A member's order ended before the group (payment deadline, cancel, placement failed)."""

    order_no: str
    reason: str = ""


class GroupDecided(BaseModel):
    """The group's outcome, to each member's order (group -> order)."""

    group_no: str
    outcome: GroupOutcome


class CloseGroup(BaseModel):
    """Operations stopped the offer: a forming group fails now."""

    reason: str


class GroupRecord(BaseModel):
    """The group's view for the projection; `version` orders views written concurrently."""

    view: GroupView
    version: int
