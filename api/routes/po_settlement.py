"""Purchase returns and settlement routes: the warehouse sends goods back (a credit against the
supplier), finance books the supplier's invoice on a closed PO (three-way match, a mismatch
needs finance's decision) and lists payables by due date. Payment is SettlementWorkflow's."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, Query
from sqlalchemy import select
from temporalio.client import WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from api.deps import Deps, Principal, Session, Writer, actor_of, require, writer
from api.errors import Problem, conflict, invalid, not_found, refused
from api.pagination import Paging, fetch_page
from api.routes.purchase_orders import po_public, staff_of
from api.routing import Routes
from api.schemas.common import Public
from api.schemas.purchasing import (
    InvoiceDecisionIn,
    InvoiceIn,
    InvoicePublic,
    PayablesPublic,
    ReturnIn,
    ReturnPublic,
)
from api.schemas.types import NoParam, TextParam
from api.workflow_calls import SETTLEMENT, answer, resent_if_lost, update
from models.contracts.purchasing import InvoiceDecision, SettlementInput
from models.db import (
    MoneyEntry,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseReceipt,
    PurchaseReceiptLine,
    PurchaseReturn,
    PurchaseReturnLine,
    Supplier,
    SupplierInvoice,
)
from models.domain.purchasing import LineFigures, PoFigures, PoLine
from models.domain.settlement import InvoiceLine
from services.purchase_returns import ReturnLine, book_return
from services.stock_ledger import StockError
from workflows.settlement import SettlementWorkflow

router = Routes(tags=["purchasing"])


@router.post("/v1/purchase-orders/{po_no}/returns", status_code=201)
async def return_goods(
    po_no: NoParam, body: ReturnIn, w: Annotated[Writer, Depends(writer("purchase.receive"))]
) -> ReturnPublic:
    if not w.principal.can_see_warehouse(body.warehouse_id):
        raise Problem(
            403, "devices return only from their own warehouse", type_="/problems/forbidden"
        )
    try:
        booked = await book_return(
            w.session,
            po_no=po_no,
            return_key=body.return_key,
            warehouse_id=body.warehouse_id,
            lines=[ReturnLine(**line.model_dump()) for line in body.lines],
            reason=body.reason,
            actor=w.actor,
        )
    except StockError as exc:
        await w.session.rollback()
        if exc.field == "po_no":
            raise not_found("purchase order", po_no) from exc
        raise refused(exc) from exc
    await w.commit("purchase_order.return", "purchase_order", po_no,
                   {"return_no": booked.return_no, "credit_fen": booked.credit_fen})  # fmt: skip
    return ReturnPublic(
        return_no=booked.return_no,
        credit_fen=booked.credit_fen,
        duplicate=booked.duplicate,
        po=await po_public(w.session, po_no),
    )


async def _settlement_input(w: Writer, po_no: str, body: InvoiceIn) -> SettlementInput:
    po = await w.session.get(PurchaseOrder, po_no)
    if po is None:
        raise not_found("purchase order", po_no)
    if po.status != "closed":
        raise conflict(
            f"purchase order {po_no} is {po.status}: invoices follow closing",
            reason="po_not_closed",
            po_no=po_no,
        )
    if await w.session.get(SupplierInvoice, po_no) is not None:
        raise conflict(
            f"purchase order {po_no} already has an invoice", reason="invoice_exists", po_no=po_no
        )
    supplier = await w.session.get(Supplier, po.supplier_id)
    assert supplier is not None
    rows = (
        await w.session.scalars(
            select(PurchaseOrderLine)
            .where(PurchaseOrderLine.po_no == po_no)
            .order_by(PurchaseOrderLine.line_no)
        )
    ).all()
    ids = ("line_no", "sku_id", "warehouse_id")
    figures = PoFigures(
        lines=tuple(
            LineFigures(
                **{k: getattr(r, k) for k in (*ids, "received", "accepted", "rejected")},
                ordered=r.quantity,
                returned=r.returned,
            )
            for r in rows
        )
    )
    lines = [
        PoLine(**{k: getattr(r, k) for k in (*ids, "quantity", "unit_price_fen")}) for r in rows
    ]
    return SettlementInput(
        po_no=po_no,
        supplier_code=supplier.code,
        supplier_name=supplier.name,
        payment_terms_days=supplier.payment_terms_days,
        lines=lines,
        figures=figures,
        invoice_no=body.invoice_no,
        invoice_date=body.invoice_date,
        invoice=[InvoiceLine(**line.model_dump()) for line in body.lines],
        by=actor_of(w.principal),
    )


async def invoice_public(
    session: Session, po_no: str, invoice_no: str | None = None
) -> InvoicePublic:
    """The PO's invoice (one per PO), checked against `invoice_no` when given."""
    row = await session.get(SupplierInvoice, po_no, populate_existing=True)
    if row is None or (invoice_no is not None and row.invoice_no != invoice_no):
        raise not_found("invoice", f"{po_no}/{invoice_no or ''}")
    return InvoicePublic.model_validate(row)


