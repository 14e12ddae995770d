"""A presale's order (预售, DESIGN §6.8): priced at the presale price, its first payment is the
deposit; it then waits for the balance window, asks for the balance (payable − deposit) under its
own payment key and ships once that is paid. Unpaid at the window's end (or cancelled) the
deposit is refunded or forfeited per the presale's rules; every stage is reported to the presale
(`record_presale_step`). Once both payments are in, a refund is split across them.

It reads and writes the order's state (`OrderState`: deposit, balance, the window) and asks the
order for timeline steps through `PresaleSteps`; the order's status is the workflow's to change
(the balance paid makes the order `paid` there)."""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.payments import PaymentActivities
    from activities.presales import PresaleActivities
    from models.contracts.order import (
        Actor,
        CancelRequest,
        OpenPaymentRequest,
        PaymentReceived,
        PaymentSession,
        PlaceOrderRequest,
    )
    from models.contracts.presale import JoinPresale, PresaleStage, PresaleStep, PresaleTerms
    from models.domain.presale import balance_key, kept_of_deposit
    from workflows.common import call, patched
    from workflows.order_state import PRESALE_AFTER_SALE_PATCH, SYSTEM, Detail, OrderState

# A presale's order: deposit, balance window, balance or forfeit (see the module's docstring).
# Other orders never reach the marker.
PRESALE_PATCH = "presale-order"

# The deposit and the balance paid: the presale's stage is written with the order's timeline
# step (one statement), not by an activity after it, so that an order shown paid is never
# counted as awaiting by its presale. Runs from before record the stage after the step.
STAGE_WITH_STEP_PATCH = "presale-stage-written-with-its-step"

# A refund on one payment: (the payment, fen, refund number).
RefundPart = tuple[PaymentReceived, int, str]


class PresaleSteps(Protocol):
    """What the presale part asks of the order: a step on its timeline and projection, by the
    order or by whoever acted (the provider that took the deposit)."""

    async def record(
        self,
        step: str,
        *,
        actor: Actor = ...,
        detail: Detail | None = None,
        presale: PresaleStep | None = None,
    ) -> None: ...


