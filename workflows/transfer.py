"""TransferWorkflow (`transfer-TR…`), a transfer between warehouses (调拨, DESIGN §6.9):
requested (the units reserved at the source by the API, so they are not sold twice) → approved
or rejected by a warehouse manager of the SOURCE warehouse → released to the source's floor as
an outbound order: planned into a wave and picked like any package (the wave tells it
`picked`) → shipped by the source (its on hand leaves, the destination's in_transit rises) →
received at the destination (good on hand at its receiving location, damaged at its damage
location, short written off in transit, over recorded) → closed. Cancelled before shipping,
the picks go back to their locations and the reservation is released. Stock is never on the
books twice nor missing (services/transfers.py says where the units are at each step)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.transfers import TransferActivities
    from activities.waves import WaveActivities
    from models.contracts import messages
    from models.contracts.order import Actor
    from models.contracts.transfers import (
        OPEN_BEFORE_SHIPPING,
        ShipTransfer,
        TransferArrival,
        TransferDecision,
        TransferInput,
        TransferLineView,
        TransferReceipt,
        TransferRelease,
        TransferShipment,
        TransferStatus,
        TransferStep,
        TransferView,
    )
    from models.contracts.waves import OutboundRequest, PackagePicked
    from models.domain.transfers import LineReceipt, TransferRuleError, check_approver
    from workflows.common import call, signal_unless_gone
    from workflows.visibility import show

SYSTEM = Actor(kind="system", name="transfer")
# The floor may show the transfer picked before its wave has told it (DESIGN §6: an answer is a
# promise): shipping waits this long for the wave's word, within the API's wait for an answer.
PICKED_WAIT = timedelta(seconds=25)


@dataclass
class TransferState:
    """A transfer's state: what its run and its handlers share."""

    lines: dict[int, TransferLineView]
    status: TransferStatus = "requested"
    steps: int = 0  # projection steps recorded
    picked: PackagePicked | None = None
    wave_no: str | None = None
    receipt_key: str | None = None
    reason: str = ""
    waves_left: set[str] = field(default_factory=set)  # waves it was cancelled out of


