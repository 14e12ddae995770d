"""Purchase order request and response bodies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from api.pagination import Page
from api.schemas.common import Public, Reason, Strict
from api.schemas.types import Fen, Id, LineNo

Quantity = Annotated[int, Field(gt=0, le=10_000_000)]
Count = Annotated[int, Field(ge=0, le=10_000_000)]
# The stock ledger and batch rows hold 40 characters (location_stocks.batch_no).
BatchNo = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)]


class PoLineIn(Strict):
    sku_id: Id
    warehouse_id: Id
    quantity: Quantity
    unit_price_fen: Fen | None = None  # default: the supply price


class PoCreate(Strict):
    supplier_id: Id
    lines: Annotated[list[PoLineIn], Field(min_length=1, max_length=200)]
    note: Annotated[str, StringConstraints(max_length=500)] = ""
    # When the goods are due (the on-time rate); default: the approval day + the supplier's
    # longest lead time for these SKUs.
    expected_on: date | None = None


class ApproveIn(Strict):
    role: str | None = None  # which required role to approve as; default: the one you hold


class RejectIn(Strict):
    reason: Reason


class ReceiptLineIn(Strict):
    line_no: LineNo
    sku_id: Id
    received: Quantity
    accepted: Count
    rejected: Count = 0
    batch_no: BatchNo = ""
    production_date: date | None = None
    expiry_date: date | None = None


class ReceiptExtraIn(Strict):
    """Goods not on the PO (samples, gifts): received at no cost."""

    sku_id: Id
    quantity: Quantity
    kind: Literal["sample", "gift"] = "sample"
    batch_no: BatchNo = ""
    production_date: date | None = None
    expiry_date: date | None = None


class ReceiptIn(Strict):
    receipt_key: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    warehouse_id: Id
    # Where the accepted units land; omitted: the warehouse's receiving location (then they
    # wait there for putaway, 上架).
    location_id: Id | None = None
    lines: Annotated[list[ReceiptLineIn], Field(max_length=500)] = []
    extras: Annotated[list[ReceiptExtraIn], Field(max_length=100)] = []


class PoLinePublic(Public):
    line_no: int
    sku_id: int
    warehouse_id: int
    quantity: int
    unit_price_fen: int
    received: int
    accepted: int
    rejected: int
    returned: int
    open: int  # ordered − accepted, never below 0: what the supplier still owes


class PoEventPublic(Public):
    at: datetime
    step: str
    actor: str
    detail: dict[str, object]


class PoTotals(Public):
    ordered: int
    received: int
    accepted: int
    rejected: int
    returned: int
    open: int
    extras: int  # units received off the PO (samples, gifts)


class PoPublic(Public):
    po_no: str
    supplier_id: int
    status: str
    amount_fen: int
    note: str
    required_roles: list[str]
    approvals: dict[str, int]
    reminded: bool
    escalated: bool
    close_reason: str | None
    created_at: datetime
    lines: list[PoLinePublic]
    totals: PoTotals
    receipts: list[str]
    timeline: list[PoEventPublic]


class PoSummary(Public):
    po_no: str
    supplier_id: int
    status: str
    amount_fen: int
    escalated: bool
    created_at: datetime


class ReceiptPublic(Public):
    receipt_no: str
    receipt_key: str
    duplicate: bool
    po: PoPublic


PosPublic = Page[PoSummary]


class ReturnLineIn(Strict):
    line_no: LineNo
    quantity: Quantity
    location_id: Id | None = None  # None: units QC rejected at receipt (never on hand)
    batch_no: BatchNo = ""


class ReturnIn(Strict):
    return_key: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    warehouse_id: Id
    reason: Reason
    lines: Annotated[list[ReturnLineIn], Field(min_length=1, max_length=500)]


class ReturnPublic(Public):
    return_no: str
    credit_fen: int
    duplicate: bool
    po: PoPublic


class InvoiceLineIn(Strict):
    line_no: LineNo | None = None  # the PO line billed; None: a charge not on the PO
    sku_id: Id
    quantity: Count
    unit_price_fen: Fen


class InvoiceIn(Strict):
    invoice_no: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                 max_length=64)]  # fmt: skip
    invoice_date: date
    lines: Annotated[list[InvoiceLineIn], Field(min_length=1, max_length=500)]


class InvoiceDecisionIn(Strict):
    approve: bool
    reason: Reason


class InvoicePublic(Public):
    po_no: str
    invoice_no: str
    invoice_date: date
    status: str
    expected_fen: int
    invoiced_fen: int
    credit_fen: int
    payable_fen: int
    discrepancies: list[dict[str, object]]
    due_date: date | None
    decided_by: str | None
    decision_reason: str | None
    transfer_id: str | None
    paid_at: datetime | None


PayablesPublic = Page[InvoicePublic]


class ReorderRuleIn(Strict):
    sku_id: Id
    warehouse_id: Id
    reorder_point: Count
    reorder_level: Count


class ReorderRulePublic(Public):
    sku_id: int
    warehouse_id: int
    reorder_point: int
    reorder_level: int


class LowStockPublic(Public):
    sku_id: int
    warehouse_id: int
    sellable: int
    in_transit: int
    reorder_point: int
    reorder_level: int


class ReplenishedPublic(Public):
    warehouse_id: int
    drafted: list[str]  # PO numbers drafted by this run
