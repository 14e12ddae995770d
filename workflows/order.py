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
    from activities.payments import PaymentActivities
    from models.contracts.order import (
        Actor,
        CancelRequest,
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
        ReleaseRequest,
        ReserveRequest,
        RiskDecision,
        StatusChange,
        TimelineEntry,
    )
    from workflows.common import call
    from workflows.order_fulfilment import Fulfilment

SYSTEM = Actor(kind="system", name="order")
OPEN_FOR_CANCEL: frozenset[OrderStatus] = frozenset({"awaiting_payment", "paid", "fulfilling"})


@workflow.defn
class OrderWorkflow:
    @workflow.init
    def __init__(self, input: OrderInput) -> None:
        # Placement arrives as an update with the start: handlers need the input at once.
        self._lock = asyncio.Lock()
        self._input: OrderInput | None = input
        self._placed: PlacedOrder | None = None
        self._rejection: ApplicationError | None = None
        self._status: OrderStatus = "placing"
        self._timeline: list[TimelineEntry] = []
        self._payment: PaymentReceived | None = None
        self._seen_transactions: set[str] = set()
        self._paid_fen = 0
        self._refunded_fen = 0
        self._cancel: CancelRequest | None = None
        self._decision: RiskDecision | None = None
        self._escalated = False
        self._confirmed: ConfirmReceipt | None = None
        self._packages: dict[str, PackageView] = {}
        self._steps = 0
        self._request: PlaceOrderRequest | None = None
        self._refunded_for_payment = 0
        self._sla_watch: asyncio.Task[None] | None = None

    @workflow.run
    async def run(self, input: OrderInput) -> OrderView:
        await workflow.wait_condition(
            lambda: self._placed is not None or self._rejection is not None,
            timeout=timedelta(minutes=10),
        )
        if self._placed is None:
            return self.view()
        if self._placed.under_review:
            self._sla_watch = asyncio.create_task(self._watch_review_sla())
        if await self._paid_and_approved():
            await Fulfilment(self).run()
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
            except ActivityError as exc:
                self._reject(exc)
                raise self._rejection from exc  # type: ignore[misc]
            self._status = "awaiting_payment"
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
        self._request = request
        return placed

    def _reject(self, exc: ActivityError) -> None:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.non_retryable:
            self._rejection = ApplicationError(
                cause.message, *cause.details, type=cause.type, non_retryable=True
            )
        else:
            self._rejection = ApplicationError(
                str(exc), type="PlacementFailedError", non_retryable=True
            )
        self._status = "rejected"

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
            return False
        return True

    def _risk_rejected(self) -> bool:
        return self._decision is not None and not self._decision.approve

    async def _watch_review_sla(self) -> None:
        sla = self._in.timings.risk_review_sla
        try:
            await workflow.wait_condition(
                lambda: self._decision is not None or self._status in ("cancelling", "cancelled"),
                timeout=sla,
            )
        except TimeoutError:
            self._escalated = True
            await self._record("risk_review_escalated", detail={"sla_s": int(sla.total_seconds())})

    @workflow.update
    async def request_payment(self, request: PaymentRequest) -> PaymentSession:
        placed = self.placed
        return await call(
            PaymentActivities.open_payment,
            OpenPaymentRequest(
                order_no=placed.order_no,
                amount_fen=placed.quote.payable_fen,
                currency=self._in.policy.currency,
            ),
        )

    @request_payment.validator
    def _may_request_payment(self, request: PaymentRequest) -> None:
        if self._status != "awaiting_payment" or self._payment is not None:
            raise ApplicationError(f"order is {self._status}", type="InvalidStateError")

    @workflow.signal
    async def payment_received(self, payment: PaymentReceived) -> None:
        """From the provider's verified webhook. Duplicates are ignored; a payment the order
        cannot take (cancelled, already paid, wrong amount or currency) is refunded in full."""
        if payment.transaction_id in self._seen_transactions:
            return
        self._seen_transactions.add(payment.transaction_id)
        async with self._lock:
            accepted = (
                self._payment is None
                and self._status == "awaiting_payment"
                and self._placed is not None
                and payment.amount_fen == self._placed.quote.payable_fen
                and payment.currency == self._in.policy.currency
            )
            await call(
                PaymentActivities.record_payment,
                RecordPaymentRequest(
                    order_no=self._in.order_no, payment=payment, accepted=accepted
                ),
            )
            self._paid_fen += payment.amount_fen
            if accepted:
                self._payment = payment
                await self._record(
                    "paid",
                    status="paid",
                    actor=Actor(kind="provider", name=payment.provider),
                    detail={"transaction_id": payment.transaction_id},
                )
            else:
                await self.refund(
                    payment,
                    payment.amount_fen,
                    f"RF-{payment.transaction_id}",
                    "payment the order could not accept",
                )

    @workflow.update
    async def review(self, decision: RiskDecision) -> OrderView:
        self._decision = decision
        await self._record(
            "risk_approved" if decision.approve else "risk_rejected",
            actor=decision.actor,
            detail={"reason": decision.reason},
        )
        return self.view()

    @review.validator
    def _may_review(self, decision: RiskDecision) -> None:
        if self._placed is None or not self._placed.under_review or self._decision is not None:
            raise ApplicationError("no risk review is open on this order", type="InvalidStateError")
        if not decision.approve and not decision.reason.strip():
            raise ApplicationError("a rejection needs a reason", type="InvalidInputError")

    # --- cancel -----------------------------------------------------------------------------

    @workflow.update
    async def cancel(self, request: CancelRequest) -> OrderView:
        self._cancel = request
        await workflow.wait_condition(
            lambda: self._status in ("cancelled", "delivered", "completed", "closed")
        )
        return self.view()

    @cancel.validator
    def _may_cancel(self, request: CancelRequest) -> None:
        if self._status not in OPEN_FOR_CANCEL or self._cancel is not None:
            raise ApplicationError(f"order is {self._status}", type="InvalidStateError")
        shipped = [
            p.package_no
            for p in self._packages.values()
            if p.status in ("shipped", "delivered", "exception")
        ]
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
        if self._payment is not None:
            owed = self._payment.amount_fen - self._refunded_on_order()
            if owed > 0:
                await self.refund(
                    self._payment,
                    owed,
                    f"RF{self._in.order_no[2:]}C",
                    f"order cancelled: {self._cancel.reason}",
                )
        await self._record(
            "cancelled",
            status="cancelled",
            actor=self._cancel.actor,
            detail={"reason": self._cancel.reason},
        )
        # Stay a while to refund payments that arrive after the cancel.
        await workflow.sleep(self._in.timings.late_payment_grace)

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
        await workflow.sleep(timings.after_sale_window)
        await self._record("closed", status="closed")

    @workflow.update
    async def confirm_receipt(self, request: ConfirmReceipt) -> OrderView:
        self._confirmed = request
        await workflow.wait_condition(lambda: self._status != "delivered")
        return self.view()

    @confirm_receipt.validator
    def _may_confirm(self, request: ConfirmReceipt) -> None:
        if self._status != "delivered" or self._confirmed is not None:
            raise ApplicationError(f"order is {self._status}", type="InvalidStateError")

    # --- packages ---------------------------------------------------------------------------

    @workflow.signal
    def package_progress(self, view: PackageView) -> None:
        self._packages[view.package_no] = view

    @workflow.query
    def view(self) -> OrderView:
        placed = self._placed
        return OrderView(
            order_no=self._in.order_no,
            status=self._status,
            escalated=self._escalated,
            under_review=bool(placed and placed.under_review and self._decision is None),
            payable_fen=placed.quote.payable_fen if placed else 0,
            paid_fen=self._paid_fen,
            refunded_fen=self._refunded_fen,
            payment_deadline=placed.payment_deadline if placed else None,
            packages=list(self._packages.values()),
            timeline=list(self._timeline),
        )

    # --- shared helpers (also used by Fulfilment) -------------------------------------------

    @property
    def _in(self) -> OrderInput:
        assert self._input is not None
        return self._input

    @property
    def placed(self) -> PlacedOrder:
        assert self._placed is not None
        return self._placed

    @property
    def order_input(self) -> OrderInput:
        return self._in

    @property
    def request(self) -> PlaceOrderRequest:
        assert self._request is not None
        return self._request

    @property
    def cancel_requested(self) -> bool:
        return self._cancel is not None

    def _refunded_on_order(self) -> int:
        return self._refunded_for_payment

    def request_cancel(self, reason: str) -> None:
        if self._cancel is None:
            self._cancel = CancelRequest(actor=SYSTEM, reason=reason)

    async def refund(
        self, payment: PaymentReceived, amount_fen: int, refund_no: str, reason: str
    ) -> None:
        await call(
            PaymentActivities.refund_payment,
            RefundRequest(
                order_no=self._in.order_no,
                refund_no=refund_no,
                payment_id=payment.payment_id,
                transaction_id=payment.transaction_id,
                amount_fen=amount_fen,
                reason=reason,
            ),
        )
        self._refunded_fen += amount_fen
        if payment is self._payment:
            self._refunded_for_payment += amount_fen
        self._note("refunded", SYSTEM, {"refund_no": refund_no, "amount_fen": amount_fen})

    @property
    def payment(self) -> PaymentReceived | None:
        return self._payment

    def set_status(self, status: OrderStatus) -> None:
        self._status = status

    def _note(
        self, step: str, actor: Actor, detail: dict[str, str | int | bool | None] | None = None
    ) -> None:
        self._timeline.append(
            TimelineEntry(at=workflow.now(), step=step, actor=actor, detail=detail or {})
        )

    async def _record(
        self,
        step: str,
        *,
        status: OrderStatus | None = None,
        actor: Actor = SYSTEM,
        detail: dict[str, str | int | bool | None] | None = None,
    ) -> None:
        if status is not None:
            self._status = status
        self._steps += 1
        self._note(step, actor, detail)
        await call(
            OrderActivities.record_status,
            StatusChange(
                order_no=self._in.order_no,
                status=self._status,
                step=step,
                key=f"{self._steps:03d}-{step}",
                seq=self._steps,
                actor=actor,
                detail=detail or {},
                escalated=self._escalated or None,
            ),
        )

    async def record(
        self,
        step: str,
        *,
        status: OrderStatus | None = None,
        actor: Actor = SYSTEM,
        detail: dict[str, str | int | bool | None] | None = None,
    ) -> None:
        await self._record(step, status=status, actor=actor, detail=detail)
