"""OrderWorkflow's state and the handlers that change money: opening a payment, taking the
provider's payment signal, the risk review, refunds. Split from workflows/order.py to keep each
module short; OrderWorkflow inherits these handlers."""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.orders import OrderActivities
    from activities.payments import PaymentActivities
    from models.contracts.after_sale import RefundRetry
    from models.contracts.order import (
        Actor,
        CancelRequest,
        ConfirmPaymentRequest,
        ConfirmReceipt,
        OpenPaymentRequest,
        OrderInput,
        OrderStatus,
        OrderView,
        PackageLine,
        PackagePlan,
        PackageView,
        PaymentReceived,
        PaymentRequest,
        PaymentSession,
        PlacedOrder,
        PlaceOrderRequest,
        RecordPaymentRequest,
        RefundRequest,
        RefundState,
        RiskDecision,
        StatusChange,
        TimelineEntry,
    )
    from models.contracts.waves import PackageShort
    from models.domain.shipping import package_value
    from workflows.common import FAILED, call, refusal
    from workflows.visibility import show

SYSTEM = Actor(kind="system", name="order")
# A payment the order cannot take is refunded only once the provider vouches for it; one it
# does not vouch for is a difference for finance (older runs credited and refunded it at once).
VOUCH_PATCH = "payment-vouched-before-refund"
# A refund the provider refuses waits, visible, for staff to retry it (older runs failed).
REFUSAL_PATCH = "refund-refusal-retryable"