class Presale:
    def __init__(self, state: OrderState, steps: PresaleSteps) -> None:
        self._state = state
        self._steps = steps

    async def join(self, request: PlaceOrderRequest) -> PresaleTerms | None:
        """The presale's terms for this order (refused when it takes no deposits now)."""
        if request.presale_id is None or not workflow.patched(PRESALE_PATCH):
            return None
        [line] = request.lines  # the API allows one line, the presale's SKU
        return await call(
            PresaleActivities.join_presale,
            JoinPresale(
                order_no=request.order_no,
                presale_id=request.presale_id,
                sku_id=line.sku_id,
                quantity=line.quantity,
            ),
        )

    def first_payment_fen(self) -> int | None:
        """What the order's first payment must be: a presale's deposit, else the payable."""
        placed = self._state.placement
        if placed is None:
            return None
        return placed.presale.deposit_fen if placed.presale else placed.quote.payable_fen

    def balance_fen(self) -> int:
        placed = self._state.placed
        assert placed.presale is not None
        return placed.quote.payable_fen - placed.presale.deposit_fen

    def balance_due(self) -> bool:
        """The window is open, the deposit paid and the balance not yet."""
        state = self._state
        return state.balance_open and state.balance is None and state.payment is not None

    async def open_payment(self, terms: PresaleTerms) -> PaymentSession:
        """The deposit under the order's number; the balance under its own key (a second
        payment of the same order at the provider)."""
        state = self._state
        balance = self.balance_due()
        return await call(
            PaymentActivities.open_payment,
            OpenPaymentRequest(
                order_no=state.input.order_no,
                amount_fen=self.balance_fen() if balance else terms.deposit_fen,
                currency=state.input.policy.currency,
                payment_key=balance_key(state.input.order_no) if balance else None,
            ),
        )

    async def deposit_paid(self, terms: PresaleTerms, payment: PaymentReceived) -> None:
        """The deposit taken: the order now waits for the balance window."""
        self._state.payment = payment
        stage = self.stage_with_step(terms, "deposit_paid", payment.amount_fen)
        await self._steps.record(
            "deposit_paid",
            actor=Actor(kind="provider", name=payment.provider),
            detail={"transaction_id": payment.transaction_id, "amount_fen": payment.amount_fen},
            presale=stage,
        )
        if stage is None:
            await self.step(terms, "deposit_paid", payment.amount_fen)

    def stage_with_step(
        self, terms: PresaleTerms, stage: PresaleStage, amount_fen: int
    ) -> PresaleStep | None:
        """The stage for the timeline step reaching it to write (STAGE_WITH_STEP_PATCH); None
        in a run from before, which records it by `step` after the timeline step."""
        if not workflow.patched(STAGE_WITH_STEP_PATCH):
            return None
        return self._stage(terms, stage, amount_fen)

    def _stage(self, terms: PresaleTerms, stage: PresaleStage, amount_fen: int) -> PresaleStep:
        return PresaleStep(
            order_no=self._state.input.order_no,
            presale_id=terms.presale_id,
            stage=stage,
            amount_fen=amount_fen,
        )

    def take_balance(self, payment: PaymentReceived) -> None:
        """The balance taken (before the packages are released: call it in the task that
        records the order paid); after-sales refund across both payments from now on."""
        state = self._state
        state.balance = payment
        state.after_sales_across_payments = patched(PRESALE_AFTER_SALE_PATCH)

    async def await_balance(self, terms: PresaleTerms) -> None:
        """Deposit paid: wait for the window to open, ask for the balance, wait for it until
        the window ends; not paid by then, the order is cancelled and its deposit forfeited."""
        state = self._state
        try:  # a timer to the window's start; a cancel before it refunds per the refund rule
            await workflow.wait_condition(
                lambda: state.cancel is not None,
                timeout=max(timedelta(0), terms.balance_starts_at - workflow.now()),
            )
        except TimeoutError:
            state.balance_open = state.cancel is None
        if not state.balance_open:
            return
        await self._steps.record(
            "balance_window_opened",
            detail={
                "balance_fen": self.balance_fen(),
                "ends_at": terms.balance_ends_at.isoformat(),
            },
        )
        try:
            await workflow.wait_condition(
                lambda: state.balance is not None or state.cancel is not None,
                timeout=max(timedelta(0), terms.balance_ends_at - workflow.now()),
            )
        except TimeoutError:
            state.cancel = CancelRequest(actor=SYSTEM, reason="balance not paid in time")

    async def cancelled(self, terms: PresaleTerms, owed: int) -> int:
        """What of the deposit goes back on a cancel: all of it once the balance is paid (the
        balance too, refunded after); else the refund rule before the window opens and the
        forfeit rule after it. The kept part is forfeited income in the money ledger."""
        state = self._state
        if state.payment is None or state.balance is not None:
            await self.step(terms, "cancelled", 0)
            if state.balance is not None:  # both payments back (refunded across them)
                owed += state.balance.amount_fen - state.refunded_on_balance
            return owed
        kept = kept_of_deposit(
            state.payment.amount_fen,
            window_open=state.balance_open,
            forfeit_percent=terms.forfeit_percent,
            refund_percent=terms.refund_percent,
        )
        kept = min(kept, owed)
        await self.step(terms, "forfeited" if kept else "cancelled", kept)
        if kept:
            await self._steps.record("deposit_forfeited", detail={"amount_fen": kept})
        return owed - kept

    def refund_parts(
        self, payment: PaymentReceived, amount_fen: int, refund_no: str
    ) -> list[RefundPart]:
        """Where a refund on `payment` is made. A presale's order whose balance is paid refunds
        on the balance's payment first (`<refund no>-B`), the rest on the deposit's (`<refund
        no>`): neither payment is ever refunded more than it paid. Any other: on `payment`."""
        state = self._state
        if payment is not state.payment or state.balance is None:
            return [(payment, amount_fen, refund_no)]
        on_balance = min(amount_fen, state.balance.amount_fen - state.refunded_on_balance)
        parts: list[RefundPart] = []
        if on_balance > 0:
            parts.append((state.balance, on_balance, f"{refund_no}-B"))
        if amount_fen > on_balance:
            parts.append((payment, amount_fen - on_balance, refund_no))
        return parts

    async def step(self, terms: PresaleTerms, stage: PresaleStage, amount_fen: int) -> None:
        """Tell the presale how far this order got (its counts and the forfeited income)."""
        await call(PresaleActivities.record_presale_step, self._stage(terms, stage, amount_fen))
