"""OrderWorkflow (`order-SO…`): an order from placement to the end of its after-sale window
(DESIGN §6.1). `place` (Update-with-Start) prices, reserves and records it synchronously; then
the order waits for payment (deadline) and, above the risk threshold, a staff review (SLA); paid
and approved, it ships each package as a child ShipmentWorkflow; delivered, it auto-confirms
receipt after N days, completes, and closes when the after-sale window ends."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities
    from activities.orders import OrderActivities
    from models.contracts import messages
    from models.contracts.after_sale import (
        AfterSaleRequest,
        AfterSaleSettled,
        AfterSaleView,
        ExchangeRequested,
    )
    from models.contracts.order import (
        Actor,
        CancelRequest,
        ConfirmReceipt,
        OrderInput,
        OrderStatus,
        OrderView,
        PackageView,
        PlacedOrder,
        PlaceOrderRequest,
        QuoteRequest,
        RecordOrderRequest,
        RefundState,
        ReleaseRequest,
        ReserveRequest,
    )
    from models.contracts.shipment import UnitsWithdrawn
    from models.contracts.waves import PackageShort
    from workflows.common import FAILED, call, refusal
    from workflows.order_after_sales import AfterSales
    from workflows.order_fulfilment import Fulfilment
    from workflows.order_state import SYSTEM, OrderPayments
    from workflows.visibility import show

# A cancel answers once decided (stock released, status cancelled, refund pending); the refund
# goes on after. Older runs refunded first, then recorded the cancel.
CANCEL_BEFORE_REFUND_PATCH = "cancel-answers-before-refund"
# A receipt confirmed while the view shows every package delivered waits this long for the
# order to hear from the last one (DESIGN §6: what the view shows holds for the next command).
DELIVERED_WAIT = timedelta(seconds=25)  # within the API's wait for an update's answer
OPEN_FOR_CANCEL: frozenset[OrderStatus] = frozenset({"awaiting_payment", "paid", "fulfilling"})


@workflow.defn
class OrderWorkflow(OrderPayments):
    @workflow.init
    def __init__(self, input: OrderInput) -> None:
        # Placement arrives as an update with the start: handlers need the input at once.
        self._setup(input)
        self._after_sales = AfterSales(self)
        self.fulfilment: Fulfilment | None = None

    @workflow.run
    async def run(self, input: OrderInput) -> OrderView:
        show(business_no=input.order_no, status=self._status, escalated=self._escalated)
        await workflow.wait_condition(
            lambda: self._placed is not None or self._rejection is not None,
            timeout=timedelta(minutes=10),
        )
        if self._placed is None:
            return self.view()
        if self._placed.under_review:
            self._sla_watch = asyncio.create_task(self._watch_review_sla())
        if await self._paid_and_approved():
            self.fulfilment = Fulfilment(self)
            await self.fulfilment.run()
        if self._status in ("cancelling", "cancelled"):
            await self._cancel_order()
        elif self._status == "delivered":
            await self._complete()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.view()

    # --- placement --------------------------------------------------------------------------

    @workflow.update
    async def place(self, request: PlaceOrderRequest) -> PlacedOrder:
        async with self._lock:
            if self._placed is not None:
                return self._placed
            if self._rejection is not None:
                raise self._rejection
            try:
                self._placed = await self._price_reserve_record(request)
            except FAILED as exc:
                self._reject(exc)
                raise self._rejection from exc  # type: ignore[misc]
            self._status = "awaiting_payment"
            show(status=self._status)
            self._note("placed", Actor(kind="storefront", name=request.storefront))
            return self._placed

    @place.validator
    def _may_place(self, request: PlaceOrderRequest) -> None:
        if request.order_no != self._in.order_no:
            raise ApplicationError("order number mismatch", type="InvalidOrderError")

    async def _price_reserve_record(self, request: PlaceOrderRequest) -> PlacedOrder:
        now = workflow.now()
        quote = await call(
            OrderActivities.quote_order,
            QuoteRequest(
                order_no=request.order_no,
                customer_id=request.customer_id,
                lines=request.lines,
                coupon_code=request.coupon_code,
                region_code=request.address.region_code,
                at=now,
            ),
        )
        # Compensation first: whatever fails from here on gives back what was reserved.
        try:
            reservation = await call(
                InventoryActivities.reserve_stock,
                ReserveRequest(
                    order_no=request.order_no,
                    region_code=request.address.region_code,
                    lines=quote.lines,
                ),
            )
            threshold = self._in.policy.risk_review_over_fen
            placed = PlacedOrder(
                order_no=request.order_no,
                status="awaiting_payment",
                quote=quote,
                packages=reservation.packages,
                payment_deadline=now + self._in.timings.payment_window,
                under_review=threshold is not None and quote.payable_fen > threshold,
            )
            await call(
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
            raise
        self._request = request
        return placed

    async def _release_failed_placement(self, order_no: str) -> None:
        """A placement refused after reserving (e.g. recording refused a value) holds no stock.
        Histories from before this step replay without it."""
        if workflow.patched("release-stock-on-failed-placement"):
            await call(
                InventoryActivities.release_stock,
                ReleaseRequest(order_no=order_no, reason="placement failed"),
            )

    def _reject(self, exc: ActivityError | ApplicationError) -> None:
        cause = refusal(exc)
        if cause is not None and cause.non_retryable:
            self._rejection = ApplicationError(
                cause.message, *cause.details, type=cause.type, non_retryable=True
            )
        else:
            self._rejection = ApplicationError(
                str(exc), type="PlacementFailedError", non_retryable=True
            )
        self._status = "rejected"
        show(status=self._status)

    # --- payment and review -----------------------------------------------------------------

    async def _paid_and_approved(self) -> bool:
        placed = self.placed
        try:
            await workflow.wait_condition(
                lambda: (
                    self._payment is not None or self._cancel is not None or self._risk_rejected()
                ),
                timeout=max(timedelta(0), placed.payment_deadline - workflow.now()),
            )
        except TimeoutError:
            self._cancel = CancelRequest(actor=SYSTEM, reason="payment deadline passed")
        if placed.under_review:
            await workflow.wait_condition(
                lambda: self._decision is not None or self._cancel is not None
            )
        if self._cancel is None and self._risk_rejected():
            assert self._decision is not None
            self._cancel = CancelRequest(
                actor=self._decision.actor, reason=f"risk review: {self._decision.reason}"
            )
        if self._cancel is not None:
            self._status = "cancelling"
            show(status=self._status)
            return False
        return True

    def _risk_rejected(self) -> bool:
        return self._decision is not None and not self._decision.approve

    # --- cancel -----------------------------------------------------------------------------

    @workflow.update
    async def cancel(self, request: CancelRequest) -> OrderView:
        self._cancel = request
        await workflow.wait_condition(
            lambda: self._projected in ("cancelled", "delivered", "completed", "closed")
        )
        return self.view()

    @cancel.validator
    def _may_cancel(self, request: CancelRequest) -> None:
        if self._status not in OPEN_FOR_CANCEL or self._cancel is not None:
            raise ApplicationError(f"order is {self._status}", type="InvalidStateError")
        shipped = [p.package_no for p in self.packages_handed_over()]
        if shipped:
            raise ApplicationError(
                f"packages already handed over: {shipped}", type="InvalidStateError"
            )

    async def _cancel_order(self) -> None:
        assert self._cancel is not None
        await call(
            InventoryActivities.release_stock,
            ReleaseRequest(order_no=self._in.order_no, reason=self._cancel.reason),
        )
        await call(OrderActivities.return_coupon, self._in.order_no)
        # Refunds of after-sales still running (taken out before shipment) come first.
        await workflow.wait_condition(lambda: self._after_sales.open == 0)
        owed = 0
        if self._payment is not None:
            owed = self._payment.amount_fen - self._refunded_on_order()
        if workflow.patched(CANCEL_BEFORE_REFUND_PATCH):
            # Decided: the cancel answers now, its refund shown pending until it is made.
            await self._record_cancelled(owed)
            await self._refund_cancelled(owed)
        else:
            await self._refund_cancelled(owed)
            await self._record_cancelled(0)
        # Stay a while to refund payments that arrive after the cancel.
        await workflow.sleep(self._in.timings.late_payment_grace)

    async def _refund_cancelled(self, owed: int) -> None:
        assert self._cancel is not None
        if self._payment is not None and owed > 0:
            reason = f"order cancelled: {self._cancel.reason}"
            await self.refund(self._payment, owed, f"RF{self._in.order_no[2:]}C", reason)

    async def _record_cancelled(self, owed: int) -> None:
        """The cancelled step, with the refund still owed (`owed` fen) shown pending."""
        assert self._cancel is not None
        pending: list[RefundState] = []
        if self._payment is not None and owed > 0:
            refund_no = f"RF{self._in.order_no[2:]}C"
            reason = f"order cancelled: {self._cancel.reason}"
            pending = [
                RefundState(refund_no=refund_no, amount_fen=owed, status="pending", reason=reason)
            ]
            self.owed[refund_no] = pending[0]
        await self._record(
            "cancelled",
            status="cancelled",
            actor=self._cancel.actor,
            detail={"reason": self._cancel.reason, **({"refund_fen": owed} if pending else {})},
            refunds=pending,
        )

    # --- completion -------------------------------------------------------------------------

    async def _complete(self) -> None:
        timings = self._in.timings
        try:
            await workflow.wait_condition(
                lambda: self._confirmed is not None, timeout=timings.auto_confirm_after
            )
            actor = self._confirmed.actor if self._confirmed else SYSTEM
        except TimeoutError:
            actor = Actor(kind="system", name="auto-confirm")
        await self._record("completed", status="completed", actor=actor)
        # A zero window closes at once: the server fires even a 0 s timer only on its next timer
        # sweep (about a second later). Older histories recorded that timer, so replay keeps it.
        if timings.after_sale_window > timedelta(0) or not workflow.patched("close-at-once"):
            await workflow.sleep(timings.after_sale_window)
        await self._after_sales.wait_all()
        await self._record("closed", status="closed")

    @workflow.update
    async def confirm_receipt(self, request: ConfirmReceipt) -> OrderView:
        if self._status == "fulfilling":  # shown delivered: the last package's word is coming
            await self._delivered_as_shown()
        self._confirmed = request
        await workflow.wait_condition(lambda: self._projected in ("completed", "closed"))
        return self.view()

    @confirm_receipt.validator
    def _may_confirm(self, request: ConfirmReceipt) -> None:
        if self._confirmed is not None or (
            self._status != "delivered" and not self._shown_delivered(request)
        ):
            raise ApplicationError(f"order is {self._status}", type="InvalidStateError")

    def _shown_delivered(self, request: ConfirmReceipt) -> bool:
        """Fulfilling, but every package still running is delivered as the view shows."""
        fulfilment = self.fulfilment
        if self._status != "fulfilling" or fulfilment is None or self.cancel_requested:
            return False
        shown = set(request.delivered_packages)
        running = set(fulfilment.plans) - fulfilment.finished
        return bool(shown) and running <= shown and not self.shorts

    async def _delivered_as_shown(self) -> None:
        try:
            await workflow.wait_condition(
                lambda: self._status != "fulfilling", timeout=DELIVERED_WAIT
            )
        except TimeoutError:
            raise ApplicationError("order is fulfilling", type="InvalidStateError") from None
        if self._status != "delivered":
            raise ApplicationError(f"order is {self._status}", type="InvalidStateError")

    # --- packages ---------------------------------------------------------------------------

    @workflow.signal(name=messages.PACKAGE_PROGRESS)
    def package_progress(self, view: PackageView) -> None:
        self._packages[view.package_no] = view

    # --- after-sales ------------------------------------------------------------------------------

    @workflow.update
    async def request_after_sale(self, request: AfterSaleRequest) -> AfterSaleView:
        return await self._after_sales.open_one(request)

    @request_after_sale.validator
    def _may_request_after_sale(self, request: AfterSaleRequest) -> None:
        self._after_sales.check(request)

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

    @workflow.signal(name=messages.PACKAGE_SHORT)
    def package_short(self, short: PackageShort) -> None:
        """A package's wave did not find some units: backorder or refund them (policy)."""
        self.shorts.append(short)

    def package_delivered(self, package_no: str) -> None:
        """A shipment's result: delivered (its last progress signal may have been handover)."""
        if (view := self._packages.get(package_no)) is not None:
            self._packages[package_no] = view.model_copy(update={"status": "delivered"})
