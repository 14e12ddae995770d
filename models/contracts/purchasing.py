"""Payloads of the purchase order process: PurchaseOrderWorkflow's input, updates and view, and
the activities it calls (DESIGN §6.5). The arithmetic lives in models/domain/purchasing.py and
models/domain/settlement.py; these carry its inputs and results."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from models.contracts.order import Actor
from models.domain.purchasing import (
    InTransitChange,
    OverDeliveryTolerance,
    PoFigures,
    PoLine,
    Receipt,
)
from models.domain.settlement import (
    ApprovalPolicy,
    ApprovalTier,
    InvoiceLine,
    MatchResult,
    MatchTolerance,
)

PoStatus = Literal[
    "draft",
    "pending_approval",
    "rejected",
    "cancelled",
    "approved",
    "sent",
    "receiving",
    "closed",
    "settled",
]
CloseReason = Literal["fully_received", "closed_short", "auto_closed"]
OPEN_FOR_RECEIPTS: tuple[PoStatus, ...] = ("sent", "receiving")


class PoTimings(BaseModel):
    """Durations of the purchase rules, from configuration (DESIGN §4)."""

    approval_sla: timedelta = timedelta(hours=24)  # then a reminder; a second SLA: escalation
    auto_close_after: timedelta = timedelta(days=14)  # after the last receipt


def default_approval_policy(two_level_from_fen: int = 5_000_000) -> ApprovalPolicy:
    """One approver (purchasing manager) below the threshold; manager and finance from it."""
    return ApprovalPolicy(
        tiers=(
            ApprovalTier(min_amount_fen=0, roles=frozenset({"purchasing_manager"})),
            ApprovalTier(
                min_amount_fen=two_level_from_fen,
                roles=frozenset({"purchasing_manager", "finance"}),
            ),
        )
    )


class PoPolicy(BaseModel):
    approval: ApprovalPolicy = Field(default_factory=default_approval_policy)
    over_delivery: OverDeliveryTolerance = OverDeliveryTolerance(percent=5)


class Staff(BaseModel):
    """A person acting on a PO: the audit actor plus what the approval rules need."""

    actor: Actor
    user_id: int
    roles: frozenset[str]


class PurchaseOrderInput(BaseModel):
    po_no: str
    supplier_id: int
    created_by: Staff
    lines: list[PoLine]
    timings: PoTimings = Field(default_factory=PoTimings)
    policy: PoPolicy = Field(default_factory=PoPolicy)
    note: str = ""


class Decision(BaseModel):
    by: Staff
    role: str = ""  # approve: the role approved as (one of the required ones the user holds)
    reason: str = ""


class ReceiveRequest(BaseModel):
    """One delivery: `receipt_key` makes a retried request the same receipt."""

    receipt_key: Annotated[str, Field(min_length=1, max_length=64)]
    warehouse_id: int
    location_id: int  # putaway location for the accepted units
    receipt: Receipt
    actor: Actor


class ReceiptResult(BaseModel):
    receipt_no: str
    receipt_key: str
    figures: PoFigures
    duplicate: bool = False


class CloseRequest(BaseModel):
    by: Staff
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class PoEvent(BaseModel):
    step: str
    actor: Actor
    at: datetime
    detail: dict[str, str | int | bool | None] = Field(default_factory=dict)


class PoView(BaseModel):
    po_no: str
    supplier_id: int
    status: PoStatus
    amount_fen: int
    required_roles: list[str]
    approvals: dict[str, int]  # role → user id
    reminded: bool
    escalated: bool
    figures: PoFigures
    close_reason: CloseReason | None
    receipts: list[str]


# --- activities ------------------------------------------------------------------------------


class PoStep(BaseModel):
    """A projection write: the PO row's status and figures, plus one timeline event."""

    po_no: str
    status: PoStatus
    seq: int
    step: str
    actor: Actor
    at: datetime
    detail: dict[str, str | int | bool | None] = Field(default_factory=dict)
    view: PoView


class InTransitRequest(BaseModel):
    po_no: str
    key: str  # idempotency: one ledger row per (key, line)
    changes: list[InTransitChange]
    raise_: bool  # True: sent (in_transit up); False: received or closed (down)
    actor: str


class SendPo(BaseModel):
    po_no: str
    supplier_id: int
    lines: list[PoLine]


class ReceiveGoodsRequest(BaseModel):
    po_no: str
    receipt_no: str
    request: ReceiveRequest
    lines: list[PoLine]
    in_transit_removed: list[InTransitChange]


class ReceiptBooking(BaseModel):
    """A receipt's goods and the PO step that records it, booked in one transaction (one local
    activity, receive_and_record, instead of receive_goods then record_po_step)."""

    goods: ReceiveGoodsRequest
    step: PoStep


# --- settlement (SettlementWorkflow, settle-PO…) --------------------------------------------


class SettlementInput(BaseModel):
    po_no: str
    supplier_code: str
    supplier_name: str
    payment_terms_days: int
    lines: list[PoLine]
    figures: PoFigures  # at invoicing: received, accepted and returned so far
    invoice_no: str
    invoice_date: date
    invoice: list[InvoiceLine]
    tolerance: MatchTolerance = MatchTolerance(fen=100, basis_points=50)
    by: Actor


InvoiceStatus = Literal["mismatch", "payable", "rejected", "paid"]


class InvoiceDecision(BaseModel):
    by: Staff
    approve: bool
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class SettlementView(BaseModel):
    po_no: str
    invoice_no: str
    status: InvoiceStatus
    match: MatchResult
    due_date: date | None
    transfer_id: str | None


class InvoiceRecord(BaseModel):
    """The supplier_invoices row as the settlement stands (and, once payable, its ledger row)."""

    view: SettlementView
    invoice_date: date
    decided_by: str | None = None
    decision_reason: str | None = None


class PaySupplier(BaseModel):
    po_no: str
    transfer_key: str
    payee_name: str
    payee_account: str
    amount_fen: int
    memo: str


# --- replenishment (ReplenishmentWorkflow, per warehouse on a Schedule) ---------------------


class ReplenishInput(BaseModel):
    warehouse_id: int
    po_timings: PoTimings = Field(default_factory=PoTimings)
    po_policy: PoPolicy = Field(default_factory=PoPolicy)


class DraftLine(BaseModel):
    sku_id: int
    quantity: int
    unit_price_fen: int


class Draft(BaseModel):
    """What one supplier should be asked for, for one warehouse."""

    supplier_id: int
    lines: list[DraftLine]


class DraftRequest(BaseModel):
    warehouse_id: int
    draft: Draft
    source_key: str  # the run and supplier: a retried activity finds its PO


class Drafted(BaseModel):
    po_no: str
    lines: list[PoLine]
    created: bool
