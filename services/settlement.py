"""Supplier settlement on the database side (DESIGN §6.5): the invoice row with its three-way
match, the payable's ledger row, and the booking of a payment. In the caller's transaction;
each write is keyed, so a retried booking writes nothing twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.contracts.purchasing import InvoiceRecord, PaySupplier
from models.db import MoneyEntry, PurchaseOrder, SupplierInvoice
from models.domain.notifications import yuan
from services import notifications
from services.notifications import Notice


async def record_invoice(session: AsyncSession, record: InvoiceRecord) -> None:
    """The invoice as the settlement sees it (never once paid); a payable one owes its amount."""
    view = record.view
    match = view.match
    values = {
        "invoice_no": view.invoice_no,
        "invoice_date": record.invoice_date,
        "status": view.status,
        "expected_fen": match.expected_fen,
        "invoiced_fen": match.invoiced_fen,
        "credit_fen": match.credit_fen,
        "payable_fen": match.payable_fen,
        "discrepancies": [d.model_dump(mode="json") for d in match.discrepancies],
        "due_date": view.due_date,
        "decided_by": record.decided_by,
        "decision_reason": record.decision_reason,
    }
    await session.execute(
        insert(SupplierInvoice)
        .values(po_no=view.po_no, **values)
        .on_conflict_do_update(
            index_elements=["po_no"],
            set_=values,
            where=SupplierInvoice.status != "paid",
        )
    )
    if view.status == "mismatch":  # finance decides (DESIGN §6.5, §6.10)
        await notifications.raise_notice(
            session,
            Notice(
                kind="invoice_mismatch",
                ref=view.invoice_no,
                step=view.po_no,
                detail=f"{view.po_no}: {yuan(match.invoiced_fen)} / {yuan(match.expected_fen)}",
                amount_fen=match.invoiced_fen - match.expected_fen,
            ),
        )
    else:
        await notifications.resolve(session, "invoice_mismatch", view.invoice_no)
    if view.status == "payable":  # what we owe: the invoice (credits are their own rows)
        await session.execute(
            insert(MoneyEntry)
            .values(
                po_no=view.po_no,
                entry_type="supplier_invoice",
                amount_fen=match.invoiced_fen,
                ref_no=f"{view.po_no}:{view.invoice_no}"[:64],
            )
            .on_conflict_do_nothing(index_elements=["entry_type", "ref_no"])
        )


async def book_payment(
    session: AsyncSession, request: PaySupplier, *, transfer_id: str | None, paid_at: datetime
) -> None:
    """The payment's ledger row (once per transfer key), the invoice paid, the PO settled.
    No transfer id: nothing was transferred (credits covered the invoice)."""
    await session.execute(
        insert(MoneyEntry)
        .values(
            po_no=request.po_no,
            entry_type="supplier_payment",
            amount_fen=-request.amount_fen,
            ref_no=request.transfer_key,
        )
        .on_conflict_do_nothing(index_elements=["entry_type", "ref_no"])
    )
    await session.execute(
        update(SupplierInvoice)
        .where(SupplierInvoice.po_no == request.po_no)
        .values(status="paid", transfer_id=transfer_id, paid_at=paid_at)
    )
    await session.execute(
        update(PurchaseOrder).where(PurchaseOrder.po_no == request.po_no).values(status="settled")
    )
