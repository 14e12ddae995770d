"""Settlement activities: the supplier invoice row with its match, the payable's ledger row
(services/settlement.py), and the payment through the sandbox bank (idempotent per payable:
the transfer key)."""

from __future__ import annotations

from temporalio import activity

from activities.orders import business_error
from activities.providers import PaymentProvider, ProviderError
from core.db import SessionFactory
from models.contracts.purchasing import InvoiceRecord, PaySupplier
from services import settlement


class SettlementActivities:
    def __init__(self, session_factory: SessionFactory, payments: PaymentProvider) -> None:
        self._sessions = session_factory
        self._payments = payments

    @activity.defn
    async def record_invoice(self, record: InvoiceRecord) -> None:
        async with self._sessions() as session:
            await settlement.record_invoice(session, record)
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
            await settlement.book_payment(
                session, request, transfer_id=transfer_id, paid_at=paid_at
            )
            await session.commit()
        return transfer_id or ""
