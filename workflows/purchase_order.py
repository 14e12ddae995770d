"""PurchaseOrderWorkflow (`po-PO…`): draft → submit → approval tiered by amount (SLA reminder,
then escalation) → sent, in_transit raised → any number of receipts → closed when fully
received, closed short by staff, or automatically N days after the last receipt, releasing
what is still in transit (DESIGN §6.5). The figures are models/domain/purchasing.py's."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.purchasing import PurchasingActivities
    from models.contracts.order import Actor
    from models.contracts.purchasing import (
        OPEN_FOR_RECEIPTS,
        CloseReason,
        CloseRequest,
        Decision,
        InTransitRequest,
        PoStatus,
        PoStep,
        PoView,
        PurchaseOrderInput,
        ReceiptBooking,
        ReceiptResult,
        ReceiveGoodsRequest,
        ReceiveRequest,
        SendPo,
        Staff,
    )
    from models.domain.purchasing import (
        InTransitChange,
        InvalidReceiptError,
        OverDeliveryError,
        PoFigures,
        apply_receipt,
        check_receipt,
        closing_release,
        empty_figures,
    )
    from models.domain.settlement import (
        ApprovalError,
        approval_progress,
        check_approval,
        check_rejection,
        required_roles,
    )
    from workflows.common import call, patched
    from workflows.visibility import show

SYSTEM = Actor(kind="system", name="purchasing")
# A submit sent right after the start can be handled before the run's first step (updates are
# handled first in an activation): that step then set the status back to draft and the PO hung.
# Patched: submit waits for the "created" step.
SUBMIT_AFTER_CREATED_PATCH = "po-submit-after-created"
# A receipt's goods and its "received" step in one local activity (receive_and_record) rather
# than two: one activity, one transaction and one marker fewer per receipt.
ONE_RECEIPT_ACTIVITY_PATCH = "po-one-receipt-activity"


@dataclass
class PoState:
    """A purchase order's state: what its run and its handlers share."""

    amount_fen: int
    figures: PoFigures
    status: PoStatus = "draft"
    steps: int = 0  # projection steps recorded
    required: frozenset[str] = frozenset()  # roles whose approval it needs, fixed at submit
    approvals: dict[str, int] = field(default_factory=dict)  # role → user id
    submitted_by: int | None = None
    rejected: bool = False
    cancelled: bool = False
    reminded: bool = False
    escalated: bool = False
    receipts: dict[str, ReceiptResult] = field(default_factory=dict)  # by receipt key
    close: CloseRequest | None = None
    close_reason: CloseReason | None = None
    closing: bool = False  # set under the receipt lock when closing starts


