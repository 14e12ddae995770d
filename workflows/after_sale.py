"""AfterSaleWorkflow (`aftersale-AS…`), a child of its order (DESIGN §6.3, issue 6).

Opened by the order (which checked the quantities against what was bought and what earlier
after-sales took, and fixed the amounts from the stored allocations). Customer service approves
or rejects with a reason; no decision within the SLA → approved automatically; the customer may
withdraw while it is undecided. A return-and-refund then waits for the customer to ship the
goods back (not within the return window → closed, nothing refunded; the parcel is followed at
its carrier, pushes and polls when it is silent, until it is delivered to the warehouse) and for
the warehouse to receive and inspect every unit (sellable back into its batch, damaged into the
damage location, blocked). Then the refund goes through the payment provider,
idempotent per after-sale (refund number `RF<as_no>`): a retry or a duplicate never refunds twice.
Coupons come back when the after-sale completes the order. The order hears how it ended.
Every step is written to the after-sale's projection and its order's timeline.

One class, one state: everything the run and the handlers read and change is in
`AfterSaleState`, and only the workflow's `_step` changes the status (with its projection row)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.after_sales import AfterSaleActivities
    from activities.loyalty import LoyaltyActivities
    from activities.orders import OrderActivities
    from activities.payments import PaymentActivities
    from activities.shipments import ShipmentActivities
    from models.contracts import messages
    from models.contracts.after_sale import (
        AfterSaleDecision,
        AfterSaleInput,
        AfterSaleSettled,
        AfterSaleStatus,
        AfterSaleStep,
        AfterSaleView,
        AfterSaleWithdrawal,
        ExchangeRequested,
        FollowReturn,
        RefundRetry,
        ReplacementReady,
        ReturnInbound,
        ReturnInspection,
        ReturnShipment,
    )
    from models.contracts.loyalty import PointsRefund
    from models.contracts.order import Actor, PackageLine, PaymentReceived, RefundRequest
    from models.contracts.shipment import TrackingSnapshot
    from models.domain.shipping import latest_tracking
    from workflows.after_sale_state import AfterSaleState
    from workflows.common import FAILED, call, deprecate_patch, patched, refusal
    from workflows.visibility import show

SYSTEM = Actor(kind="system", name="after-sale")
# Returns are followed at their carrier (pushes and polls) from this version on.
FOLLOW_PATCH = "follow-return-tracking"
# The refund gives back, pro rata, the points the refunded units bore (DESIGN §6.7).
POINTS_REFUND_PATCH = "points-back-with-refund"


@workflow.defn
class AfterSaleWorkflow:
    @workflow.init
    def __init__(self, input: AfterSaleInput) -> None:
        self._in = input
        self._state = AfterSaleState(
            sla_due_at=None if input.before_shipment else workflow.now() + input.approval_sla
        )

    @workflow.run
    async def run(self, input: AfterSaleInput) -> AfterSaleView:
        state = self._state
        show(business_no=input.as_no, status=state.status, warehouse=input.return_warehouse_id)
        if input.recorded:  # the order wrote the first step before answering
            state.seq = 1
        else:
            await self._step(
                "requested",
                "requested",
                actor=input.requested_by,
                detail={"type": input.type, "refund_fen": input.quote.total_fen},
                opened=input,
            )
        await self._decision_made(input)
        if state.withdrawal is not None:
            return await self._settle()
        if state.status == "approved" and await self._refund_due():
            await self._refund()
        return await self._settle()

    # --- the decision -------------------------------------------------------------------------

    async def _decision_made(self, input: AfterSaleInput) -> None:
        """Customer service decides within the SLA, else it is approved; taken out of its
        packages before shipment, it is approved at once (nothing left the warehouse)."""
        state = self._state
        if input.before_shipment:
            state.deciding = True
            reason = f"not shipped yet: taken out of {', '.join(input.taken_from)}"
            state.decision = AfterSaleDecision(actor=SYSTEM, approve=True, reason=reason)
            await self._decide(state.decision, "approved")
            return
        try:
            await workflow.wait_condition(
                lambda: state.decision is not None or state.withdrawal is not None,
                timeout=input.approval_sla,
            )
        except TimeoutError:
            if state.deciding:  # a decision is being recorded right now: it stands
                await workflow.wait_condition(lambda: state.decision is not None)
            else:
                state.deciding = True
                reason = f"no decision within {input.approval_sla}"
                state.decision = AfterSaleDecision(actor=SYSTEM, approve=True, reason=reason)
                await self._decide(state.decision, "auto_approved")

    @workflow.update
    async def decide(self, decision: AfterSaleDecision) -> AfterSaleView:
        self._state.deciding = True  # validators refuse another decision or a withdrawal now
        await self._decide(decision, "approved" if decision.approve else "rejected")
        # Only now the run goes on: its next step must not overtake the decision's.
        self._state.decision = decision
        return self.view()

    @decide.validator
    def _may_decide(self, decision: AfterSaleDecision) -> None:
        state = self._state
        if state.status != "requested" or state.deciding or state.withdrawal is not None:
            raise ApplicationError(f"after-sale is {state.status}", type="InvalidStateError")
        if not decision.approve and not decision.reason.strip():
            raise ApplicationError("a rejection needs a reason", type="InvalidInputError")
        filer = self._in.requested_by
        if (decision.actor.kind, decision.actor.name) == (filer.kind, filer.name):
            raise ApplicationError(  # separation of duties, whatever roles the person holds
                f"{filer.name} filed this after-sale and cannot decide it",
                type="SeparationOfDutiesError",
            )

    @workflow.update
    async def withdraw(self, withdrawal: AfterSaleWithdrawal) -> AfterSaleView:
        self._state.withdrawal = withdrawal
        await self._step("withdrawn", "withdrawn", actor=withdrawal.actor)
        return self.view()

    @withdraw.validator
    def _may_withdraw(self, withdrawal: AfterSaleWithdrawal) -> None:
        state = self._state
        if state.status != "requested" or state.deciding or state.withdrawal is not None:
            raise ApplicationError(
                f"after-sale is {state.status}: only an undecided one can be withdrawn",
                type="InvalidStateError",
            )

    async def _decide(self, decision: AfterSaleDecision, step: str) -> None:
        self._state.decided_by = f"{decision.actor.kind}:{decision.actor.name}"
        self._state.decision_reason = decision.reason or None
        await self._step(
            "approved" if decision.approve else "rejected",
            step,
            actor=decision.actor,
            detail={"reason": decision.reason},
        )

    async def _refund_due(self) -> bool:
        """Refund-only: at once. A return: once received. An exchange: only if the order
        cannot ship the replacement."""
        if self._in.type == "refund_only":
            return True
        if not await self._returned():
            return False
        return self._in.type != "exchange" or not await self._exchanged()

    # --- the return (issue 6 items 4 and 5) ---------------------------------------------------

    async def _returned(self) -> bool:
        """The customer ships the goods back within the window, the warehouse receives them."""
        state = self._state
        window = self._in.return_window
        await self._step("awaiting_return", "awaiting_return", detail={"days": window.days})
        try:
            await workflow.wait_condition(lambda: state.shipped_back is not None, timeout=window)
        except TimeoutError:
            await self._step("closed", "return_expired", detail={"days": window.days})
            return False
        deprecate_patch(FOLLOW_PATCH)  # retired: every history takes this path
        await self._follow_return()
        await workflow.wait_condition(lambda: state.inspection is not None)
        return True

    async def _follow_return(self) -> None:
        """The parcel's tracking, pushed (or polled when the carrier is silent), on the
        after-sale's timeline until it is delivered to the warehouse or inspected."""
        state = self._state
        while state.inspection is None and state.parcel.status != "delivered":
            try:
                await workflow.wait_condition(
                    lambda: state.inspection is not None or self._unseen_events(),
                    timeout=self._in.tracking_poll_interval,
                )
            except TimeoutError:
                polled = await call(ShipmentActivities.poll_tracking, state.parcel.tracking_no)
                state.parcel = latest_tracking(state.parcel, polled)
            parcel = state.parcel
            if self._unseen_events():
                state.parcel_seen = len(parcel.events)
                step = "return_delivered" if parcel.status == "delivered" else "return_tracking"
                await self._step("returning", step, detail={"code": parcel.status})

    def _unseen_events(self) -> bool:
        return len(self._state.parcel.events) > self._state.parcel_seen

    @workflow.signal
    def return_tracking(self, snapshot: TrackingSnapshot) -> None:
        """The carrier's push for the return parcel: the full list, the longest one kept."""
        self._state.parcel = latest_tracking(self._state.parcel, snapshot)

    @workflow.update
    async def ship_back(self, shipment: ReturnShipment) -> AfterSaleView:
        state = self._state
        deprecate_patch(FOLLOW_PATCH)  # retired: the carrier must know the parcel
        follow = FollowReturn(
            as_no=self._in.as_no,
            carrier_code=shipment.carrier_code,
            tracking_no=shipment.tracking_no,
        )
        try:
            followed = await call(ShipmentActivities.follow_return, follow)
        except FAILED as exc:
            cause = refusal(exc)
            raise ApplicationError(
                cause.message if cause else str(exc), type="InvalidInputError"
            ) from exc
        state.parcel = latest_tracking(state.parcel, followed)
        state.shipped_back = shipment
        await self._step(
            "returning",
            "return_shipped",
            actor=shipment.actor,
            detail={"carrier": shipment.carrier_code, "tracking_no": shipment.tracking_no},
            shipped_back=shipment,
        )
        return self.view()

    @ship_back.validator
    def _may_ship_back(self, shipment: ReturnShipment) -> None:
        state = self._state
        if state.status != "awaiting_return" or state.shipped_back is not None:
            raise ApplicationError(
                f"after-sale is {state.status}: no return expected", type="InvalidStateError"
            )

    @workflow.update
    async def inspect(self, inspection: ReturnInspection) -> AfterSaleView:
        asked = {line.line_no: line.sku_id for line in self._in.quote.lines}
        warehouse = self._in.return_warehouse_id
        assert warehouse is not None
        units = await call(
            AfterSaleActivities.receive_return,
            ReturnInbound(
                as_no=self._in.as_no,
                order_no=self._in.order_no,
                warehouse_id=warehouse,
                actor=inspection.actor,
                lines=[(line, asked[line.line_no]) for line in inspection.lines],
            ),
        )
        await self._step(
            "received",
            "return_received",
            actor=inspection.actor,
            detail={
                "units": units,
                "sellable": sum(x.sellable for x in inspection.lines),
                "damaged": sum(x.damaged for x in inspection.lines),
            },
        )
        self._state.inspection = inspection
        return self.view()

    @inspect.validator
    def _may_inspect(self, inspection: ReturnInspection) -> None:
        state = self._state
        if state.status != "returning" or state.inspection is not None:
            raise ApplicationError(
                f"after-sale is {state.status}: no return to receive", type="InvalidStateError"
            )
        asked = {line.line_no: line.quantity for line in self._in.quote.lines}
        found = {line.line_no: line.sellable + line.damaged for line in inspection.lines}
        if found != asked:
            raise ApplicationError(
                f"inspect every returned unit: expected {asked}, got {found}",
                type="InvalidInputError",
            )

    # --- the exchange -------------------------------------------------------------------------

    async def _exchanged(self) -> bool:
        """The order ships the units again (or the variants they are exchanged for); False when
        it cannot (then: refunded)."""
        state = self._state
        warehouse = self._in.return_warehouse_id
        assert warehouse is not None
        swap = self._in.replacements
        lines = [
            PackageLine(
                line_no=x.line_no, sku_id=swap.get(x.line_no, x.sku_id), quantity=x.quantity
            )
            for x in self._in.quote.lines
        ]
        detail = {f"line_{no}_sku": sku for no, sku in sorted(swap.items())}
        await self._step("exchanging", "exchanging", detail=detail)
        parent = workflow.info().parent
        assert parent is not None
        await workflow.get_external_workflow_handle(parent.workflow_id).signal(
            messages.EXCHANGE_REQUESTED,
            ExchangeRequested(as_no=self._in.as_no, warehouse_id=warehouse, lines=lines),
        )
        await workflow.wait_condition(lambda: state.replacement is not None)
        assert state.replacement is not None
        if state.replacement.package_no is None:
            await self._step("exchanging", "exchange_impossible", detail={"reason": "no stock"})
            return False
        await self._step(
            "exchanged", "exchanged", detail={"package_no": state.replacement.package_no}
        )
        return True

    @workflow.signal(name=messages.REPLACEMENT_READY)
    def replacement_ready(self, ready: ReplacementReady) -> None:
        self._state.replacement = ready

    # --- the refund ---------------------------------------------------------------------------

    async def _refund(self) -> None:
        quote, refund_no = self._in.quote, f"RF{self._in.as_no}"
        await self._step("refunding", "refunding", detail={"amount_fen": quote.total_fen})
        if quote.total_fen > 0:
            while not await self._refunded_at_provider(refund_no):
                await workflow.wait_condition(lambda: self._state.refund_refused is None)
        if quote.return_coupons:
            await call(OrderActivities.return_coupon, self._in.order_no)
        if patched(POINTS_REFUND_PATCH):
            await call(
                LoyaltyActivities.refund_points,
                PointsRefund(order_no=self._in.order_no, as_no=self._in.as_no),
            )
        await self._step(
            "refunded", "refunded", detail={"amount_fen": quote.total_fen}, refund_no=refund_no
        )

    async def _refunded_at_provider(self, refund_no: str) -> bool:
        """False when the provider refused it: then it waits for staff to retry, visibly, and
        the order stays open meanwhile (an after-sale never ends without its money). A
        presale's order whose balance is paid (`balance` in the input): the part on the balance
        as `<refund no>-B`, then the rest on the deposit as `<refund no>`; each refund is
        idempotent by its number, so a retry after a refusal makes none of them twice."""
        inputs, total = self._in, self._in.quote.total_fen
        if inputs.balance is not None and inputs.on_balance_fen > 0:
            on_balance = inputs.on_balance_fen
            if not await self._refund_on(inputs.balance, f"{refund_no}-B", on_balance):
                return False
            return total == on_balance or await self._refund_on(
                inputs.payment, refund_no, total - on_balance
            )
        return await self._refund_on(inputs.payment, refund_no, total)

    async def _refund_on(self, payment: PaymentReceived, refund_no: str, amount_fen: int) -> bool:
        try:
            await call(
                PaymentActivities.refund_payment,
                RefundRequest(
                    order_no=self._in.order_no,
                    refund_no=refund_no,
                    payment_id=payment.payment_id,
                    transaction_id=payment.transaction_id,
                    amount_fen=amount_fen,
                    reason=f"after-sale {self._in.as_no}: {self._in.reason}"[:500],
                ),
                start_to_close=timedelta(minutes=2),
            )
        except FAILED as exc:
            cause = refusal(exc)
            if cause is None or cause.type != "RefundRefusedError":
                raise
            refused = cause.message[:300]
            self._state.refund_refused = refused
            await self._step("refunding", "refund_refused", detail={"reason": refused})
            return False
        return True

    @workflow.update
    async def retry_refund(self, retry: RefundRetry) -> AfterSaleView:
        self._state.refund_refused = None  # a second retry meanwhile is refused by the validator
        await self._step(
            "refunding", "refund_retried", actor=retry.actor, detail={"reason": retry.reason}
        )
        return self.view()

    @retry_refund.validator
    def _may_retry_refund(self, retry: RefundRetry) -> None:
        if self._state.refund_refused is None:
            raise ApplicationError(
                f"after-sale is {self._state.status}: no refused refund to retry",
                type="InvalidStateError",
            )

    async def _settle(self) -> AfterSaleView:
        parent = workflow.info().parent
        status = self._state.status
        refunded = self._in.quote.total_fen if status == "refunded" else 0
        if parent is not None:
            await workflow.get_external_workflow_handle(parent.workflow_id).signal(
                messages.AFTER_SALE_SETTLED,
                AfterSaleSettled(as_no=self._in.as_no, status=status, refunded_fen=refunded),
            )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.view()

    # --- view and projection ------------------------------------------------------------------

    @workflow.query
    def view(self) -> AfterSaleView:
        state = self._state
        return AfterSaleView(
            as_no=self._in.as_no,
            order_no=self._in.order_no,
            type=self._in.type,
            status=state.status,
            refund_fen=self._in.quote.total_fen,
            sla_due_at=state.sla_due_at,
            decided_by=state.decided_by,
            decision_reason=state.decision_reason,
            lines=self._in.lines,
        )

    async def _step(
        self,
        status: AfterSaleStatus,
        step: str,
        *,
        actor: Actor = SYSTEM,
        detail: dict[str, Any] | None = None,
        opened: AfterSaleInput | None = None,
        refund_no: str | None = None,
        shipped_back: ReturnShipment | None = None,
    ) -> None:
        """The one place the status changes: with its search attribute and projection row."""
        state = self._state
        state.status = status
        show(status=status)
        state.seq += 1
        await call(
            AfterSaleActivities.record_after_sale_step,
            AfterSaleStep(
                as_no=self._in.as_no,
                order_no=self._in.order_no,
                status=status,
                step=step,
                seq=state.seq,
                at=workflow.now(),
                actor=actor,
                detail=detail or {},
                opened=opened,
                sla_due_at=state.sla_due_at if opened is not None else None,
                refund_no=refund_no,
                shipped_back=shipped_back,
            ),
        )
