"""ShipmentWorkflow (`shipment-PK…`): one package of an order, from release to the warehouse to
delivery (DESIGN §6.2). Released, the package is an outbound order waiting for a wave; its wave
tells it when its units are picked (and sorted), and what was not found — the order decides about
those. Then a pack station packs it; the weight must be within tolerance or a warehouse manager
overrides the hold. Histories from before wave picking replay with packing straight away.

One class, one state: everything the run and the handlers read and change is in
`ShipmentState`, and only the workflow's `_step` changes the status (with its projection row).
What the package tells its order (progress at handover and exceptions, units not found, units
withdrawn) is signalled to the parent; what tracking codes mean is models/domain/shipping.py's."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities
    from activities.shipments import ShipmentActivities
    from activities.waves import WaveActivities
    from models.contracts import messages
    from models.contracts.order import Actor, PackageView, ReleaseRequest
    from models.contracts.shipment import (
        ConsumeRequest,
        ExceptionDecision,
        HandoverRequest,
        PackRequest,
        ShipmentInput,
        ShipmentResult,
        ShipmentStatus,
        ShipmentStep,
        ShipmentView,
        TrackingSnapshot,
        UnitsWithdrawn,
        WaybillCancel,
        WaybillRequest,
        WeightOverride,
        WithdrawRequest,
        WithdrawUnits,
    )
    from models.contracts.waves import OutboundRequest, PackagePicked, PackageShort
    from models.domain.shipping import (
        EXCEPTION_CODES,
        latest_tracking,
        package_status,
        weight_within_tolerance,
    )
    from workflows.common import FAILED, call, deprecate_patch, patched, refusal, signal_unless_gone
    from workflows.shipment_state import ShipmentState
    from workflows.visibility import show

SYSTEM = Actor(kind="system", name="shipment")
# The order needs to hear from a package only when that changes what the order may do: handed
# over (no more customer cancel) and exceptions (staff decide). Waybill and delivery are on the
# package's own projection, and delivery is the child's result anyway. Each signal spared saves
# a workflow task on both sides. Older histories replay with those signals.
QUIET_PATCH = "tell-order-only-handover-and-exceptions"
# A pack (or weight override) answers with the label when the carrier gives the waybill within
# this time: the pack station prints from the answer instead of polling for it.
LABEL_PATCH = "pack-answers-with-label"
LABEL_WAIT = timedelta(seconds=10)
# A package is packed only once its wave picked it (issue 4).
WAVES_PATCH = "wave-picking"
# A pack the floor's records allow (every unit picked) is taken while the wave is still telling
# the package: the pack waits this long for it (DESIGN §6: a device told `next: pack` packs),
# within the API's wait for an update's answer.
PICKED_WAIT = timedelta(seconds=25)
# A packed package cancelled before handover voids its waybill at the carrier (issue 12 item 7).
VOID_PATCH = "cancel-voids-waybill"
# Two packs accepted in the same workflow task (a handheld's resend racing its first send) both
# passed the validator: the second finds the package packed under the lock and is refused
# instead of packing it again.
PACK_ONCE_PATCH = "pack-rechecked-under-lock"


@workflow.defn
class ShipmentWorkflow:
    @workflow.init
    def __init__(self, input: ShipmentInput) -> None:
        self._in = input
        self._state = ShipmentState(expected_g=input.expected_weight_g, lines=list(input.lines))
        self._lock = asyncio.Lock()  # one pack, override or withdrawal at a time

    @workflow.run
    async def run(self, input: ShipmentInput) -> ShipmentResult:
        state = self._state
        show(business_no=input.package_no, status=state.status, warehouse=input.warehouse_id)
        state.waves = patched(WAVES_PATCH)
        if state.waves:  # waiting for a wave before anyone sees the package released
            await call(
                WaveActivities.register_outbound,
                OutboundRequest(
                    order_no=input.order_no,
                    package_no=input.package_no,
                    warehouse_id=input.warehouse_id,
                    carrier_code=input.carrier_code,
                    released_at=workflow.now(),
                ),
            )
        await self._step(
            "released",
            "released",
            carrier_code=input.carrier_code,
            expected_weight_g=input.expected_weight_g,
        )
        if state.waves and not await self._picked_in_wave():
            if state.cancel:
                return await self._cancelled()
            return ShipmentResult(package_no=input.package_no, outcome="short")
        if not await self._packed() or not await self._waybill() or not await self._handed_over():
            return await self._cancelled()
        outcome = await self._track() if await self._ship() else await self._exception()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return ShipmentResult(
            package_no=input.package_no, outcome=outcome, tracking_no=state.tracking_no
        )

    # --- steps -----------------------------------------------------------------------------

    async def _picked_in_wave(self) -> bool:
        """Waits for the wave; False when cancelled meanwhile or nothing was found."""
        state = self._state
        await workflow.wait_condition(lambda: state.picked is not None or state.cancel)
        if state.cancel or state.picked is None:
            return False
        picked = state.picked
        if picked.missing:
            state.expected_g -= picked.missing_weight_g
            await self._tell_order_short(picked)
        if not picked.picked:
            await self._step("cancelled", "short", hold_reason="nothing found in the warehouse")
            return False
        await self._step(
            "picked",
            "picked",
            actor=picked.picked_by or SYSTEM,  # the device and its worker, when one scanned
            detail={
                "wave_no": picked.wave_no,
                "missing_units": sum(m.quantity for m in picked.missing),
            },
            expected_weight_g=state.expected_g,
        )
        return True

    async def _packed(self) -> bool:
        state = self._state
        await workflow.wait_condition(lambda: state.status == "packed" or state.cancel)
        return not state.cancel

    async def _waybill(self) -> bool:
        state = self._state
        request = WaybillRequest(
            package_no=self._in.package_no,
            carrier_code=self._in.carrier_code,
            warehouse_id=self._in.warehouse_id,
            address=self._in.address,
            weight_g=state.measured_g or state.expected_g,
        )
        await call(ShipmentActivities.allocate_tracking_number, request)
        waybill = await call(ShipmentActivities.create_waybill, request)
        state.waybill_no, state.tracking_no = waybill.waybill_no, waybill.tracking_no
        await self._step(
            "waybill_created",
            "waybill_created",
            waybill_no=waybill.waybill_no,
            tracking_no=waybill.tracking_no,
        )
        state.labelled = True
        if not patched(QUIET_PATCH):  # the order learns at handover (see QUIET_PATCH)
            await self._tell_order()
        return not state.cancel

    async def _handed_over(self) -> bool:
        state = self._state
        await workflow.wait_condition(
            lambda: state.handover is not None or state.cancel or bool(state.snapshot.events)
        )
        return state.handover is not None or bool(state.snapshot.events)

    async def _ship(self) -> bool:
        """Sales out of the reserved units; False when the warehouse cannot fill them (a batch
        blocked after the order was placed): then staff decide, as for a lost parcel."""
        state = self._state
        request = ConsumeRequest(
            order_no=self._in.order_no,
            package_no=self._in.package_no,
            warehouse_id=self._in.warehouse_id,
            lines=state.lines,
        )
        try:
            await call(InventoryActivities.ship_stock, request)
        except FAILED as exc:
            cause = refusal(exc)
            if cause is None or cause.type != "StockShortError":
                raise
            await call(
                InventoryActivities.release_stock,
                ReleaseRequest(
                    order_no=self._in.order_no,
                    package_no=self._in.package_no,
                    reason="stock short at handover",
                ),
            )
            state.hold_reason = f"stock short at handover: {cause.message}"
            await self._step("exception", "stock_short", hold_reason=state.hold_reason)
            return False
        actor = state.handover.actor if state.handover else Actor(kind="provider", name="carrier")
        await self._step("shipped", "shipped", actor=actor)
        await self._tell_order()
        return True

    async def _track(self) -> str:
        """Take every snapshot pushed (or polled when the carrier is silent) until the parcel
        is delivered or lost/refused. `seen` counts the events already recorded."""
        state = self._state
        while True:
            try:
                await workflow.wait_condition(
                    lambda: len(state.snapshot.events) > state.seen,
                    timeout=self._in.tracking_poll_interval,
                )
            except TimeoutError:
                assert state.tracking_no is not None
                polled = await call(ShipmentActivities.poll_tracking, state.tracking_no)
                state.snapshot = latest_tracking(state.snapshot, polled)
            # Decide on the snapshot that is recorded: a push arriving meanwhile is taken by
            # the next round, never skipped.
            snapshot = state.snapshot
            if len(snapshot.events) > state.seen:
                state.seen = len(snapshot.events)
                await self._step(
                    package_status(snapshot),
                    "tracking",
                    detail={"code": snapshot.status},
                    tracking_events=snapshot.events,
                )
            if snapshot.status == "delivered":
                if not patched(QUIET_PATCH):  # the order learns from our result
                    await self._tell_order()
                return "delivered"
            if snapshot.status in EXCEPTION_CODES:
                return await self._exception()

    async def _exception(self) -> str:
        state = self._state
        await self._tell_order()
        await workflow.wait_condition(lambda: state.decision is not None)
        assert state.decision is not None
        return "refund" if state.decision.decision == "refund" else "reship"

    async def _cancelled(self) -> ShipmentResult:
        state = self._state
        if state.waves:  # out of its wave: what it holds at locations goes back
            freed = await call(WaveActivities.cancel_picks, self._in.package_no)
            if freed.wave_no is not None:
                await self._tell_wave_cancelled(freed.wave_no)
        await call(
            InventoryActivities.release_stock,
            ReleaseRequest(
                order_no=self._in.order_no, package_no=self._in.package_no, reason="order cancelled"
            ),
        )
        if state.waybill_no is not None:
            deprecate_patch(VOID_PATCH)  # retired: every cancel voids its waybill
            await self._void_waybill(state.waybill_no)
        await self._step("cancelled", "cancelled")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return ShipmentResult(package_no=self._in.package_no, outcome="cancelled")

    async def _void_waybill(self, waybill_no: str) -> None:
        """The label will never be handed over: the carrier voids the waybill (idempotent: a
        retry finds it voided). A carrier that refuses (it already has the parcel) is noted on
        the timeline for staff; the cancel goes on."""
        state = self._state
        try:
            await call(
                ShipmentActivities.cancel_waybill,
                WaybillCancel(package_no=self._in.package_no, waybill_no=waybill_no),
            )
        except FAILED as exc:
            cause = refusal(exc)
            if cause is None or cause.type != "WaybillCancelRefusedError":
                raise
            await self._step(
                state.status,
                "waybill_cancel_refused",
                detail={"waybill_no": waybill_no, "reason": cause.message[:200]},
            )
            return
        state.waybill_voided = workflow.now()
        await self._step(
            state.status,
            "waybill_cancelled",
            detail={"waybill_no": waybill_no},
            waybill_cancelled_at=state.waybill_voided,
        )

    # --- people, devices and the carrier ----------------------------------------------------

    @workflow.update
    async def pack(self, request: PackRequest) -> ShipmentView:
        state = self._state
        floor = state.waves and state.status == "released"
        if floor:  # picked on the floor: its wave is telling us
            await self._told_picked()
        async with self._lock:
            if floor and state.status != "picked":  # another pack was first
                raise ApplicationError(f"package is {state.status}", type="InvalidStateError")
            packable = ("picked" if state.waves else "released", "weight_hold")
            if state.status not in packable and patched(PACK_ONCE_PATCH):
                raise ApplicationError(f"package is {state.status}", type="InvalidStateError")
            state.measured_g = request.measured_weight_g
            expected = state.expected_g
            if weight_within_tolerance(
                expected,
                request.measured_weight_g,
                self._in.weight_tolerance_g,
                self._in.weight_tolerance_pct,
            ):
                await self._step(
                    "packed",
                    "packed",
                    actor=request.actor,
                    measured_weight_g=request.measured_weight_g,
                )
            else:
                state.hold_reason = f"weighed {request.measured_weight_g} g, expected {expected} g"
                await self._step(
                    "weight_hold",
                    "weight_hold",
                    actor=request.actor,
                    measured_weight_g=request.measured_weight_g,
                    hold_reason=state.hold_reason,
                )
        return await self._with_label()

    async def _told_picked(self) -> None:
        state = self._state
        try:
            await workflow.wait_condition(
                lambda: state.status != "released" or state.cancel, timeout=PICKED_WAIT
            )
        except TimeoutError:
            raise ApplicationError(
                "package is released (its wave has not picked it)", type="InvalidStateError"
            ) from None
        if state.status != "picked" or state.cancel:
            raise ApplicationError(f"package is {state.status}", type="InvalidStateError")

    @pack.validator
    def _may_pack(self, request: PackRequest) -> None:
        state = self._state
        told = request.picked_on_floor or state.picked is not None
        if state.waves and told and state.status == "released" and not state.cancel:
            return  # picked: the handler waits for the wave's word to be recorded

        if state.status not in ("picked" if state.waves else "released", "weight_hold"):
            early = state.waves and state.status == "released"
            waiting = " (not picked yet: its wave picks it first)" if early else ""
            raise ApplicationError(f"package is {state.status}{waiting}", type="InvalidStateError")
        if request.measured_weight_g <= 0:
            raise ApplicationError("measured weight must be positive", type="InvalidInputError")

    @workflow.update
    async def override_weight(self, request: WeightOverride) -> ShipmentView:
        async with self._lock:
            self._state.override = request
            await self._step(
                "packed", "weight_override", actor=request.actor, detail={"reason": request.reason}
            )
        return await self._with_label()

    @override_weight.validator
    def _may_override(self, request: WeightOverride) -> None:
        if self._state.status != "weight_hold":
            raise ApplicationError("no weight hold to override", type="InvalidStateError")

    @workflow.update
    async def hand_over(self, request: HandoverRequest) -> ShipmentView:
        state = self._state
        state.handover = request
        await workflow.wait_condition(lambda: state.status not in ("waybill_created",))
        return self.view()

    @hand_over.validator
    def _may_hand_over(self, request: HandoverRequest) -> None:
        if self._state.status != "waybill_created":
            raise ApplicationError(f"package is {self._state.status}", type="InvalidStateError")

    @workflow.update
    async def decide_exception(self, decision: ExceptionDecision) -> ShipmentView:
        self._state.decision = decision
        await self._step(
            "exception",
            f"decided_{decision.decision}",
            actor=decision.actor,
            detail={"reason": decision.reason},
        )
        return self.view()

    @decide_exception.validator
    def _may_decide(self, decision: ExceptionDecision) -> None:
        if self._state.status != "exception" or self._state.decision is not None:
            raise ApplicationError("no open exception on this package", type="InvalidStateError")

    @workflow.signal
    def tracking(self, snapshot: TrackingSnapshot) -> None:
        self._state.snapshot = latest_tracking(self._state.snapshot, snapshot)

    @workflow.signal
    def cancel(self) -> None:
        if self._state.status in ("released", "picked", "weight_hold", "packed", "waybill_created"):
            self._state.cancel = True

    @workflow.signal(name=messages.PICKED)
    def picked(self, picked: PackagePicked) -> None:
        """From the wave: the units are picked (and sorted); a repeat changes nothing."""
        state = self._state
        if (
            state.picked is None
            and state.status == "released"
            and picked.wave_no not in state.left_waves
        ):
            state.picked = picked

    @workflow.signal
    async def withdraw_units(self, ask: WithdrawUnits) -> None:
        """From the order: a refund-only after-sale before shipment takes units out of this
        package while nothing of it is picked. Answered with `units_withdrawn` to the order;
        a package left with nothing is cancelled."""
        state = self._state
        async with self._lock:
            answer = UnitsWithdrawn(
                as_no=ask.as_no,
                package_no=self._in.package_no,
                refused=f"package {self._in.package_no} is {state.status}",
            )
            if state.status == "released" and state.picked is None and not state.cancel:
                answer = await self._withdraw(ask)
        parent = workflow.info().parent
        if parent is not None:
            await workflow.get_external_workflow_handle(parent.workflow_id).signal(
                messages.UNITS_WITHDRAWN, answer
            )

    async def _withdraw(self, ask: WithdrawUnits) -> UnitsWithdrawn:
        state = self._state
        request = WithdrawRequest(
            order_no=self._in.order_no,
            package_no=self._in.package_no,
            as_no=ask.as_no,
            lines=ask.lines,
        )
        answer = await call(InventoryActivities.withdraw_units, request)
        if answer.refused is not None:
            return answer
        state.lines = answer.left
        state.expected_g -= answer.withdrawn_weight_g
        if answer.wave_no is not None:  # it left its wave: the wave stops waiting for it
            state.left_waves.add(answer.wave_no)
            await self._tell_wave_cancelled(answer.wave_no)
        units = sum(x.quantity for x in answer.withdrawn)
        await self._step(
            "released",
            "units_withdrawn",
            detail={"as_no": ask.as_no, "units": units, "left": len(answer.left)},
            expected_weight_g=state.expected_g,
        )
        if not answer.left:
            state.cancel = True
        return answer

    @workflow.query
    def view(self) -> ShipmentView:
        state = self._state
        return ShipmentView(
            package_no=self._in.package_no,
            order_no=self._in.order_no,
            status=state.status,
            expected_weight_g=state.expected_g,
            measured_weight_g=state.measured_g,
            waybill_no=state.waybill_no,
            tracking_no=state.tracking_no,
            tracking_events=state.snapshot.events,
            hold_reason=state.hold_reason,
            waybill_cancelled_at=state.waybill_voided,
        )

    # --- the projection, the order and the wave ----------------------------------------------

    async def _step(
        self,
        status: ShipmentStatus,
        step: str,
        *,
        actor: Actor = SYSTEM,
        detail: dict[str, Any] | None = None,
        **fields: Any,
    ) -> None:
        """The one place the status changes: with its search attribute and projection row."""
        state = self._state
        state.status = status
        show(status=status)
        state.steps += 1
        await call(
            ShipmentActivities.record_shipment_step,
            ShipmentStep(
                order_no=self._in.order_no,
                package_no=self._in.package_no,
                status=status,
                step=step,
                key=f"{state.steps:03d}-{step}",
                seq=state.steps,
                at=workflow.now(),
                actor=actor,
                detail=detail or {},
                **fields,
            ),
        )

    async def _with_label(self) -> ShipmentView:
        state = self._state
        if state.status == "packed" and patched(LABEL_PATCH):
            with suppress(TimeoutError):  # the carrier is slow: the package shows it later
                await workflow.wait_condition(
                    lambda: state.labelled or state.cancel, timeout=LABEL_WAIT
                )
        return self.view()

    async def _tell_wave_cancelled(self, wave_no: str) -> None:
        wave = workflow.get_external_workflow_handle(f"wave-{wave_no}")
        # a finished wave needs no telling
        await signal_unless_gone(wave, messages.PACKAGE_CANCELLED, self._in.package_no)

    async def _tell_order_short(self, picked: PackagePicked) -> None:
        parent = workflow.info().parent
        if parent is None:
            return
        short = PackageShort(
            package_no=self._in.package_no,
            warehouse_id=self._in.warehouse_id,
            missing=picked.missing,
        )
        await workflow.get_external_workflow_handle(parent.workflow_id).signal(
            messages.PACKAGE_SHORT, short
        )

    async def _tell_order(self) -> None:
        parent = workflow.info().parent
        if parent is None:
            return
        state = self._state
        view = PackageView(
            package_no=self._in.package_no,
            warehouse_id=self._in.warehouse_id,
            status=state.status,
            waybill_no=state.waybill_no,
            tracking_no=state.tracking_no,
        )
        await workflow.get_external_workflow_handle(parent.workflow_id).signal(
            messages.PACKAGE_PROGRESS, view
        )