@router.post("/v1/purchase-orders/{po_no}/invoices", status_code=201)
async def book_invoice(
    po_no: NoParam,
    body: InvoiceIn,
    deps: Deps,
    w: Annotated[Writer, Depends(writer("purchase.settle"))],
) -> InvoicePublic:
    settlement = await _settlement_input(w, po_no, body)
    await w.session.commit()  # never hold a connection while waiting for the workflow
    opening = str(uuid.uuid4())  # one update id for every resend

    def send() -> Awaitable[object]:
        start = WithStartWorkflowOperation(  # an operation is used once: a resend makes its own
            SettlementWorkflow.run,
            settlement,
            id=f"settle-{po_no}",
            task_queue=deps.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        return deps.require_temporal().execute_update_with_start_workflow(
            SettlementWorkflow.opened, start_workflow_operation=start, id=opening
        )

    await answer(resent_if_lost(send), kind="purchase order", ident=po_no)
    await w.commit("purchase_order.invoice", "purchase_order", po_no,
                   {"invoice_no": body.invoice_no})  # fmt: skip
    return await invoice_public(w.session, po_no)


@router.post("/v1/purchase-orders/{po_no}/invoices/{invoice_no}/decision")
async def decide_invoice(
    po_no: NoParam,
    invoice_no: NoParam,
    body: InvoiceDecisionIn,
    deps: Deps,
    w: Annotated[Writer, Depends(writer("purchase.settle"))],
) -> InvoicePublic:
    await invoice_public(w.session, po_no, invoice_no)
    await w.session.commit()
    decision = InvoiceDecision(by=staff_of(w.principal), approve=body.approve, reason=body.reason)
    await update(deps, SETTLEMENT, po_no, SettlementWorkflow.decide, decision)
    await w.commit("purchase_order.invoice_decision", "purchase_order", po_no, body.model_dump())
    return await invoice_public(w.session, po_no)


@router.get("/v1/purchase-orders/{po_no}/invoices")
async def list_invoices(
    po_no: NoParam,
    session: Session,
    _: Annotated[Principal, Depends(require("purchase.read"))],
) -> list[InvoicePublic]:
    row = await session.get(SupplierInvoice, po_no)
    return [InvoicePublic.model_validate(row)] if row is not None else []


@router.get("/v1/purchase-orders/{po_no}/invoices/{invoice_no}")
async def get_invoice(
    po_no: NoParam,
    invoice_no: NoParam,
    session: Session,
    _: Annotated[Principal, Depends(require("purchase.read"))],
) -> InvoicePublic:
    return await invoice_public(session, po_no, invoice_no)


@router.get("/v1/payables")
async def list_payables(
    session: Session,
    _: Annotated[Principal, Depends(require("purchase.settle"))],
    paging: Paging,
    status: Annotated[TextParam | None, Query(max_length=12)] = None,
    due_before: date | None = None,
) -> PayablesPublic:
    """Supplier invoices by due date (earliest first), for finance."""
    query = select(SupplierInvoice).order_by(
        SupplierInvoice.due_date.asc().nulls_last(), SupplierInvoice.po_no
    )
    if status is not None:
        query = query.where(SupplierInvoice.status == status)
    if due_before is not None:
        query = query.where(SupplierInvoice.due_date < due_before)
    rows, count = await fetch_page(session, query, paging)
    return PayablesPublic(data=[InvoicePublic.model_validate(r) for r in rows], count=count)


class LedgerEntryPublic(Public):
    id: int
    entry_type: str
    amount_fen: int
    ref_no: str
    created_at: datetime


class LedgerPublic(Public):
    order_no: str | None
    po_no: str | None
    entries: list[LedgerEntryPublic]  # oldest first
    balance_fen: int  # an order: paid − refunded; a PO: what is still owed to the supplier


@router.get("/v1/ledger")
async def money_ledger(
    session: Session,
    _: Annotated[Principal, Depends(require("finance.read"))],
    order_no: NoParam | None = None,
    po_no: NoParam | None = None,
) -> LedgerPublic:
    """The money ledger of one order or one purchase order (DESIGN §6.6)."""
    if (order_no is None) == (po_no is None):
        raise invalid("order_no", "give exactly one of order_no and po_no", "order_or_po")
    column = MoneyEntry.order_no if order_no is not None else MoneyEntry.po_no
    rows = (
        await session.scalars(
            select(MoneyEntry)
            .where(column == (order_no or po_no))
            .order_by(MoneyEntry.created_at, MoneyEntry.id)
        )
    ).all()
    return LedgerPublic(
        order_no=order_no,
        po_no=po_no,
        entries=[LedgerEntryPublic.model_validate(r) for r in rows],
        balance_fen=sum(r.amount_fen for r in rows),
    )


class ReceiptLineShown(Public):
    line_no: int | None  # None: goods not on the PO (samples, gifts)
    sku_id: int
    received: int
    accepted: int
    rejected: int
    kind: str
    batch_no: str
    production_date: date | None
    expiry_date: date | None


class ReceiptShown(Public):
    receipt_no: str
    warehouse_id: int
    location_id: int
    actor: str
    received_at: datetime
    lines: list[ReceiptLineShown]


class ReturnLineShown(Public):
    line_no: int
    sku_id: int
    quantity: int
    location_id: int | None
    batch_no: str


class ReturnShown(Public):
    return_no: str
    warehouse_id: int
    reason: str
    credit_fen: int
    actor: str
    created_at: datetime
    lines: list[ReturnLineShown]


PoReader = Annotated[Principal, Depends(require("purchase.read"))]


@router.get("/v1/purchase-orders/{po_no}/receipts")
async def list_receipts(po_no: NoParam, session: Session, _: PoReader) -> list[ReceiptShown]:
    """The PO's receipts with their lines (batch, QC result), oldest first."""
    if await session.get(PurchaseOrder, po_no) is None:
        raise not_found("purchase order", po_no)
    receipts = (
        await session.scalars(
            select(PurchaseReceipt)
            .where(PurchaseReceipt.po_no == po_no)
            .order_by(PurchaseReceipt.received_at, PurchaseReceipt.receipt_no)
        )
    ).all()
    lines = (
        await session.scalars(
            select(PurchaseReceiptLine)
            .where(PurchaseReceiptLine.receipt_no.in_([r.receipt_no for r in receipts]))
            .order_by(PurchaseReceiptLine.id)
        )
    ).all()
    return [
        ReceiptShown(
            receipt_no=r.receipt_no,
            warehouse_id=r.warehouse_id,
            location_id=r.location_id,
            actor=r.actor,
            received_at=r.received_at,
            lines=[
                ReceiptLineShown.model_validate(ln) for ln in lines if ln.receipt_no == r.receipt_no
            ],
        )
        for r in receipts
    ]


@router.get("/v1/purchase-orders/{po_no}/returns")
async def list_returns(po_no: NoParam, session: Session, _: PoReader) -> list[ReturnShown]:
    """The goods sent back to the supplier from this PO, with the credit each earned."""
    if await session.get(PurchaseOrder, po_no) is None:
        raise not_found("purchase order", po_no)
    returns = (
        await session.scalars(
            select(PurchaseReturn)
            .where(PurchaseReturn.po_no == po_no)
            .order_by(PurchaseReturn.created_at, PurchaseReturn.return_no)
        )
    ).all()
    lines = (
        await session.scalars(
            select(PurchaseReturnLine)
            .where(PurchaseReturnLine.return_no.in_([r.return_no for r in returns]))
            .order_by(PurchaseReturnLine.id)
        )
    ).all()
    return [
        ReturnShown(
            return_no=r.return_no,
            warehouse_id=r.warehouse_id,
            reason=r.reason,
            credit_fen=r.credit_fen,
            actor=r.actor,
            created_at=r.created_at,
            lines=[
                ReturnLineShown.model_validate(ln) for ln in lines if ln.return_no == r.return_no
            ],
        )
        for r in returns
    ]
