"""Settlement activities: the supplier invoice row with its match, the payable's ledger row,
and the payment through the sandbox bank (idempotent per payable: the transfer key)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from temporalio import activity

from activities.orders import business_error
from activities.providers import PaymentProvider, ProviderError
from core.db import SessionFactory
from models.contracts.purchasing import InvoiceRecord, PaySupplier
from models.db import MoneyEntry, PurchaseOrder, SupplierInvoice


class SettlementActivities:
    def __init__(self, session_factory: SessionFactory, payments: PaymentProvider) -> None:
        self._sessions = session_factory
        self._payments = payments

    @activity.defn
    async def record_invoice(self, record: InvoiceRecord) -> None:
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
        async with self._sessions() as session:
            await session.execute(
                insert(SupplierInvoice)
                .values(po_no=view.po_no, **values)
                .on_conflict_do_update(
                    index_elements=["po_no"],
                    set_=values,
                    where=SupplierInvoice.status != "paid",
                )
            )
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
            await session.commit()

    @activity.defn
    async def pay_supplier(self, request: PaySupplier) -> str:
        """Transfer, then book it: the bank answers a retried key with the same transfer.
        Nothing to pay (credits cover the invoice): settled without a transfer."""
        transfer_id, paid_at = None, activity.info().current_attempt_scheduled_time
        if request.amount_fen > 0:
            try:
                transfer = await self._payments.transfer(
                    transfer_key=request.transfer_key,
                    payee_name=request.payee_name,
                    payee_account=request.payee_account,
                    amount_fen=request.amount_fen,
                    memo=request.memo,
                )
            except ProviderError as exc:
                raise business_error("TransferRefusedError", str(exc)) from exc
            transfer_id, paid_at = transfer.transfer_id, transfer.occurred_at
        async with self._sessions() as session:
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
                update(PurchaseOrder)
                .where(PurchaseOrder.po_no == request.po_no)
                .values(status="settled")
            )
            await session.commit()
        return transfer_id or ""
