"""Payloads of after-sales (DESIGN §6.3, issue 6): the order's update that opens one, the
AfterSaleWorkflow (`aftersale-AS…`, a child of the order) and its projection."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from models.contracts.order import Actor, PackageLine, PaymentReceived
from models.domain.refunds import RefundQuote, RefundRequestLine

AfterSaleType = Literal["refund_only", "return_and_refund", "exchange"]
AfterSaleStatus = Literal[
    "requested",  # waiting for customer service (SLA: auto-approved)
    "approved",
    "awaiting_return",  # return_and_refund: the customer ships the goods back (deadline)
    "returning",  # shipped back: the warehouse receives and inspects
    "received",
    "refunding",
    "refunded",
    "exchanging",  # the order ships the replacement
    "exchanged",
    "rejected",
    "withdrawn",
    "closed",  # not shipped back in time: nothing refunded
]
OPEN_STATUSES: frozenset[str] = frozenset(
    {
        "requested",
        "approved",
        "awaiting_return",
        "returning",
        "received",
        "refunding",
        "exchanging",
    }
)
# What an open after-sale waits for, for the staff's "stuck" list.
WAITING_FOR: dict[str, str] = {
    "requested": "customer service's decision",
    "approved": "the refund",
    "awaiting_return": "the customer to ship the goods back",
    "returning": "the warehouse to receive and inspect the return",
    "received": "the refund",
    "refunding": "the payment provider's refund (if it refused: staff to retry it)",
    "exchanging": "the replacement package to be released",
}


class AfterSaleRequest(BaseModel):
    """What the storefront asks for, on behalf of its customer (never an amount)."""

    as_no: str
    type: AfterSaleType
    lines: list[RefundRequestLine] = Field(min_length=1)
    reason: str = Field(min_length=1, max_length=500)
    evidence_urls: list[str] = Field(default_factory=list, max_length=9)
    actor: Actor
    # Exchange: the SKU each line is replaced with (another variant of the same product at the
    # same price, checked by the API against the catalog); a line not named gets its own SKU.
    replacements: dict[int, int] = Field(default_factory=dict)


class AfterSaleInput(BaseModel):
    as_no: str
    order_no: str
    type: AfterSaleType
    lines: list[RefundRequestLine]
    reason: str
    evidence_urls: list[str]
    requested_by: Actor
    quote: RefundQuote  # the amounts, fixed when the request was accepted
    payment: PaymentReceived  # a presale's order: its deposit
    # A presale's order whose balance is paid: the balance's payment and the part of the
    # refund that goes on it (the rest goes on `payment`, the deposit), fixed by the order.
    balance: PaymentReceived | None = None
    on_balance_fen: int = 0
    approval_sla: timedelta = timedelta(hours=48)
    return_window: timedelta = timedelta(days=7)  # to ship the goods back once approved
    return_warehouse_id: int | None = None  # where the goods went out and come back
    tracking_poll_interval: timedelta = timedelta(hours=6)  # a silent carrier is polled
    # A refund-only request before shipment: the units were taken out of these packages
    # before they were picked, so it is approved at once (nothing left the warehouse).
    before_shipment: bool = False
    taken_from: list[str] = Field(default_factory=list)
    replacements: dict[int, int] = Field(default_factory=dict)  # exchange: line → SKU
    # The order wrote the first step (requested) before answering: the child starts after it.
    recorded: bool = False


class AfterSaleDecision(BaseModel):
    actor: Actor
    approve: bool
    reason: str = Field(default="", max_length=500)


class RefundRetry(BaseModel):
    """Staff try a refund the provider refused again (after fixing what it refused for)."""

    actor: Actor
    reason: str = Field(default="", max_length=500)


class AfterSaleWithdrawal(BaseModel):
    actor: Actor


class ReturnShipment(BaseModel):
    actor: Actor
    carrier_code: str = Field(min_length=1, max_length=32)
    tracking_no: str = Field(min_length=4, max_length=64)


class FollowReturn(BaseModel):
    """Follow the customer's return parcel at its carrier: pushes to us, else polls."""

    as_no: str
    carrier_code: str
    tracking_no: str


class InspectedLine(BaseModel):
    line_no: int
    sellable: int = Field(ge=0)
    damaged: int = Field(ge=0)


class ReturnInspection(BaseModel):
    """What the warehouse found in the parcel, unit by unit: back on the shelf or damaged."""

    actor: Actor
    lines: list[InspectedLine] = Field(min_length=1)


class ReturnInbound(BaseModel):
    """The stock side of a received return (one activity, idempotent per after-sale)."""

    as_no: str
    order_no: str
    warehouse_id: int
    actor: Actor
    lines: list[tuple[InspectedLine, int]]  # with the SKU of each line


class ExchangeRequested(BaseModel):
    """The child asks its order to ship the replacement units (same warehouse; each line's own
    SKU or the variant it is exchanged for)."""

    as_no: str
    warehouse_id: int
    lines: list[PackageLine]


class ReplacementReady(BaseModel):
    """The order's answer: the replacement package, or None when it cannot be reserved."""

    package_no: str | None


class AfterSaleSettled(BaseModel):
    """The child tells its order how it ended: the units and money it took, if any."""

    as_no: str
    status: AfterSaleStatus
    refunded_fen: int


class AfterSaleStep(BaseModel):
    """A projection write: the after-sale's status and one timeline row of its order."""

    as_no: str
    order_no: str
    status: AfterSaleStatus
    step: str
    seq: int
    at: datetime
    actor: Actor
    detail: dict[str, str | int | bool | None] = Field(default_factory=dict)
    # Only on the first step: what was asked and quoted.
    opened: AfterSaleInput | None = None
    sla_due_at: datetime | None = None
    refund_no: str | None = None
    shipped_back: ReturnShipment | None = None


class AfterSaleView(BaseModel):
    as_no: str
    order_no: str
    type: AfterSaleType
    status: AfterSaleStatus
    refund_fen: int
    sla_due_at: datetime | None
    decided_by: str | None = None
    decision_reason: str | None = None
    # The units it takes (before shipment: what could still be taken out of the packages).
    lines: list[RefundRequestLine] = Field(default_factory=list)
