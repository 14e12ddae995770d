"""AfterSaleWorkflow (`aftersale-AS…`), a child of its order (DESIGN §6.3, issue 6).

Opened by the order (which checked the quantities against what was bought and what earlier
after-sales took, and fixed the amounts from the stored allocations). Customer service approves
or rejects with a reason; no decision within the SLA → approved automatically; the customer may
withdraw while it is undecided. A return-and-refund then waits for the customer to ship the
goods back (not within the return window → closed, nothing refunded) and for the warehouse to
receive and inspect every unit (sellable back into its batch, damaged into the damage location,
blocked). Then the refund goes through the payment provider,
idempotent per after-sale (refund number `RF<as_no>`): a retry or a duplicate never refunds twice.
Coupons come back when the after-sale completes the order. The order hears how it ended.
Every step is written to the after-sale's projection and its order's timeline."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.orders import OrderActivities
    from activities.payments import PaymentActivities
    from models.contracts import messages
    from models.contracts.after_sale import (
        AfterSaleDecision,
        AfterSaleInput,
        AfterSaleSettled,
        AfterSaleStatus,
        AfterSaleView,
        AfterSaleWithdrawal,
        ExchangeRequested,
        RefundRetry,
        ReplacementReady,
        ReturnInspection,
        ReturnShipment,
    )
    from models.contracts.order import PackageLine, RefundRequest
    from models.contracts.shipment import TrackingSnapshot
    from workflows.after_sale_returns import SYSTEM, AfterSaleReturns
    from workflows.common import FAILED, call, refusal
    from workflows.visibility import show


@workflow.defn
class AfterSaleWorkflow(AfterSaleReturns):
    @workflow.init
    def __init__(self, input: AfterSaleInput) -> None:
        self._input = input
        self._status: AfterSaleStatus = "requested"
        self._decision: AfterSaleDecision | None = None
        self._deciding = False
        self._withdrawal: AfterSaleWithdrawal | None = None
        self._seq = 0
        self._sla_due_at = None if input.before_shipment else workflow.now() + input.approval_sla
        self._decided_by: str | None = None
        self._decision_reason: str | None = None
        self._shipped_back: ReturnShipment | None = None
        self._replacement: ReplacementReady | None = None
        self._inspection: ReturnInspection | None = None
        self._parcel = TrackingSnapshot(tracking_no="", status="created")
        self._parcel_seen = 0  # its events already on the timeline
        self._refund_refused: str | None = None  # why the provider refused, until retried

    @workflow.run
    async def run(self, input: AfterSaleInput) -> AfterSaleView:
        show(business_no=input.as_no, status=self._status, warehouse=input.return_warehouse_id)
        if input.recorded:  # the order wrote the first step before answering
            self._seq = 1
        else:
            await self._step(
                "requested",
                "requested",
                actor=input.requested_by,
                detail={"type": input.type, "refund_fen": input.quote.total_fen},
                opened=input,
            )
        await self._decision_made(input)
        if self._withdrawal is not None:
            return await self._settle()
        if self._status == "approved" and await self._refund_due():
            await self._refund()
        return await self._settle()

    async def _decision_made(self, input: AfterSaleInput) -> None:
        """Customer service decides within the SLA, else it is approved; taken out of its
        packages before shipment, it is approved at once (nothing left the warehouse)."""
        if input.before_shipment:
            self._deciding = True
            reason = f"not shipped yet: taken out of {', '.join(input.taken_from)}"
            self._decision = AfterSaleDecision(actor=SYSTEM, approve=True, reason=reason)
            await self._decide(self._decision, "approved")
            return
        try:
            await workflow.wait_condition(
                lambda: self._decision is not None or self._withdrawal is not None,
                timeout=input.approval_sla,
            )
        except TimeoutError:
            if self._deciding:  # a decision is being recorded right now: it stands
                await workflow.wait_condition(lambda: self._decision is not None)
            else:
                self._deciding = True
                reason = f"no decision within {input.approval_sla}"
                self._decision = AfterSaleDecision(actor=SYSTEM, approve=True, reason=reason)
                await self._decide(self._decision, "auto_approved")

    async def _refund_due(self) -> bool:
        """Refund-only: at once. A return: once received. An exchange: only if the order
        cannot ship the replacement."""
        if self._input.type == "refund_only":
            return True
        if not await self._returned():
            return False
        return self._input.type != "exchange" or not await self._exchanged()

    async def _exchanged(self) -> bool:
        """The order ships the units again (or the variants they are exchanged for); False when
        it cannot (then: refunded)."""
        warehouse = self._input.return_warehouse_id
        assert warehouse is not None
        swap = self._input.replacements
        lines = [
            PackageLine(
                line_no=x.line_no, sku_id=swap.get(x.line_no, x.sku_id), quantity=x.quantity
            )
            for x in self._input.quote.lines
        ]
        detail = {f"line_{no}_sku": sku for no, sku in sorted(swap.items())}
        await self._step("exchanging", "exchanging", detail=detail)
        parent = workflow.info().parent
        assert parent is not None
        await workflow.get_external_workflow_handle(parent.workflow_id).signal(
            messages.EXCHANGE_REQUESTED,
            ExchangeRequested(as_no=self._input.as_no, warehouse_id=warehouse, lines=lines),
        )
        await workflow.wait_condition(lambda: self._replacement is not None)
        assert self._replacement is not None
        if self._replacement.package_no is None:
            await self._step("exchanging", "exchange_impossible", detail={"reason": "no stock"})
            return False
        await self._step(
            "exchanged", "exchanged", detail={"package_no": self._replacement.package_no}
        )
        return True

    @workflow.signal(name=messages.REPLACEMENT_READY)
    def replacement_ready(self, ready: ReplacementReady) -> None:
        self._replacement = ready

    async def _refund(self) -> None:
        quote, refund_no = self._input.quote, f"RF{self._input.as_no}"
        await self._step("refunding", "refunding", detail={"amount_fen": quote.total_fen})
        if quote.total_fen > 0:
            while not await self._refunded_at_provider(refund_no):
                await workflow.wait_condition(lambda: self._refund_refused is None)
        if quote.return_coupons:
            await call(OrderActivities.return_coupon, self._input.order_no)
        await self._step(
            "refunded", "refunded", detail={"amount_fen": quote.total_fen}, refund_no=refund_no
        )

    async def _refunded_at_provider(self, refund_no: str) -> bool:
        """False when the provider refused it: then it waits for staff to retry, visibly, and
        the order stays open meanwhile (an after-sale never ends without its money)."""
        try:
            await call(
                PaymentActivities.refund_payment,
                RefundRequest(
                    order_no=self._input.order_no,
                    refund_no=refund_no,
                    payment_id=self._input.payment.payment_id,
                    transaction_id=self._input.payment.transaction_id,
                    amount_fen=self._input.quote.total_fen,
                    reason=f"after-sale {self._input.as_no}: {self._input.reason}"[:500],
                ),
                start_to_close=timedelta(minutes=2),
            )
        except FAILED as exc:
            cause = refusal(exc)
            if cause is None or cause.type != "RefundRefusedError":
                raise
            self._refund_refused = cause.message[:300]
            await self._step("refunding", "refund_refused", detail={"reason": self._refund_refused})
            return False
        return True

    @workflow.update
    async def retry_refund(self, retry: RefundRetry) -> AfterSaleView:
        self._refund_refused = None  # a second retry meanwhile is refused by the validator
        await self._step(
            "refunding", "refund_retried", actor=retry.actor, detail={"reason": retry.reason}
        )
        return self.view()

    @retry_refund.validator
    def _may_retry_refund(self, retry: RefundRetry) -> None:
        if self._refund_refused is None:
            raise ApplicationError(
                f"after-sale is {self._status}: no refused refund to retry",
                type="InvalidStateError",
            )

    async def _settle(self) -> AfterSaleView:
        parent = workflow.info().parent
        refunded = self._input.quote.total_fen if self._status == "refunded" else 0
        if parent is not None:
            await workflow.get_external_workflow_handle(parent.workflow_id).signal(
                messages.AFTER_SALE_SETTLED,
                AfterSaleSettled(
                    as_no=self._input.as_no, status=self._status, refunded_fen=refunded
                ),
            )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.view()

    # --- customer service and the customer -----------------------------------------------------

    @workflow.update
    async def decide(self, decision: AfterSaleDecision) -> AfterSaleView:
        self._deciding = True  # validators refuse another decision or a withdrawal from now on
        await self._decide(decision, "approved" if decision.approve else "rejected")
        # Only now the run goes on: its next step must not overtake the decision's.
        self._decision = decision
        return self.view()

    @decide.validator
    def _may_decide(self, decision: AfterSaleDecision) -> None:
        if self._status != "requested" or self._deciding or self._withdrawal is not None:
            raise ApplicationError(f"after-sale is {self._status}", type="InvalidStateError")
        if not decision.approve and not decision.reason.strip():
            raise ApplicationError("a rejection needs a reason", type="InvalidInputError")
        filer = self._input.requested_by
        if (decision.actor.kind, decision.actor.name) == (filer.kind, filer.name):
            raise ApplicationError(  # separation of duties, whatever roles the person holds
                f"{filer.name} filed this after-sale and cannot decide it",
                type="SeparationOfDutiesError",
            )

    @workflow.update
    async def withdraw(self, withdrawal: AfterSaleWithdrawal) -> AfterSaleView:
        self._withdrawal = withdrawal
        await self._step("withdrawn", "withdrawn", actor=withdrawal.actor)
        return self.view()

    @withdraw.validator
    def _may_withdraw(self, withdrawal: AfterSaleWithdrawal) -> None:
        if self._status != "requested" or self._deciding or self._withdrawal is not None:
            raise ApplicationError(
                f"after-sale is {self._status}: only an undecided one can be withdrawn",
                type="InvalidStateError",
            )

    # --- helpers ---------------------------------------------------------------------------------

    async def _decide(self, decision: AfterSaleDecision, step: str) -> None:
        self._decided_by = f"{decision.actor.kind}:{decision.actor.name}"
        self._decision_reason = decision.reason or None
        await self._step(
            "approved" if decision.approve else "rejected",
            step,
            actor=decision.actor,
            detail={"reason": decision.reason},
        )