class OrderState:
    """The order's state and the helpers every part of the workflow uses."""

    def _setup(self, input: OrderInput) -> None:
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
        self._projected: OrderStatus = "placing"
        self.shorts: list[PackageShort] = []  # short-picked packages not yet handled
        # Units taken out of packages before picking (refund-only after-sales), per package.
        self.withdrawn: dict[str, list[PackageLine]] = {}
        # Units and fen per line the order refunded itself (lost, short, cancelled packages):
        # after-sales count them as taken.
        self.package_refunds: dict[int, tuple[int, int]] = {}
        # Refunds owed and not made yet (pending at the provider, or refused), by refund number.
        self.owed: dict[str, RefundState] = {}

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
            pending_refunds=list(self.owed.values()),
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

    @property
    def refunded_on_payment(self) -> int:
        return self._refunded_for_payment

    @property
    def status(self) -> OrderStatus:
        return self._status

    def after_sale_refunded(self, amount_fen: int) -> None:
        """An after-sale refunded on the order's payment (it called the provider itself)."""
        self._refunded_fen += amount_fen
        self._refunded_for_payment += amount_fen

    def current_lines(self, plan: PackagePlan) -> list[PackageLine]:
        """The package's lines less what after-sales took out of it before picking."""
        taken: dict[int, int] = {}
        for line in self.withdrawn.get(plan.package_no, []):
            taken[line.line_no] = taken.get(line.line_no, 0) + line.quantity
        left = [
            line.model_copy(update={"quantity": line.quantity - taken.get(line.line_no, 0)})
            for line in plan.lines
        ]
        return [line for line in left if line.quantity > 0]

    def packages_handed_over(self) -> list[PackageView]:
        return [
            p for p in self._packages.values() if p.status in ("shipped", "delivered", "exception")
        ]

    def package_refunded(self, lines: list[PackageLine]) -> None:
        """A package refund (its value, by `package_value`) took these units."""
        for part in lines:
            units, fen = self.package_refunds.get(part.line_no, (0, 0))
            value = package_value(self.placed.quote.lines, [part])
            self.package_refunds[part.line_no] = (units + part.quantity, fen + value)

    def request_cancel(self, reason: str) -> None:
        if self._cancel is None:
            self._cancel = CancelRequest(actor=SYSTEM, reason=reason)

    async def refund(
        self, payment: PaymentReceived, amount_fen: int, refund_no: str, reason: str
    ) -> None:
        request = RefundRequest(
            order_no=self._in.order_no,
            refund_no=refund_no,
            payment_id=payment.payment_id,
            transaction_id=payment.transaction_id,
            amount_fen=amount_fen,
            reason=reason,
        )
        if workflow.patched(REFUSAL_PATCH):
            await self._refund_until_made(request)
        else:
            await call(PaymentActivities.refund_payment, request)
        self._refunded_fen += amount_fen
        if payment is self._payment:
            self._refunded_for_payment += amount_fen
        self._note("refunded", SYSTEM, {"refund_no": refund_no, "amount_fen": amount_fen})

    async def _refund_until_made(self, request: RefundRequest) -> None:
        """Refund at the provider; refused, the refund shows as refused (timeline and order) and
        waits for staff to retry it (`retry_refund`), as often as it takes."""
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
                self.owed[request.refund_no] = refused
                await self._record(
                    "refund_refused",
                    detail={
                        "refund_no": request.refund_no,
                        "amount_fen": request.amount_fen,
                        "reason": refused.refused_reason,
                    },
                    refunds=[refused],
                )
                await workflow.wait_condition(
                    lambda: self.owed[request.refund_no].status != "refused"
                )
                continue
            self.owed.pop(request.refund_no, None)
            return

    @workflow.update
    async def retry_refund(self, retry: RefundRetry) -> OrderView:
        """Staff try the refunds the provider refused again (once what it refused for is fixed)."""
        again = [
            owed.model_copy(update={"status": "pending", "refused_reason": None})
            for owed in self.owed.values()
            if owed.status == "refused"
        ]
        # Shown as pending before the refunds go again: a refund made meanwhile stays made.
        await self._record(
            "refund_retried",
            actor=retry.actor,
            detail={"refunds": len(again), "reason": retry.reason[:200]},
            refunds=again,
        )
        for owed in again:
            self.owed[owed.refund_no] = owed
        return self.view()

    @retry_refund.validator
    def _may_retry_refund(self, retry: RefundRetry) -> None:
        if not any(owed.status == "refused" for owed in self.owed.values()):
            raise ApplicationError(
                "no refund of this order is refused by the provider", type="InvalidStateError"
            )

    @property
    def payment(self) -> PaymentReceived | None:
        return self._payment

    def set_status(self, status: OrderStatus) -> None:
        self._status = status
        show(status=status)

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
        refunds: list[RefundState] | None = None,
    ) -> None:
        if status is not None:
            self._status = status
            show(status=status)
        self._steps += 1
        self._note(step, actor, detail)
        recorded = self._status
        await call(
            OrderActivities.record_status,
            StatusChange(
                order_no=self._in.order_no,
                status=recorded,
                step=step,
                key=f"{self._steps:03d}-{step}",
                seq=self._steps,
                actor=actor,
                detail=detail or {},
                escalated=self._escalated or None,
                at=workflow.now(),
                refunds=refunds or [],
            ),
        )
        # What readers of the projection now see: updates answer once this has caught up.
        self._projected = recorded

    async def record(
        self,
        step: str,
        *,
        status: OrderStatus | None = None,
        actor: Actor = SYSTEM,
        detail: dict[str, str | int | bool | None] | None = None,
    ) -> None:
        await self._record(step, status=status, actor=actor, detail=detail)


class OrderPayments(OrderState):
    """Payment and risk-review handlers of OrderWorkflow."""

    async def _watch_review_sla(self) -> None:
        sla = self._in.timings.risk_review_sla
        try:
            await workflow.wait_condition(
                lambda: self._decision is not None or self._status in ("cancelling", "cancelled"),
                timeout=sla,
            )
        except TimeoutError:
            self._escalated = True
            show(escalated=True)
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
            if not accepted and workflow.patched(VOUCH_PATCH):
                # Money the order did not ask for: believed only if the provider holds it.
                confirmation = await call(
                    PaymentActivities.confirm_payment,
                    ConfirmPaymentRequest(order_no=self._in.order_no, payment=payment),
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
                    order_no=self._in.order_no,
                    payment=payment,
                    accepted=accepted,
                    at=workflow.now(),
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
