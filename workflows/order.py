"""OrderWorkflow (`order-SO…`): an order from placement to the end of its after-sale window
(DESIGN §6.1). `place` (Update-with-Start) prices, reserves and records it synchronously; then
the order waits for payment (deadline) and, above the risk threshold, a staff review (SLA); paid
and approved, it ships each package as a child ShipmentWorkflow; delivered, it auto-confirms
receipt after N days, completes, and closes when the after-sale window ends.

The whole state is one `OrderState` (workflows/order_state.py), and only this class changes the
order's status. Parts work on the state and reach the order only through a narrow protocol (a
timeline step, a refund): its packages (workflows/order_fulfilment.py), its after-sales
(workflows/order_after_sales.py), a group-buy member's group (workflows/order_group.py) and a
presale's deposit and balance (workflows/order_presale.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities
    from activities.loyalty import LoyaltyActivities
    from activities.orders import OrderActivities
    from activities.payments import PaymentActivities
    from models.contracts import messages
    from models.contracts.after_sale import (
        AfterSaleRequest,
        AfterSaleSettled,
        AfterSaleView,
        ExchangeRequested,
        RefundRetry,
    )
    from models.contracts.group_buy import GroupDecided
    from models.contracts.order import (
        Actor,
        CancelRequest,
        ConfirmPaymentRequest,
        ConfirmReceipt,
        OpenPaymentRequest,
        OrderInput,
        OrderStatus,
        OrderView,
        PackageView,
        PaymentReceived,
        PaymentRequest,
        PaymentSession,
        PlacedOrder,
        PlaceOrderRequest,
        QuoteRequest,
        RecordOrderRequest,
        RecordPaymentRequest,
        RefundRequest,
        RefundState,
        ReleaseRequest,
        ReserveRequest,
        RiskDecision,
        StatusChange,
        TimelineEntry,
    )
    from models.contracts.presale import PresaleStep, PresaleTerms
    from models.contracts.shipment import UnitsWithdrawn
    from models.contracts.waves import PackageShort
    from workflows.common import FAILED, call, deprecate_patch, patched, refusal
    from workflows.order_after_sales import AfterSales
    from workflows.order_fulfilment import Fulfilment
    from workflows.order_group import GroupBuy
    from workflows.order_presale import Presale
    from workflows.order_state import SYSTEM, Detail, OrderState
    from workflows.visibility import show

# A cancel answers once decided (stock released, status cancelled, refund pending); the refund
# goes on after. Older runs refunded first, then recorded the cancel.
CANCEL_BEFORE_REFUND_PATCH = "cancel-answers-before-refund"
# A receipt confirmed while the view shows every package delivered waits this long for the
# order to hear from the last one (DESIGN §6: what the view shows holds for the next command).
DELIVERED_WAIT = timedelta(seconds=25)  # within the API's wait for an update's answer
OPEN_FOR_CANCEL: frozenset[OrderStatus] = frozenset({"awaiting_payment", "paid", "fulfilling"})
# A payment the order cannot take is refunded only once the provider vouches for it; one it
# does not vouch for is a difference for finance (older runs credited and refunded it at once).
VOUCH_PATCH = "payment-vouched-before-refund"
# A refund the provider refuses waits, visible, for staff to retry it (older runs failed).
REFUSAL_PATCH = "refund-refusal-retryable"
# Points and growth value (DESIGN §6.7): a completed order earns them, a cancelled one gives
# back the points it spent. Older runs did neither.
EARN_POINTS_PATCH = "earn-points-on-completion"
POINTS_BACK_PATCH = "points-back-on-cancel"
# A cancelled order that spent no points gives none back: no activity (older runs asked).
NO_POINTS_NO_ACTIVITY_PATCH = "points-back-only-when-spent"
# A flash sale's order (DESIGN §6.8): priced at the claimed flash price, reserved from the
# campaign's stock, with the shorter flash payment deadline; a quote refused gives the claimed
# units back. Orders without a flash sale never reach the marker.
FLASH_SALE_PATCH = "flash-sale-order"
# The quote names the order's storefront, so points, level and issued coupons are the customer
# record's (api_key_id, customer key) and not every storefront's customer with that key.
QUOTE_STOREFRONT_PATCH = "quote-names-storefront"
# The server counts a timer from the end of the workflow task that starts it; the workflow
# times it from `now` at that task's start. The deadline's timer was started by the placement's
# task, which runs the quote, the reservation and the record as local activities (seconds on a
# loaded machine): it fired that much late. Now a first timer ends DEADLINE_FINISH before the
# deadline (half the window if that is shorter) and the rest is timed from that short task.
# Runs placed before DEADLINE_WRITTEN_PATCH still do. DEADLINE_FINISH was 1 minute; 15 s keeps
# the order in the worker's cache between its two timers (replay does not compare durations).
DEADLINE_PATCH = "deadline-timed-from-a-short-task"
DEADLINE_FINISH = timedelta(seconds=15)
# One timer, timed from when the order was written: record_order answers the worker's clock as
# it wrote the order, the placement task's last step, and that answer is in the history, so
# the timer is planned from about when the task ends and the server starts it. The short task
# before the deadline is gone: with more orders open than the worker caches, that task
# replayed every order once more (a workflow task, a timer and a replay per deadline).
DEADLINE_WRITTEN_PATCH = "deadline-timed-from-the-written-order"


@workflow.defn
class OrderWorkflow:
    @workflow.init
    def __init__(self, input: OrderInput) -> None:
        # Placement arrives as an update with the start: handlers need the state at once.
        self._state = OrderState(input=input)
        self._packages = Fulfilment(self._state, self)
        self._after_sales = AfterSales(self._state, self, self._packages)
        self._group = GroupBuy(self._state, self)
        self._presale = Presale(self._state, self)

    @workflow.run
    async def run(self, input: OrderInput) -> OrderView:
        state = self._state
        show(business_no=input.order_no, status=state.status, escalated=state.escalated)
        await workflow.wait_condition(
            lambda: state.placement is not None or state.rejection is not None,
            timeout=timedelta(minutes=10),
        )
        if state.placement is None:
            return state.view()
        if state.placement.under_review:
            state.sla_watch = asyncio.create_task(self._watch_review_sla())
        if await self._paid_and_approved() and await self._group_formed():
            await self._ship_packages()
        if state.status in ("cancelling", "cancelled"):
            await self._group.leave()
            await self._cancel_order()
        elif state.status == "delivered":
            await self._complete()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return state.view()

    @workflow.query
    def view(self) -> OrderView:
        return self._state.view()

    # --- status and timeline: every change of status is made here ---------------------------

    def _set_status(self, status: OrderStatus) -> None:
        self._state.status = status
        show(status=status)

    def _note(self, step: str, actor: Actor, detail: Detail | None = None) -> None:
        self._state.timeline.append(
            TimelineEntry(at=workflow.now(), step=step, actor=actor, detail=detail or {})
        )

    async def record(
        self,
        step: str,
        *,
        status: OrderStatus | None = None,
        actor: Actor = SYSTEM,
        detail: Detail | None = None,
        refunds: list[RefundState] | None = None,
        presale: PresaleStep | None = None,
    ) -> None:
        """A step on the timeline and the projection (with the status, when it changes), and
        the presale stage it reaches, in the same write."""
        state = self._state
        if status is not None:
            self._set_status(status)
        state.steps += 1
        self._note(step, actor, detail)
        recorded = state.status
        await call(
            OrderActivities.record_status,
            StatusChange(
                order_no=state.input.order_no,
                status=recorded,
                step=step,
                key=f"{state.steps:03d}-{step}",
                seq=state.steps,
                actor=actor,
                detail=detail or {},
                escalated=state.escalated or None,
                at=workflow.now(),
                refunds=refunds or [],
                presale=presale,
            ),
        )
        # What readers of the projection now see: updates answer once this has caught up.
        state.projected = recorded

    # --- placement --------------------------------------------------------------------------

    @workflow.update
    async def place(self, request: PlaceOrderRequest) -> PlacedOrder:
        state = self._state
        async with state.lock:
            if state.placement is not None:
                return state.placement
            if state.rejection is not None:
                raise state.rejection
            try:
                state.placement = await self._price_reserve_record(request)
            except FAILED as exc:
                self._reject(exc)
                raise state.rejection from exc  # type: ignore[misc]
            self._set_status("awaiting_payment")
            self._note("placed", Actor(kind="storefront", name=request.storefront))
            return state.placement

    @place.validator
    def _may_place(self, request: PlaceOrderRequest) -> None:
        if request.order_no != self._state.input.order_no:
            raise ApplicationError("order number mismatch", type="InvalidOrderError")

    async def _price_reserve_record(self, request: PlaceOrderRequest) -> PlacedOrder:
        now = workflow.now()
        flash = request.flash_sale_id is not None and workflow.patched(FLASH_SALE_PATCH)
        flash_sale_id = request.flash_sale_id if flash else None
        terms = await self._presale.join(request)
        try:
            quote = await call(
                OrderActivities.quote_order,
                QuoteRequest(
                    order_no=request.order_no,
                    customer_id=request.customer_id,
                    api_key_id=(request.api_key_id if patched(QUOTE_STOREFRONT_PATCH) else None),
                    lines=request.lines,
                    coupon_code=request.coupon_code,
                    region_code=request.address.region_code,
                    at=now,
                    points=request.points,
                    flash_sale_id=flash_sale_id,
                    group=request.group,
                    presale_id=terms.presale_id if terms else None,
                ),
            )
        except FAILED:
            if flash:  # the units the gate claimed go back to the campaign
                await self._release_failed_placement(request.order_no)
            if terms is not None:  # not an order of the presale after all
                await self._presale.step(terms, "cancelled", 0)
            raise
        timings = self._state.input.timings
        window = timings.flash_payment_window if flash else timings.payment_window
        # Compensation first: whatever fails from here on gives back what was reserved.
        try:
            reservation = await call(
                InventoryActivities.reserve_stock,
                ReserveRequest(
                    order_no=request.order_no,
                    region_code=request.address.region_code,
                    lines=quote.lines,
                    flash_sale_id=flash_sale_id,
                ),
            )
            threshold = self._state.input.policy.risk_review_over_fen
            placed = PlacedOrder(
                order_no=request.order_no,
                status="awaiting_payment",
                quote=quote,
                packages=reservation.packages,
                payment_deadline=now + window,
                under_review=threshold is not None and quote.payable_fen > threshold,
                presale=terms,
            )
            if terms is not None and terms.deposit_fen >= quote.payable_fen:
                raise ApplicationError(
                    "the presale's deposit is not below the order's payable amount",
                    type="InvalidInputError",
                    non_retryable=True,
                )
            self._state.written_at = await call(
                OrderActivities.record_order,
                RecordOrderRequest(
                    order_no=request.order_no,
                    placed=request,
                    quote=quote,
                    packages=placed.packages,
                    payment_deadline=placed.payment_deadline,
                    placed_at=now,
                    under_review=placed.under_review,
                ),
            )
        except FAILED:
            await self._release_failed_placement(request.order_no)
            if terms is not None:
                await self._presale.step(terms, "cancelled", 0)
            raise
        self._state.place_request = request
        return placed

    async def _release_failed_placement(self, order_no: str) -> None:
        """A placement refused after reserving (e.g. recording refused a value) holds no stock.
        Histories from before this step replay without it."""
        deprecate_patch("release-stock-on-failed-placement")  # retired
        await call(
            InventoryActivities.release_stock,
            ReleaseRequest(order_no=order_no, reason="placement failed"),
        )

    def _reject(self, exc: ActivityError | ApplicationError) -> None:
        cause = refusal(exc)
        if cause is not None and cause.non_retryable:
            self._state.rejection = ApplicationError(
                cause.message, *cause.details, type=cause.type, non_retryable=True
            )
        else:
            self._state.rejection = ApplicationError(
                str(exc), type="PlacementFailedError", non_retryable=True
            )
        self._set_status("rejected")

    # --- payment and review -----------------------------------------------------------------

    async def _until_paid(self, settled: Callable[[], bool], left: timedelta) -> None:
        """Wait at most `left` for `settled`; past it the order is cancelled by the system."""
        try:
            await workflow.wait_condition(settled, timeout=max(timedelta(0), left))
        except TimeoutError:
            self._state.cancel = CancelRequest(actor=SYSTEM, reason="payment deadline passed")

    async def _paid_and_approved(self) -> bool:
        state = self._state
        placed = state.placed

        def settled() -> bool:
            return state.payment is not None or state.cancel is not None or self._risk_rejected()

        if state.written_at is not None and patched(DEADLINE_WRITTEN_PATCH):
            written = max(workflow.now(), state.written_at)  # never before the task began
            await self._until_paid(settled, placed.payment_deadline - written)
        else:
            left = placed.payment_deadline - workflow.now()
            near = left > timedelta(0) and patched(DEADLINE_PATCH)
            if near:  # wake close to the deadline, in a task that runs nothing else
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(
                        settled, timeout=left - min(DEADLINE_FINISH, left / 2)
                    )
            if not (near and settled()):
                await self._until_paid(settled, placed.payment_deadline - workflow.now())
        if placed.under_review:
            await workflow.wait_condition(
                lambda: state.decision is not None or state.cancel is not None
            )
        if state.cancel is None and self._risk_rejected():
            assert state.decision is not None
            state.cancel = CancelRequest(
                actor=state.decision.actor, reason=f"risk review: {state.decision.reason}"
            )
        if state.cancel is None and placed.presale is not None:
            await self._presale.await_balance(placed.presale)
        if state.cancel is not None:
            self._set_status("cancelling")
            return False
        return True

    def _risk_rejected(self) -> bool:
        decision = self._state.decision
        return decision is not None and not decision.approve

    async def _watch_review_sla(self) -> None:
        state = self._state
        sla = state.input.timings.risk_review_sla
        try:
            await workflow.wait_condition(
                lambda: state.decision is not None or state.status in ("cancelling", "cancelled"),
                timeout=sla,
            )
        except TimeoutError:
            state.escalated = True
            show(escalated=True)
            await self.record("risk_review_escalated", detail={"sla_s": int(sla.total_seconds())})

    @workflow.update
    async def request_payment(self, request: PaymentRequest) -> PaymentSession:
        placed = self._state.placed
        if placed.presale is not None:
            return await self._presale.open_payment(placed.presale)
        return await call(
            PaymentActivities.open_payment,
            OpenPaymentRequest(
                order_no=placed.order_no,
                amount_fen=placed.quote.payable_fen,
                currency=self._state.input.policy.currency,
            ),
        )

    @request_payment.validator
    def _may_request_payment(self, request: PaymentRequest) -> None:
        state = self._state
        if state.status == "awaiting_payment" and self._presale.balance_due():
            return
        if state.status != "awaiting_payment" or state.payment is not None:
            raise ApplicationError(f"order is {state.status}", type="InvalidStateError")

    @workflow.signal
    async def payment_received(self, payment: PaymentReceived) -> None:
        """From the provider's verified webhook. Duplicates are ignored; a payment the order
        cannot take (cancelled, already paid, wrong amount or currency) is refunded in full."""
        state = self._state
        if payment.transaction_id in state.seen_transactions:
            return
        state.seen_transactions.add(payment.transaction_id)
        async with state.lock:
            accepted = (
                state.payment is None
                and state.status == "awaiting_payment"
                and state.placement is not None
                and payment.amount_fen == self._presale.first_payment_fen()
                and payment.currency == state.input.policy.currency
            )
            if self._presale.balance_due():
                accepted = (
                    payment.amount_fen == self._presale.balance_fen()
                    and payment.currency == state.input.policy.currency
                )
            if not accepted and patched(VOUCH_PATCH):
                # Money the order did not ask for: believed only if the provider holds it.
                confirmation = await call(
                    PaymentActivities.confirm_payment,
                    ConfirmPaymentRequest(order_no=state.input.order_no, payment=payment),
                )
                if not confirmation.vouched:
                    self._note(
                        "payment_difference",
                        Actor(kind="provider", name=payment.provider),
                        {
                            "transaction_id": payment.transaction_id,
                            "amount_fen": payment.amount_fen,
                        },
                    )
                    return
            await call(
                PaymentActivities.record_payment,
                RecordPaymentRequest(
                    order_no=state.input.order_no,
                    payment=payment,
                    accepted=accepted,
                    at=workflow.now(),
                ),
            )
            state.paid_fen += payment.amount_fen
            presale = state.placed.presale
            if accepted and presale is not None and state.payment is None:
                await self._presale.deposit_paid(presale, payment)
            elif accepted:
                await self._paid(payment, presale)
            else:
                await self.refund(
                    payment,
                    payment.amount_fen,
                    f"RF-{payment.transaction_id}",
                    "payment the order could not accept",
                )

    async def _paid(self, payment: PaymentReceived, presale: PresaleTerms | None) -> None:
        """The order is paid: by its one payment, or a presale's by its balance (the deposit
        came first, workflows/order_presale.py)."""
        detail: Detail = {"transaction_id": payment.transaction_id}
        if presale is None:
            self._state.payment = payment
        else:
            self._presale.take_balance(payment)  # before the packages are released
            detail["amount_fen"] = payment.amount_fen
        actor = Actor(kind="provider", name=payment.provider)
        stage = None
        if presale is not None:
            stage = self._presale.stage_with_step(presale, "balance_paid", payment.amount_fen)
        await self.record("paid", status="paid", actor=actor, detail=detail, presale=stage)
        if presale is not None and stage is None:
            await self._presale.step(presale, "balance_paid", payment.amount_fen)

    @workflow.update
    async def review(self, decision: RiskDecision) -> OrderView:
        self._state.decision = decision
        await self.record(
            "risk_approved" if decision.approve else "risk_rejected",
            actor=decision.actor,
            detail={"reason": decision.reason},
        )
        return self._state.view()

    @review.validator
    def _may_review(self, decision: RiskDecision) -> None:
        state = self._state
        placed = state.placement
        if placed is None or not placed.under_review or state.decision is not None:
            raise ApplicationError("no risk review is open on this order", type="InvalidStateError")
        if not decision.approve and not decision.reason.strip():
            raise ApplicationError("a rejection needs a reason", type="InvalidInputError")

    # --- refunds ----------------------------------------------------------------------------

    async def refund(
        self, payment: PaymentReceived, amount_fen: int, refund_no: str, reason: str
    ) -> None:
        """Refund on a payment at the provider (the order's own refunds: cancel, lost or short
        packages, payments it could not take). A presale's order whose balance is paid refunds
        on both of its payments (`Presale.refund_parts`)."""
        for on, amount, number in self._presale.refund_parts(payment, amount_fen, refund_no):
            await self._refund_on(on, amount, number, reason)

    async def _refund_on(
        self, payment: PaymentReceived, amount_fen: int, refund_no: str, reason: str
    ) -> None:
        state = self._state
        request = RefundRequest(
            order_no=state.input.order_no,
            refund_no=refund_no,
            payment_id=payment.payment_id,
            transaction_id=payment.transaction_id,
            amount_fen=amount_fen,
            reason=reason,
        )
        deprecate_patch(REFUSAL_PATCH)  # retired: a refused refund waits for a retry
        await self._refund_until_made(request)
        state.refunded_fen += amount_fen
        if payment is state.payment:
            state.refunded_on_payment += amount_fen
        elif payment is state.balance:
            state.refunded_on_balance += amount_fen
        self._note("refunded", SYSTEM, {"refund_no": refund_no, "amount_fen": amount_fen})

    async def _refund_until_made(self, request: RefundRequest) -> None:
        """Refund at the provider; refused, the refund shows as refused (timeline and order) and
        waits for staff to retry it (`retry_refund`), as often as it takes."""
        owed = self._state.owed
        while True:
            try:
                await call(PaymentActivities.refund_payment, request)
            except FAILED as exc:
                cause = refusal(exc)
                if cause is None or cause.type != "RefundRefusedError":
                    raise
                refused = RefundState(
                    refund_no=request.refund_no,
                    amount_fen=request.amount_fen,
                    status="refused",
                    reason=request.reason[:500],
                    refused_reason=cause.message[:300],
                )
                owed[request.refund_no] = refused
                await self.record(
                    "refund_refused",
                    detail={
                        "refund_no": request.refund_no,
                        "amount_fen": request.amount_fen,
                        "reason": refused.refused_reason,
                    },
                    refunds=[refused],
                )
                await workflow.wait_condition(lambda: owed[request.refund_no].status != "refused")
                continue
            owed.pop(request.refund_no, None)
            return

    @workflow.update
    async def retry_refund(self, retry: RefundRetry) -> OrderView:
        """Staff try the refunds the provider refused again (once what it refused for is fixed)."""
        owed = self._state.owed
        again = [
            refund.model_copy(update={"status": "pending", "refused_reason": None})
            for refund in owed.values()
            if refund.status == "refused"
        ]
        # Shown as pending before the refunds go again: a refund made meanwhile stays made.
        await self.record(
            "refund_retried",
            actor=retry.actor,
            detail={"refunds": len(again), "reason": retry.reason[:200]},
            refunds=again,
        )
        for refund in again:
            owed[refund.refund_no] = refund
        return self._state.view()

    @retry_refund.validator
    def _may_retry_refund(self, retry: RefundRetry) -> None:
        if not any(refund.status == "refused" for refund in self._state.owed.values()):
            raise ApplicationError(
                "no refund of this order is refused by the provider", type="InvalidStateError"
            )

    # --- group buy (DESIGN §6.8, workflows/order_group.py) -------------------------------------

    async def _group_formed(self) -> bool:
        """Paid: a group member ships once its group completes; cancelled meanwhile (the group
        failed or closed, or a cancel came) it does not. Other orders go on at once."""
        if await self._group.formed():
            return True
        self._set_status("cancelling")
        return False

    @workflow.signal(name=messages.GROUP_DECIDED)
    def group_decided(self, decided: GroupDecided) -> None:
        """The group completed (the order ships once paid) or failed (cancel and refund)."""
        self._group.decided(decided)

    # --- packages ---------------------------------------------------------------------------

    async def _ship_packages(self) -> None:
        """Paid and approved: every package ships (workflows/order_fulfilment.py); delivered
        once one reached the customer, else the order is cancelled and refunded."""
        state = self._state
        state.shipping = True
        await self.record(
            "released_to_warehouses",
            status="fulfilling",
            detail={"packages": len(state.placed.packages)},
        )
        if await self._packages.run():
            await self.record("delivered", status="delivered")
            return
        # Nothing reached the customer: the rest of the money (freight included) goes back.
        if state.cancel is None:
            state.cancel = CancelRequest(actor=SYSTEM, reason="nothing was delivered")
        self._set_status("cancelling")

    @workflow.signal(name=messages.PACKAGE_PROGRESS)
    def package_progress(self, view: PackageView) -> None:
        self._state.packages[view.package_no] = view

    @workflow.signal(name=messages.PACKAGE_SHORT)
    def package_short(self, short: PackageShort) -> None:
        """A package's wave did not find some units: backorder or refund them (policy)."""
        self._state.shorts.append(short)

    # --- cancel -----------------------------------------------------------------------------

    @workflow.update
    async def cancel(self, request: CancelRequest) -> OrderView:
        state = self._state
        state.cancel = request
        await workflow.wait_condition(
            lambda: state.projected in ("cancelled", "delivered", "completed", "closed")
        )
        return state.view()

    @cancel.validator
    def _may_cancel(self, request: CancelRequest) -> None:
        state = self._state
        if state.status not in OPEN_FOR_CANCEL or state.cancel is not None:
            raise ApplicationError(f"order is {state.status}", type="InvalidStateError")
        shipped = [p.package_no for p in state.packages_handed_over()]
        if shipped:
            raise ApplicationError(
                f"packages already handed over: {shipped}", type="InvalidStateError"
            )

    async def _cancel_order(self) -> None:
        state = self._state
        assert state.cancel is not None
        await call(
            InventoryActivities.release_stock,
            ReleaseRequest(order_no=state.input.order_no, reason=state.cancel.reason),
        )
        await call(OrderActivities.return_coupon, state.input.order_no)
        if patched(POINTS_BACK_PATCH) and (
            state.placed.quote.points_used > 0 or not patched(NO_POINTS_NO_ACTIVITY_PATCH)
        ):
            await call(LoyaltyActivities.return_points, state.input.order_no)
        # Refunds of after-sales still running (taken out before shipment) come first.
        await workflow.wait_condition(lambda: state.open_after_sales == 0)
        owed = 0
        if state.payment is not None:
            owed = state.payment.amount_fen - state.refunded_on_payment
        if state.placed.presale is not None:
            owed = await self._presale.cancelled(state.placed.presale, owed)
        # Decided: the cancel answers now, its refund shown pending until it is made.
        deprecate_patch(CANCEL_BEFORE_REFUND_PATCH)  # retired
        await self._record_cancelled(owed)
        await self._refund_cancelled(owed)
        # Stay a while to refund payments that arrive after the cancel.
        await workflow.sleep(state.input.timings.late_payment_grace)

    async def _refund_cancelled(self, owed: int) -> None:
        state = self._state
        assert state.cancel is not None
        if state.payment is not None and owed > 0:
            reason = f"order cancelled: {state.cancel.reason}"
            await self.refund(state.payment, owed, f"RF{state.input.order_no[2:]}C", reason)

    async def _record_cancelled(self, owed: int) -> None:
        """The cancelled step, with the refund still owed (`owed` fen) shown pending."""
        state = self._state
        assert state.cancel is not None
        pending: list[RefundState] = []
        if state.payment is not None and owed > 0:
            refund_no = f"RF{state.input.order_no[2:]}C"
            reason = f"order cancelled: {state.cancel.reason}"
            pending = [
                RefundState(refund_no=refund_no, amount_fen=owed, status="pending", reason=reason)
            ]
            state.owed[refund_no] = pending[0]
        await self.record(
            "cancelled",
            status="cancelled",
            actor=state.cancel.actor,
            detail={"reason": state.cancel.reason, **({"refund_fen": owed} if pending else {})},
            refunds=pending,
        )

    # --- completion -------------------------------------------------------------------------

    async def _complete(self) -> None:
        state = self._state
        timings = state.input.timings
        try:
            await workflow.wait_condition(
                lambda: state.confirmed is not None, timeout=timings.auto_confirm_after
            )
            actor = state.confirmed.actor if state.confirmed else SYSTEM
        except TimeoutError:
            actor = Actor(kind="system", name="auto-confirm")
        await self.record("completed", status="completed", actor=actor)
        if patched(EARN_POINTS_PATCH):
            await call(LoyaltyActivities.earn_points, state.input.order_no)
        # A zero window closes at once: the server fires even a 0 s timer only on its next timer
        # sweep (about a second later).
        deprecate_patch("close-at-once")  # retired
        if timings.after_sale_window > timedelta(0):
            await workflow.sleep(timings.after_sale_window)
        await self._after_sales.wait_all()
        await self.record("closed", status="closed")

    @workflow.update
    async def confirm_receipt(self, request: ConfirmReceipt) -> OrderView:
        state = self._state
        if state.status == "fulfilling":  # shown delivered: the last package's word is coming
            await self._delivered_as_shown()
        state.confirmed = request
        await workflow.wait_condition(lambda: state.projected in ("completed", "closed"))
        return state.view()

    @confirm_receipt.validator
    def _may_confirm(self, request: ConfirmReceipt) -> None:
        state = self._state
        if state.confirmed is not None or (
            state.status != "delivered" and not self._shown_delivered(request)
        ):
            raise ApplicationError(f"order is {state.status}", type="InvalidStateError")

    def _shown_delivered(self, request: ConfirmReceipt) -> bool:
        """Fulfilling, but every package still running is delivered as the view shows."""
        state = self._state
        if state.status != "fulfilling" or not state.shipping or state.cancel_requested:
            return False
        shown = set(request.delivered_packages)
        running = set(state.plans) - state.finished
        return bool(shown) and running <= shown and not state.shorts

    async def _delivered_as_shown(self) -> None:
        state = self._state
        try:
            await workflow.wait_condition(
                lambda: state.status != "fulfilling", timeout=DELIVERED_WAIT
            )
        except TimeoutError:
            raise ApplicationError("order is fulfilling", type="InvalidStateError") from None
        if state.status != "delivered":
            raise ApplicationError(f"order is {state.status}", type="InvalidStateError")

    # --- after-sales (workflows/order_after_sales.py) ---------------------------------------

    @workflow.update
    async def request_after_sale(self, request: AfterSaleRequest) -> AfterSaleView:
        return await self._after_sales.open_one(request)

    @request_after_sale.validator
    def _may_request_after_sale(self, request: AfterSaleRequest) -> None:
        self._state.check_after_sale(request)

    @workflow.signal(name=messages.AFTER_SALE_SETTLED)
    def after_sale_settled(self, settled: AfterSaleSettled) -> None:
        self._after_sales.settled(settled)

    @workflow.signal(name=messages.UNITS_WITHDRAWN)
    def units_withdrawn(self, answer: UnitsWithdrawn) -> None:
        """A package's answer to a refund-only after-sale before shipment."""
        self._after_sales.withdrawn(answer)

    @workflow.signal(name=messages.EXCHANGE_REQUESTED)
    def exchange_requested(self, requested: ExchangeRequested) -> None:
        self._after_sales.exchange(requested)
