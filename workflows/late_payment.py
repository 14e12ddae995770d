"""LatePaymentRefundWorkflow (`late-payment-<transaction id>`): a payment whose order's process
has already ended (closed, or cancelled and past its grace period) is refunded by a process of
its own (DESIGN §6.1: a payment after cancellation is refunded automatically).

The id comes from the provider's transaction, so a repeated callback never starts a second one.
Like the order's own refund of a payment it cannot take: confirmed with the provider first (one
it does not hold is a difference for finance, nothing to refund), booked (payment row not
accepted, + ledger row), refunded under the same refund number the order would use (`RF-<tx>`,
idempotent at the provider and in the ledger), shown on the order while pending, and, refused by
the provider, shown refused until staff retry it."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.orders import OrderActivities
    from activities.payments import PaymentActivities
    from models.contracts.after_sale import RefundRetry
    from models.contracts.order import (
        Actor,
        ConfirmPaymentRequest,
        LatePaymentInput,
        LatePaymentView,
        RecordPaymentRequest,
        RefundRequest,
        RefundState,
        StatusChange,
    )
    from workflows.common import FAILED, call, refusal
    from workflows.visibility import show

SYSTEM = Actor(kind="system", name="late-payment")


def late_payment_id(transaction_id: str) -> str:
    return f"late-payment-{transaction_id}"


REASON = "payment after the order had ended"


@dataclass
class LatePaymentState:
    """The late payment's state: its view (status, refused reason: what the query answers) and
    the steps written to the order's timeline."""

    view: LatePaymentView
    steps: int = 0


@workflow.defn
class LatePaymentRefundWorkflow:
    @workflow.init
    def __init__(self, input: LatePaymentInput) -> None:
        self._in = input
        self._state = LatePaymentState(
            view=LatePaymentView(
                order_no=input.order_no,
                transaction_id=input.payment.transaction_id,
                refund_no=f"RF-{input.payment.transaction_id}",
                amount_fen=input.payment.amount_fen,
                status="confirming",
            )
        )

    @workflow.run
    async def run(self, input: LatePaymentInput) -> LatePaymentView:
        view = self._state.view
        show(business_no=input.order_no, status=view.status)
        confirmed = await call(
            PaymentActivities.confirm_payment,
            ConfirmPaymentRequest(order_no=input.order_no, payment=input.payment),
        )
        if confirmed.recorded:  # a copy of a payment's callback we took before: done
            view.status = "duplicate"
            show(status=view.status)
            return view
        if not confirmed.vouched:
            view.status = "difference"
            show(status=view.status)
            return view
        await call(
            PaymentActivities.record_payment,
            RecordPaymentRequest(
                order_no=input.order_no, payment=input.payment, accepted=False, at=workflow.now()
            ),
        )
        await self._show("late_payment_refund", "pending")
        await self._refund()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return view

    @workflow.query
    def view(self) -> LatePaymentView:
        return self._state.view

    async def _refund(self) -> None:
        view = self._state.view
        payment = self._in.payment
        request = RefundRequest(
            order_no=self._in.order_no,
            refund_no=view.refund_no,
            payment_id=payment.payment_id,
            transaction_id=payment.transaction_id,
            amount_fen=payment.amount_fen,
            reason=REASON,
        )
        while True:
            view.status = "refunding"
            show(status=view.status)
            try:
                await call(PaymentActivities.refund_payment, request)
            except FAILED as exc:
                cause = refusal(exc)
                if cause is None or cause.type != "RefundRefusedError":
                    raise
                view.status = "refused"
                show(status=view.status)
                view.refused_reason = cause.message[:300]
                await self._show("refund_refused", "refused")
                await workflow.wait_condition(lambda: view.status != "refused")
                continue
            view.status = "refunded"
            show(status=view.status)
            return

    @workflow.update
    async def retry_refund(self, retry: RefundRetry) -> LatePaymentView:
        """Staff try the refund the provider refused again."""
        view = self._state.view
        await self._show("refund_retried", "pending", actor=retry.actor, why=retry.reason)
        view.status = "refunding"
        show(status=view.status)
        view.refused_reason = None
        return view

    @retry_refund.validator
    def _may_retry_refund(self, retry: RefundRetry) -> None:
        if self._state.view.status != "refused":
            raise ApplicationError(
                f"the late payment's refund is {self._state.view.status}", type="InvalidStateError"
            )

    async def _show(
        self,
        step: str,
        state: str,
        *,
        actor: Actor = SYSTEM,
        why: str = "",
    ) -> None:
        """A step on the order's timeline with the refund as the order shows it. Its status is
        left as it is (seq 0 never moves it): the order's own process has ended."""
        self._state.steps += 1
        view = self._state.view
        owed = RefundState(
            refund_no=view.refund_no,
            amount_fen=view.amount_fen,
            status="refused" if state == "refused" else "pending",
            reason=REASON,
            refused_reason=view.refused_reason if state == "refused" else None,
        )
        detail: dict[str, str | int | bool | None] = {
            "transaction_id": view.transaction_id,
            "refund_no": view.refund_no,
            "amount_fen": view.amount_fen,
        }
        if state == "refused":
            detail["reason"] = view.refused_reason
        elif why:
            detail["reason"] = why[:200]
        await call(
            OrderActivities.record_status,
            StatusChange(
                order_no=view.order_no,
                status="closed",  # not applied: seq 0
                step=step,
                key=f"late-{view.transaction_id}-{self._state.steps:02d}-{step}",
                seq=0,
                actor=actor,
                detail=detail,
                at=workflow.now(),
                refunds=[owed],
            ),
        )
