"""Payment activities: open a payment with the provider, check a callback against its books,
record what it paid, refund (the bookings are services/payments.py, which also settles the
provider's refund callback if it came before the refund was recorded)."""

from __future__ import annotations

from temporalio import activity

from activities.orders import business_error
from activities.providers import PaymentProvider, ProviderError, ProviderPaymentState
from core.db import SessionFactory
from models.contracts.order import (
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
    Payment,
    Refund,
)
from models.domain.presale import order_of
from models.domain.reconciliation import DifferenceKind
from services import payments
from services.timeline import statements_commit_alone


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
                order_no=request.payment_key or request.order_no,
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
            await payments.payment_difference(session, request.order_no, payment, kind, detail)
            await session.commit()
        return PaymentConfirmation(vouched=False, detail=detail)

    @activity.defn
    async def record_payment(self, request: RecordPaymentRequest) -> None:
        async with self._sessions() as session:
            if payments.payment_one_statement(request):
                await statements_commit_alone(session)
            await payments.record_payment(session, request)
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
            await payments.record_refund(session, request, refunded.refund_id)
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
        or order_of(books.merchant_order_no) != order_no
    ):
        held = f"{books.status}, transaction {books.transaction_id}, {books.paid_fen} fen"
        return "missing_at_provider", f"{claim} is not in the provider's books ({held})"
    if (books.paid_fen, books.currency) != (payment.amount_fen, payment.currency):
        return "amount_mismatch", f"{claim}: the provider's books hold {books.paid_fen} fen"
    return None, ""
