"""Payloads of after-sales (DESIGN §6.3, issue 6): the order's update that opens one, the
AfterSaleWorkflow (`aftersale-AS…`, a child of the order) and its projection."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from models.contracts.order import Actor, PaymentReceived
from models.domain.refunds import RefundQuote, RefundRequestLine

AfterSaleType = Literal["refund_only", "return_and_refund", "exchange"]
AfterSaleStatus = Literal[
    "requested",  # waiting for customer service (SLA: auto-approved)
    "approved",
    "refunding",
    "refunded",
    "rejected",
    "withdrawn",
]
OPEN_STATUSES: frozenset[str] = frozenset({"requested", "approved", "refunding"})


class AfterSaleRequest(BaseModel):
    """What the storefront asks for, on behalf of its customer (never an amount)."""

    as_no: str
    type: AfterSaleType
    lines: list[RefundRequestLine] = Field(min_length=1)
    reason: str = Field(min_length=1, max_length=500)
    evidence_urls: list[str] = Field(default_factory=list, max_length=9)
    actor: Actor


class AfterSaleInput(BaseModel):
    as_no: str
    order_no: str
    type: AfterSaleType
    lines: list[RefundRequestLine]
    reason: str
    evidence_urls: list[str]
    requested_by: Actor
    quote: RefundQuote  # the amounts, fixed when the request was accepted
    payment: PaymentReceived
    approval_sla: timedelta = timedelta(hours=48)


class AfterSaleDecision(BaseModel):
    actor: Actor
    approve: bool
    reason: str = Field(default="", max_length=500)


class AfterSaleWithdrawal(BaseModel):
    actor: Actor


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


class AfterSaleView(BaseModel):
    as_no: str
    order_no: str
    type: AfterSaleType
    status: AfterSaleStatus
    refund_fen: int
    sla_due_at: datetime | None
    decided_by: str | None = None
    decision_reason: str | None = None