@workflow.defn
class PurchaseOrderWorkflow:
    @workflow.init
    def __init__(self, input: PurchaseOrderInput) -> None:
        self._in = input
        self._state = PoState(
            amount_fen=sum(line.quantity * line.unit_price_fen for line in input.lines),
            figures=empty_figures(input.lines),
        )
        self._lock = asyncio.Lock()  # one receipt at a time: each checks the figures before it

    @workflow.run
    async def run(self, input: PurchaseOrderInput) -> PoView:
        warehouses = {line.warehouse_id for line in input.lines}
        show(
            business_no=input.po_no,
            status=self._state.status,
            warehouse=warehouses.pop() if len(warehouses) == 1 else None,
            escalated=self._state.escalated,
        )
        await self._step("draft", "created", input.created_by.actor)
        await workflow.wait_condition(lambda: self._state.status != "draft")
        if self._state.status == "pending_approval" and await self._approved():
            await self._send()
            await self._receive_until_closed()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.view()

    # --- approval -------------------------------------------------------------------------

    async def _approved(self) -> bool:
        """Wait for the decision; past the SLA a reminder, past a second SLA an escalation."""
        sla = self._in.timings.approval_sla
        for late in ("approval_reminder", "approval_escalated"):
            try:
                await workflow.wait_condition(self._decided, timeout=sla)
                break
            except TimeoutError:
                if late == "approval_reminder":
                    self._state.reminded = True
                else:
                    self._state.escalated = True
                await self._step(
                    self._state.status, late, SYSTEM, waiting_s=int(sla.total_seconds())
                )
        await workflow.wait_condition(self._decided)
        return not (self._state.rejected or self._state.cancelled)

    def _decided(self) -> bool:
        return self._state.rejected or self._state.cancelled or self._fully_approved()

    def _fully_approved(self) -> bool:
        return (
            bool(self._state.required)
            and approval_progress(self._state.required, self._state.approvals).approved
        )

    @workflow.update
    async def submit(self, by: Staff) -> PoView:
        if patched(SUBMIT_AFTER_CREATED_PATCH):
            await workflow.wait_condition(lambda: self._state.steps > 0)
        self._state.required = required_roles(self._state.amount_fen, self._in.policy.approval)
        self._state.submitted_by = by.user_id
        await self._step(
            "pending_approval", "submitted", by.actor, amount_fen=self._state.amount_fen
        )
        return self.view()

    @submit.validator
    def _may_submit(self, by: Staff) -> None:
        self._expect("draft")

    @workflow.update
    async def approve(self, decision: Decision) -> PoView:
        self._state.approvals[decision.role] = decision.by.user_id
        await self._step(
            "approved" if self._fully_approved() else "pending_approval",
            f"approved_as_{decision.role}",
            decision.by.actor,
        )
        return self.view()

    @approve.validator
    def _may_approve(self, decision: Decision) -> None:
        self._expect("pending_approval")
        try:
            check_approval(
                self._state.required,
                self._state.approvals,
                role=decision.role,
                user_id=decision.by.user_id,
                user_roles=decision.by.roles,
                submitted_by=self._state.submitted_by,
                drafted_by=self._in.created_by.user_id,
            )
        except ApprovalError as exc:
            raise ApplicationError(str(exc), type="ApprovalError") from exc

    @workflow.update
    async def reject(self, decision: Decision) -> PoView:
        self._state.rejected = True
        await self._step("rejected", "rejected", decision.by.actor, reason=decision.reason)
        return self.view()

    @reject.validator
    def _may_reject(self, decision: Decision) -> None:
        self._expect("pending_approval")
        try:
            check_rejection(
                self._state.required,
                user_id=decision.by.user_id,
                user_roles=decision.by.roles,
                reason=decision.reason,
            )
        except ApprovalError as exc:
            raise ApplicationError(str(exc), type="ApprovalError") from exc

    @workflow.update
    async def cancel(self, decision: Decision) -> PoView:
        self._state.cancelled = True
        await self._step("cancelled", "cancelled", decision.by.actor, reason=decision.reason)
        return self.view()

    @cancel.validator
    def _may_cancel(self, decision: Decision) -> None:
        self._expect("draft", "pending_approval")
        if not decision.reason.strip():
            raise ApplicationError("a cancel needs a reason", type="InvalidInputError")

    # --- sent, receipts, closing ------------------------------------------------------------

    async def _send(self) -> None:
        """In transit from now: one ledger row per line raises its warehouse's in_transit."""
        raised = [
            InTransitChange(**line.model_dump(include={"line_no", "sku_id", "warehouse_id"}),
                            quantity=line.ordered)
            for line in self._state.figures.lines
        ]  # fmt: skip
        supplier_order = await call(
            PurchasingActivities.send_to_supplier,
            SendPo(po_no=self._in.po_no, supplier_id=self._in.supplier_id, lines=self._in.lines),
        )
        await self._in_transit(raised, "sent", raise_=True)
        await self._step("sent", "sent_to_supplier", SYSTEM, supplier_order_no=supplier_order)

    async def _receive_until_closed(self) -> None:
        state = self._state
        auto_close = self._in.timings.auto_close_after
        while True:
            seen = len(state.receipts)
            try:
                await workflow.wait_condition(
                    lambda: (
                        len(state.receipts) != seen  # noqa: B023 - awaited here
                        or state.close is not None
                        or state.figures.fully_received
                    ),
                    timeout=auto_close if seen else None,
                )
                timed_out = False
            except TimeoutError:
                timed_out = True
            # Decide and close holding the receipt lock: no receipt is in flight meanwhile, and
            # one accepted but still waiting for the lock is refused once it gets it.
            async with self._lock:
                if state.figures.fully_received:
                    reason: CloseReason = "fully_received"
                elif state.close is not None:
                    reason = "closed_short"
                elif timed_out and len(state.receipts) == seen:
                    reason = "auto_closed"
                else:  # a receipt came in as the timer fired: the N days start again
                    continue
                state.closing = True
                close = state.close if reason == "closed_short" else None
                actor = close.by.actor if close else SYSTEM
                note = {"note": close.reason} if close else {}
                await self._closed(reason, actor, **note)
                return

    async def _closed(self, reason: CloseReason, actor: Actor, **detail: Any) -> None:
        self._state.close_reason = reason
        released = closing_release(self._state.figures)
        if released:
            await self._in_transit(released, "closed", raise_=False)
        await self._step("closed", reason, actor, released=sum(c.quantity for c in released),
                         **detail)  # fmt: skip

    @workflow.update
    async def receive(self, request: ReceiveRequest) -> ReceiptResult:
        async with self._lock:
            if (done := self._state.receipts.get(request.receipt_key)) is not None:
                return done.model_copy(update={"duplicate": True})
            if self._state.closing:  # accepted just before the close began, which then went first
                raise ApplicationError("the PO is being closed", type="InvalidStateError")
            try:  # checked again in turn: a receipt accepted meanwhile may have used the margin
                outcome = apply_receipt(
                    self._state.figures, request.receipt, self._in.policy.over_delivery
                )
            except (InvalidReceiptError, OverDeliveryError) as exc:
                raise ApplicationError(str(exc), type=type(exc).__name__) from exc
            receipt_no = f"RC{self._in.po_no[2:]}{len(self._state.receipts) + 1:02d}"
            goods = ReceiveGoodsRequest(
                po_no=self._in.po_no,
                receipt_no=receipt_no,
                request=request,
                lines=self._in.lines,
                in_transit_removed=list(outcome.in_transit_removed),
            )
            result = ReceiptResult(
                receipt_no=receipt_no, receipt_key=request.receipt_key, figures=outcome.figures
            )
            if patched(ONE_RECEIPT_ACTIVITY_PATCH):
                # The step as _step would record it once the state holds the receipt; the state
                # changes only when both are booked (a refused receipt changes nothing).
                status: PoStatus = "receiving"
                view = self.view().model_copy(
                    update={
                        "status": status,
                        "figures": outcome.figures,
                        "receipts": [*self.view().receipts, receipt_no],
                    }
                )
                step = PoStep(
                    po_no=self._in.po_no,
                    status=status,
                    seq=self._state.steps + 1,
                    step="received",
                    actor=request.actor,
                    at=workflow.now(),
                    detail={"receipt_no": receipt_no},
                    view=view,
                )
                await call(
                    PurchasingActivities.receive_and_record, ReceiptBooking(goods=goods, step=step)
                )
                self._state.figures = outcome.figures
                self._state.receipts[request.receipt_key] = result
                self._state.status = status
                self._state.steps = step.seq
                show(status=status, escalated=self._state.escalated)
                return result
            await call(PurchasingActivities.receive_goods, goods)
            self._state.figures = outcome.figures
            self._state.receipts[request.receipt_key] = result
            await self._step("receiving", "received", request.actor, receipt_no=receipt_no)
            return result

    @receive.validator
    def _may_receive(self, request: ReceiveRequest) -> None:
        if request.receipt_key in self._state.receipts:
            return  # a retry: answered with the stored receipt
        self._expect(*OPEN_FOR_RECEIPTS)
        if self._state.close is not None or self._state.closing:
            raise ApplicationError("the PO is being closed", type="InvalidStateError")
        elsewhere = sorted(
            line.line_no
            for line in self._state.figures.lines
            if line.warehouse_id != request.warehouse_id
            and line.line_no in {r.line_no for r in request.receipt.lines}
        )
        if elsewhere:
            raise ApplicationError(
                f"PO lines {elsewhere} are for another warehouse than {request.warehouse_id}",
                type="WrongWarehouseError",
            )
        try:
            check_receipt(self._state.figures, request.receipt, self._in.policy.over_delivery)
        except (InvalidReceiptError, OverDeliveryError) as exc:
            raise ApplicationError(str(exc), type=type(exc).__name__) from exc

    @workflow.update
    async def close_short(self, request: CloseRequest) -> PoView:
        self._state.close = request
        await workflow.wait_condition(lambda: self._state.status == "closed")
        return self.view()

    @close_short.validator
    def _may_close(self, request: CloseRequest) -> None:
        self._expect(*OPEN_FOR_RECEIPTS)
        if self._state.close is not None:
            raise ApplicationError("the PO is already being closed", type="InvalidStateError")

    # --- view and helpers -------------------------------------------------------------------

    @workflow.query
    def view(self) -> PoView:
        return PoView(
            po_no=self._in.po_no,
            supplier_id=self._in.supplier_id,
            status=self._state.status,
            amount_fen=self._state.amount_fen,
            required_roles=sorted(self._state.required),
            approvals=dict(self._state.approvals),
            reminded=self._state.reminded,
            escalated=self._state.escalated,
            figures=self._state.figures,
            close_reason=self._state.close_reason,
            receipts=[r.receipt_no for r in self._state.receipts.values()],
        )

    def _expect(self, *statuses: PoStatus) -> None:
        if self._state.status not in statuses:
            raise ApplicationError(
                f"purchase order is {self._state.status}", type="InvalidStateError"
            )

    async def _in_transit(self, changes: list[InTransitChange], key: str, *, raise_: bool) -> None:
        request = InTransitRequest(
            po_no=self._in.po_no, key=key, changes=changes, raise_=raise_, actor="system:purchasing"
        )
        await call(PurchasingActivities.move_po_in_transit, request)

    async def _step(self, status: PoStatus, step: str, actor: Actor, **detail: Any) -> None:
        self._state.status = status
        show(status=status, escalated=self._state.escalated)
        self._state.steps += 1
        await call(
            PurchasingActivities.record_po_step,
            PoStep(
                po_no=self._in.po_no,
                status=status,
                seq=self._state.steps,
                step=step,
                actor=actor,
                at=workflow.now(),
                detail=detail,
                view=self.view(),
            ),
        )