@workflow.defn
class TransferWorkflow:
    @workflow.init
    def __init__(self, input: TransferInput) -> None:
        self._in = input
        self._state = TransferState(
            lines={
                ln.line_no: TransferLineView(
                    line_no=ln.line_no, sku_id=ln.sku_id, requested=ln.quantity
                )
                for ln in input.lines
            }
        )
        self._lock = asyncio.Lock()  # one stock-changing command at a time

    @workflow.run
    async def run(self, input: TransferInput) -> TransferView:
        state = self._state
        show(
            business_no=input.transfer_no,
            status=state.status,
            warehouse=input.from_warehouse_id,
            escalated=False,
        )
        await self._step("requested", "requested", input.requested_by.actor, note=input.note)
        await workflow.wait_condition(lambda: state.status != "requested")
        if state.status == "approved":
            await workflow.wait_condition(
                lambda: state.picked is not None or state.status != "approved"
            )
            async with self._lock:
                if state.status == "approved" and state.picked is not None:
                    await self._picked(state.picked)
        await workflow.wait_condition(lambda: state.status in ("closed", "rejected", "cancelled"))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.view()

    # --- approval ---------------------------------------------------------------------------

    @workflow.update
    async def approve(self, decision: TransferDecision) -> TransferView:
        async with self._lock:
            self._check_decision(decision, "requested")
            await call(
                WaveActivities.register_outbound,
                OutboundRequest(
                    order_no=self._in.transfer_no,
                    package_no=self._in.transfer_no,
                    warehouse_id=self._in.from_warehouse_id,
                    carrier_code=self._in.carrier_code,
                    released_at=workflow.now(),
                ),
            )
            await self._step("approved", "approved", decision.by.actor)
        return self.view()

    @approve.validator
    def _may_approve(self, decision: TransferDecision) -> None:
        self._check_decision(decision, "requested")

    @workflow.update
    async def reject(self, decision: TransferDecision) -> TransferView:
        async with self._lock:
            self._check_decision(decision, "requested")
            self._state.reason = decision.reason
            await self._release("rejected")
            await self._step("rejected", "rejected", decision.by.actor, reason=decision.reason)
        return self.view()

    @reject.validator
    def _may_reject(self, decision: TransferDecision) -> None:
        self._check_decision(decision, "requested")
        if not decision.reason.strip():
            raise ApplicationError("a rejection needs a reason", type="InvalidInputError")

    def _check_decision(self, decision: TransferDecision, *statuses: TransferStatus) -> None:
        self._expect(*statuses)
        try:
            check_approver(
                roles=decision.by.roles,
                warehouses=decision.by.warehouses,
                source_warehouse_id=self._in.from_warehouse_id,
            )
        except TransferRuleError as exc:
            raise ApplicationError(str(exc), type="ApprovalError") from exc

    # --- cancel before shipping ---------------------------------------------------------------

    @workflow.update
    async def cancel(self, decision: TransferDecision) -> TransferView:
        async with self._lock:
            self._expect(*OPEN_BEFORE_SHIPPING)
            state = self._state
            state.reason = decision.reason
            if state.status in ("approved", "picked"):  # on the floor: picks go back
                freed = await call(WaveActivities.cancel_picks, self._in.transfer_no)
                if freed.wave_no is not None:
                    state.waves_left.add(freed.wave_no)
                    wave = workflow.get_external_workflow_handle(f"wave-{freed.wave_no}")
                    await signal_unless_gone(wave, messages.PACKAGE_CANCELLED, self._in.transfer_no)
            await self._release("cancelled")
            await self._step("cancelled", "cancelled", decision.by.actor, reason=decision.reason)
        return self.view()

    @cancel.validator
    def _may_cancel(self, decision: TransferDecision) -> None:
        self._expect(*OPEN_BEFORE_SHIPPING)
        if not decision.reason.strip():
            raise ApplicationError("a cancel needs a reason", type="InvalidInputError")

    async def _release(self, why: str) -> None:
        await call(
            TransferActivities.release_transfer_stock,
            TransferRelease(
                transfer_no=self._in.transfer_no, reason=f"transfer {why}", actor="system:transfer"
            ),
        )

    # --- picked, shipped --------------------------------------------------------------------

    @workflow.signal(name=messages.PICKED)
    def picked(self, picked: PackagePicked) -> None:
        """From the wave: the units are picked; a repeat changes nothing."""
        state = self._state
        if (
            state.picked is None
            and state.status == "approved"
            and picked.wave_no not in state.waves_left
        ):
            state.picked = picked

    async def _picked(self, picked: PackagePicked) -> None:
        for line in picked.picked:
            self._state.lines[line.line_no].picked = line.quantity
        self._state.wave_no = picked.wave_no
        missing = sum(line.quantity for line in picked.missing)
        by = picked.picked_by or SYSTEM  # the device and its worker, when one scanned
        await self._step("picked", "picked", by, wave_no=picked.wave_no, missing=missing)

    @workflow.update
    async def ship(self, request: ShipTransfer) -> TransferView:
        state = self._state
        try:  # the floor may have finished before the wave told us
            await workflow.wait_condition(lambda: state.status != "approved", timeout=PICKED_WAIT)
        except TimeoutError:
            raise ApplicationError(
                "transfer is approved (its wave has not picked it)", type="InvalidStateError"
            ) from None
        async with self._lock:
            self._expect("picked")
            shipped = await call(
                TransferActivities.ship_transfer,
                TransferShipment(
                    transfer_no=self._in.transfer_no,
                    from_warehouse_id=self._in.from_warehouse_id,
                    to_warehouse_id=self._in.to_warehouse_id,
                    actor=f"{request.by.kind}:{request.by.name}"[:100],
                ),
            )
            for line in shipped:
                state.lines[line.line_no].shipped = line.quantity
            units = sum(line.quantity for line in shipped)
            await self._step("in_transit", "shipped", request.by, units=units)
            if units == 0:  # nothing was found to pick: nothing to receive either
                await self._step("closed", "closed", SYSTEM, reason="nothing shipped")
        return self.view()

    @ship.validator
    def _may_ship(self, request: ShipTransfer) -> None:
        self._expect("approved", "picked")

    # --- received, closed -------------------------------------------------------------------

    @workflow.update
    async def receive(self, receipt: TransferReceipt) -> TransferView:
        async with self._lock:
            state = self._state
            if state.receipt_key is not None:
                return self._answer_receipt(receipt)
            self._expect("in_transit")
            counted = self._counted(receipt)
            await call(
                TransferActivities.receive_transfer,
                TransferArrival(
                    transfer_no=self._in.transfer_no,
                    to_warehouse_id=self._in.to_warehouse_id,
                    receipt_key=receipt.receipt_key,
                    lines=counted,
                    actor=f"{receipt.actor.kind}:{receipt.actor.name}"[:100],
                ),
            )
            for line in counted:
                state.lines[line.line_no] = line
            state.receipt_key = receipt.receipt_key
            figures: dict[str, Any] = {
                k: sum(getattr(ln, k) for ln in counted)
                for k in ("good", "damaged", "short", "over")
            }
            await self._step("in_transit", "received", receipt.actor, **figures)
            await self._step("closed", "closed", SYSTEM)
        return self.view()

    @receive.validator
    def _may_receive(self, receipt: TransferReceipt) -> None:
        if self._state.receipt_key is not None:
            self._answer_receipt(receipt)  # a resend is answered; another receipt refused
            return
        self._expect("in_transit")
        self._counted(receipt)

    def _answer_receipt(self, receipt: TransferReceipt) -> TransferView:
        if receipt.receipt_key != self._state.receipt_key:
            raise ApplicationError("transfer is received already", type="InvalidStateError")
        return self.view()

    def _counted(self, receipt: TransferReceipt) -> list[TransferLineView]:
        """Every line once, with what the receipt's counts mean for it (short, over)."""
        given = {line.line_no: line for line in receipt.lines}
        unknown = sorted(set(given) - set(self._state.lines))
        if unknown or len(given) != len(receipt.lines):
            raise ApplicationError(
                f"lines {unknown or 'repeated'} are not this transfer's", type="InvalidInputError"
            )
        counted = []
        for line_no, line in sorted(self._state.lines.items()):
            seen = given.get(line_no)
            figures = LineReceipt(
                shipped=line.shipped,
                good=seen.good if seen else 0,
                damaged=seen.damaged if seen else 0,
            )
            counted.append(
                line.model_copy(
                    update={
                        "good": figures.good,
                        "damaged": figures.damaged,
                        "short": figures.short,
                        "over": figures.over,
                    }
                )
            )
        return counted

    # --- view and helpers -------------------------------------------------------------------

    @workflow.query
    def view(self) -> TransferView:
        state = self._state
        return TransferView(
            transfer_no=self._in.transfer_no,
            from_warehouse_id=self._in.from_warehouse_id,
            to_warehouse_id=self._in.to_warehouse_id,
            status=state.status,
            wave_no=state.wave_no,
            lines=[line.model_copy() for _, line in sorted(state.lines.items())],
            receipt_key=state.receipt_key,
            reason=state.reason,
        )

    def _expect(self, *statuses: TransferStatus) -> None:
        if self._state.status not in statuses:
            raise ApplicationError(f"transfer is {self._state.status}", type="InvalidStateError")

    async def _step(self, status: TransferStatus, step: str, actor: Actor, **detail: Any) -> None:
        self._state.status = status
        show(status=status)
        self._state.steps += 1
        await call(
            TransferActivities.record_transfer_step,
            TransferStep(
                transfer_no=self._in.transfer_no,
                status=status,
                seq=self._state.steps,
                step=step,
                actor=actor,
                at=workflow.now(),
                detail=detail,
                view=self.view(),
            ),
        )
