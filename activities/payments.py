"""Payment activities: open a payment with the provider, record what it paid, refund (and
settle the provider's refund callback if it came before the refund was recorded).

Money ledger rule: every payment received is a + row, every refund a − row, one row per
document (unique by type and reference), so per order paid − refunded = Σ ledger."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity

from activities.orders import add_event, business_error
from activities.providers import PaymentProvider, ProviderError, ProviderPaymentState
from core.db import SessionFactory
from models.contracts.order import (
    Actor,
    ConfirmPaymentRequest,
    OpenPaymentRequest,
    PaymentConfirmation,
    PaymentReceived,
    PaymentSession,
    RecordPaymentRequest,
    RefundRequest,
    RefundResult,
)
from models.db import (
    MoneyEntry,
    Order,
    OrderRefund,
    Payment,
    ReconciliationDifference,
    Refund,
)
from models.domain.reconciliation import DifferenceKind, business_day
from services.refund_callbacks import settle_pending


class PaymentActivities:
    def __init__(
        self, session_factory: SessionFactory, provider: PaymentProvider, notify_url: str
    ) -> None:
        self._sessions = session_factory
        self._provider = provider
        self._notify_url = notify_url

    @activity.defn
    async def open_payment(self, request: OpenPaymentRequest) -> PaymentSession:
        """Idempotent at the provider: the same order and amount give the same payment."""
        try:
            created = await self._provider.create_payment(
                order_no=request.order_no,
                amount_fen=request.amount_fen,
                currency=request.currency,
                notify_url=self._notify_url,
            )
        except ProviderError as exc:
            raise business_error("PaymentDeclinedError", str(exc)) from exc
        return PaymentSession(
            order_no=request.order_no,
            payment_id=created.payment_id,
            pay_token=created.pay_token,
            amount_fen=created.amount_fen,
            currency=created.currency,
        )

    @activity.defn
    async def confirm_payment(self, request: ConfirmPaymentRequest) -> PaymentConfirmation:
        """Whether the provider's books hold the payment a callback reported (DESIGN §9: a
        webhook is believed only for what the provider vouches for). When they do not, the
        callback is a difference for finance (once per transaction) and a step on the order's
        timeline — never money of the order, so nothing to refund. A transaction already in our
        books is `recorded` (a copy of a callback taken before)."""
        payment = request.payment
        async with self._sessions() as session:
            if await session.get(Payment, payment.transaction_id) is not None:
                return PaymentConfirmation(vouched=True, recorded=True)
        try:
            books: ProviderPaymentState | None = await self._provider.payment(payment.payment_id)
        except ProviderError:
            books = None
        kind, detail = _not_vouched(request.order_no, payment, books)
        if kind is None:
            return PaymentConfirmation(vouched=True)
        async with self._sessions() as session:
            await _payment_difference(session, request.order_no, payment, kind, detail)
            await session.commit()
        return PaymentConfirmation(vouched=False, detail=detail)

    @activity.defn
    async def record_payment(self, request: RecordPaymentRequest) -> None:
        payment = request.payment
        async with self._sessions() as session:
            inserted = await session.scalar(
                insert(Payment)
                .values(
                    transaction_id=payment.transaction_id,
                    provider=payment.provider,
                    payment_id=payment.payment_id,
                    order_no=request.order_no,
                    amount_fen=payment.amount_fen,
                    currency=payment.currency,
                    accepted=request.accepted,
                    paid_at=payment.paid_at,
                )
                .on_conflict_do_nothing()
                .returning(Payment.transaction_id)
            )
            if inserted is not None:
                await _ledger(
                    session, request.order_no, "payment", payment.amount_fen, payment.transaction_id
                )
                await session.execute(
                    update(Order)
                    .where(Order.order_no == request.order_no)
                    .values(paid_fen=Order.paid_fen + payment.amount_fen)
                )
                await add_event(
                    session,
                    order_no=request.order_no,
                    step="payment_received" if request.accepted else "payment_not_accepted",
                    actor=Actor(kind="provider", name=payment.provider),
                    key=f"{request.order_no}:payment:{payment.transaction_id}",
                    detail={
                        "transaction_id": payment.transaction_id,
                        "amount_fen": payment.amount_fen,
                    },
                    at=request.at,
                )
            await session.commit()

    @activity.defn
    async def refund_payment(self, request: RefundRequest) -> RefundResult:
        """Idempotent per refund number, here and at the provider; never more than was paid
        (the provider refuses that, and so does the order's own check below)."""
        async with self._sessions() as session:
            done = await session.get(Refund, request.refund_no)
            if done is not None:
                return RefundResult(
                    refund_no=done.refund_no,
                    amount_fen=done.amount_fen,
                    provider_refund_id=done.provider_refund_id,
                )
        try:
            refunded = await self._provider.refund(
                payment_id=request.payment_id,
                refund_no=request.refund_no,
                amount_fen=request.amount_fen,
                reason=request.reason,
            )
        except ProviderError as exc:
            raise business_error("RefundRefusedError", str(exc)) from exc
        async with self._sessions() as session:
            await _record_refund(session, request, refunded.refund_id)
            await session.commit()
        return RefundResult(
            refund_no=request.refund_no,
            amount_fen=request.amount_fen,
            provider_refund_id=refunded.refund_id,
        )


def _not_vouched(
    order_no: str, payment: PaymentReceived, books: ProviderPaymentState | None
) -> tuple[DifferenceKind | None, str]:
    claim = (
        f"payment callback: transaction {payment.transaction_id} of {payment.amount_fen} fen "
        f"{payment.currency} for {order_no}"
    )
    if books is None:
        return "missing_at_provider", f"{claim}: the provider has no payment {payment.payment_id}"
    if (
        books.status != "succeeded"
        or books.transaction_id != payment.transaction_id
        or books.merchant_order_no != order_no
    ):
        held = f"{books.status}, transaction {books.transaction_id}, {books.paid_fen} fen"
        return "missing_at_provider", f"{claim} is not in the provider's books ({held})"
    if (books.paid_fen, books.currency) != (payment.amount_fen, payment.currency):
        return "amount_mismatch", f"{claim}: the provider's books hold {books.paid_fen} fen"
    return None, ""


async def _payment_difference(
    session: AsyncSession,
    order_no: str,
    payment: PaymentReceived,
    kind: DifferenceKind,
    detail: str,
) -> None:
    await session.execute(
        insert(ReconciliationDifference)
        .values(
            day=business_day(payment.paid_at),
            kind=kind,
            entry_type="payment",
            reference=payment.transaction_id[:64],
            order_no=order_no,
            provider_id=payment.payment_id[:64],
            provider_amount_fen=payment.amount_fen,  # what the callback claimed
            ledger_amount_fen=None,
            occurred_at=payment.paid_at,
            detail=detail[:500],
            resolved=False,
            run_id=None,
        )
        .on_conflict_do_nothing()  # a copy of the callback
    )
    await add_event(
        session,
        order_no=order_no,
        step="payment_difference",
        actor=Actor(kind="provider", name=payment.provider),
        key=f"{order_no}:payment-difference:{payment.transaction_id}",
        detail={
            "transaction_id": payment.transaction_id,
            "amount_fen": payment.amount_fen,
            "kind": kind,
        },
    )


async def _record_refund(session: AsyncSession, request: RefundRequest, refund_id: str) -> None:
    inserted = await session.scalar(
        insert(Refund)
        .values(
            refund_no=request.refund_no,
            order_no=request.order_no,
            transaction_id=request.transaction_id,
            provider_refund_id=refund_id,
            amount_fen=request.amount_fen,
            reason=request.reason[:500],
        )
        .on_conflict_do_nothing()
        .returning(Refund.refund_no)
    )
    if inserted is None:
        return
    await settle_pending(session, request.refund_no)  # its callback may have come first
    await _ledger(session, request.order_no, "refund", -request.amount_fen, request.refund_no)
    await session.execute(  # it was owed (pending or refused): now it is made
        update(OrderRefund).where(OrderRefund.refund_no == request.refund_no).values(status="done")
    )
    await session.execute(
        update(Order)
        .where(Order.order_no == request.order_no)
        .values(refunded_fen=Order.refunded_fen + request.amount_fen)
    )
    await add_event(
        session,
        order_no=request.order_no,
        step="refunded",
        actor=Actor(kind="system", name="refunds"),
        key=f"{request.order_no}:refund:{request.refund_no}",
        detail={
            "refund_no": request.refund_no,
            "amount_fen": request.amount_fen,
            "reason": request.reason[:200],
        },
    )


async def _ledger(
    session: AsyncSession, order_no: str, entry_type: str, amount_fen: int, ref_no: str
) -> None:
    await session.execute(
        insert(MoneyEntry)
        .values(order_no=order_no, entry_type=entry_type, amount_fen=amount_fen, ref_no=ref_no)
        .on_conflict_do_nothing(index_elements=["entry_type", "ref_no"])
    )
