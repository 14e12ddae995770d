"""ShipmentWorkflow (`shipment-PK…`): one package of an order, from release to the warehouse to
delivery (DESIGN §6.2). Released, the package is an outbound order waiting for a wave; its wave
tells it when its units are picked (and sorted), and what was not found — the order decides about
those. Then a pack station packs it; the weight must be within tolerance or a warehouse manager
overrides the hold. Histories from before wave picking replay with packing straight away."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities
    from activities.shipments import ShipmentActivities
    from activities.waves import WaveActivities
    from models.contracts import messages
    from models.contracts.order import Actor, ReleaseRequest
    from models.contracts.shipment import (
        ConsumeRequest,
        ExceptionDecision,
        HandoverRequest,
        PackRequest,
        ShipmentInput,
        ShipmentResult,
        ShipmentStatus,
        ShipmentView,
        TrackingSnapshot,
        WaybillCancel,
        WaybillRequest,
        WeightOverride,
    )
    from models.contracts.waves import OutboundRequest, PackagePicked
    from models.domain.shipping import weight_within_tolerance
    from workflows.common import FAILED, call, refusal, signal_unless_gone
    from workflows.shipment_steps import EXCEPTION_CODES, ShipmentSteps
    from workflows.visibility import show

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


@workflow.defn
class ShipmentWorkflow(ShipmentSteps):
    @workflow.init
    def __init__(self, input: ShipmentInput) -> None:
        self._lock = asyncio.Lock()
        self._input: ShipmentInput | None = input
        self._status: ShipmentStatus = "released"
        self._measured: int | None = None
        self._hold_reason: str | None = None
        self._override: WeightOverride | None = None
        self._handover: HandoverRequest | None = None
        self._decision: ExceptionDecision | None = None
        self._cancel = False
        self._waybill_no: str | None = None
        self._tracking_no: str | None = None
        self._snapshot = TrackingSnapshot(tracking_no="", status="created")
        self._labelled = False  # the waybill step is recorded: readers see the label
        self._steps = 0
        self._seen = 0
        self._waves = False  # picked through a wave before packing (WAVES_PATCH)
        self._picked: PackagePicked | None = None
        self._expected = input.expected_weight_g
        self._lines = list(input.lines)  # less what after-sales took out before picking
        self._left_waves: set[str] = set()
        self._waybill_voided: datetime | None = None  # voided at the carrier (VOID_PATCH)

    @workflow.run
    async def run(self, input: ShipmentInput) -> ShipmentResult:
        show(business_no=input.package_no, status=self._status, warehouse=input.warehouse_id)
        self._waves = workflow.patched(WAVES_PATCH)
        if self._waves:  # waiting for a wave before anyone sees the package released
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
        if self._waves and not await self._picked_in_wave():
            if self._cancel:
                return await self._cancelled()
            return ShipmentResult(package_no=input.package_no, outcome="short")
        if not await self._packed() or not await self._waybill() or not await self._handed_over():
            return await self._cancelled()
        outcome = await self._track() if await self._ship() else await self._exception()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return ShipmentResult(
            package_no=input.package_no, outcome=outcome, tracking_no=self._tracking_no
        )

    # --- steps -----------------------------------------------------------------------------

    async def _picked_in_wave(self) -> bool:
        """Waits for the wave; False when cancelled meanwhile or nothing was found."""
        await workflow.wait_condition(lambda: self._picked is not None or self._cancel)
        if self._cancel or self._picked is None:
            return False
        picked = self._picked
        if picked.missing:
            self._expected -= picked.missing_weight_g
            await self._tell_order_short(picked)
        if not picked.picked:
            await self._step("cancelled", "short", hold_reason="nothing found in the warehouse")
            return False
        await self._step(
            "picked",
            "picked",
            detail={
                "wave_no": picked.wave_no,
                "missing_units": sum(m.quantity for m in picked.missing),
            },
            expected_weight_g=self._expected,
        )
        return True

    async def _packed(self) -> bool:
        await workflow.wait_condition(lambda: self._status == "packed" or self._cancel)
        return not self._cancel

    async def _waybill(self) -> bool:
        request = WaybillRequest(
            package_no=self._in.package_no,
            carrier_code=self._in.carrier_code,
            warehouse_id=self._in.warehouse_id,
            address=self._in.address,
            weight_g=self._measured or self._expected,
        )
        await call(ShipmentActivities.allocate_tracking_number, request)
        waybill = await call(ShipmentActivities.create_waybill, request)
        self._waybill_no, self._tracking_no = waybill.waybill_no, waybill.tracking_no
        await self._step(
            "waybill_created",
            "waybill_created",
            waybill_no=waybill.waybill_no,
            tracking_no=waybill.tracking_no,
        )
        self._labelled = True
        if not workflow.patched(QUIET_PATCH):  # the order learns at handover (see QUIET_PATCH)
            await self._tell_order()
        return not self._cancel

    async def _handed_over(self) -> bool:
        await workflow.wait_condition(
            lambda: self._handover is not None or self._cancel or bool(self._snapshot.events)
        )
        return self._handover is not None or bool(self._snapshot.events)

    async def _ship(self) -> bool:
        """Sales out of the reserved units; False when the warehouse cannot fill them (a batch
        blocked after the order was placed): then staff decide, as for a lost parcel."""
        request = ConsumeRequest(
            order_no=self._in.order_no,
            package_no=self._in.package_no,
            warehouse_id=self._in.warehouse_id,
            lines=self._lines,
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
            self._hold_reason = f"stock short at handover: {cause.message}"
            await self._step("exception", "stock_short", hold_reason=self._hold_reason)
            return False
        actor = self._handover.actor if self._handover else Actor(kind="provider", name="carrier")
        await self._step("shipped", "shipped", actor=actor)
        await self._tell_order()
        return True

    async def _track(self) -> str:
        """Take every snapshot pushed (or polled when the carrier is silent) until the parcel
        is delivered or lost/refused. `_seen` counts the events already recorded."""
        while True:
            try:
                await workflow.wait_condition(
                    lambda: len(self._snapshot.events) > self._seen,
                    timeout=self._in.tracking_poll_interval,
                )
            except TimeoutError:
                assert self._tracking_no is not None
                self._take_snapshot(await call(ShipmentActivities.poll_tracking, self._tracking_no))
            # Decide on the snapshot that is recorded: a push arriving meanwhile is taken by
            # the next round, never skipped.
            snapshot = self._snapshot
            if len(snapshot.events) > self._seen:
                self._seen = len(snapshot.events)
                await self._step(
                    self._package_status(snapshot),
                    "tracking",
                    detail={"code": snapshot.status},
                    tracking_events=snapshot.events,
                )
            if snapshot.status == "delivered":
                if not workflow.patched(QUIET_PATCH):  # the order learns from our result
                    await self._tell_order()
                return "delivered"
            if snapshot.status in EXCEPTION_CODES:
                return await self._exception()

    async def _exception(self) -> str:
        await self._tell_order()
        await workflow.wait_condition(lambda: self._decision is not None)
        assert self._decision is not None
        return "refund" if self._decision.decision == "refund" else "reship"

    async def _cancelled(self) -> ShipmentResult:
        if self._waves:  # out of its wave: what it holds at locations goes back
            freed = await call(WaveActivities.cancel_picks, self._in.package_no)
            if freed.wave_no is not None:
                wave = workflow.get_external_workflow_handle(f"wave-{freed.wave_no}")
                # a finished wave needs no telling
                await signal_unless_gone(wave, messages.PACKAGE_CANCELLED, self._in.package_no)
        await call(
            InventoryActivities.release_stock,
            ReleaseRequest(
                order_no=self._in.order_no, package_no=self._in.package_no, reason="order cancelled"
            ),
        )
        if self._waybill_no is not None and workflow.patched(VOID_PATCH):
            await self._void_waybill(self._waybill_no)
        await self._step("cancelled", "cancelled")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return ShipmentResult(package_no=self._in.package_no, outcome="cancelled")

    async def _void_waybill(self, waybill_no: str) -> None:
        """The label will never be handed over: the carrier voids the waybill (idempotent: a
        retry finds it voided). A carrier that refuses (it already has the parcel) is noted on
        the timeline for staff; the cancel goes on."""
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
                self._status,
                "waybill_cancel_refused",
                detail={"waybill_no": waybill_no, "reason": cause.message[:200]},
            )
            return
        self._waybill_voided = workflow.now()
        await self._step(
            self._status,
            "waybill_cancelled",
            detail={"waybill_no": waybill_no},
            waybill_cancelled_at=self._waybill_voided,
        )

    # --- people, devices and the carrier ----------------------------------------------------

    @workflow.update
    async def pack(self, request: PackRequest) -> ShipmentView:
        floor = self._waves and self._status == "released"
        if floor:  # picked on the floor: its wave is telling us
            await self._told_picked()
        async with self._lock:
            if floor and self._status != "picked":  # another pack was first
                raise ApplicationError(f"package is {self._status}", type="InvalidStateError")
            self._measured = request.measured_weight_g
            expected = self._expected
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
                self._hold_reason = f"weighed {request.measured_weight_g} g, expected {expected} g"
                await self._step(
                    "weight_hold",
                    "weight_hold",
                    actor=request.actor,
                    measured_weight_g=request.measured_weight_g,
                    hold_reason=self._hold_reason,
                )
        return await self._with_label()

    async def _told_picked(self) -> None:
        try:
            await workflow.wait_condition(
                lambda: self._status != "released" or self._cancel, timeout=PICKED_WAIT
            )
        except TimeoutError:
            raise ApplicationError(
                "package is released (its wave has not picked it)", type="InvalidStateError"
            ) from None
        if self._status != "picked" or self._cancel:
            raise ApplicationError(f"package is {self._status}", type="InvalidStateError")

    @pack.validator
    def _may_pack(self, request: PackRequest) -> None:
        told = request.picked_on_floor or self._picked is not None
        if self._waves and told and self._status == "released" and not self._cancel:
            return  # picked: the handler waits for the wave's word to be recorded

        if self._status not in ("picked" if self._waves else "released", "weight_hold"):
            waiting = " (not picked yet: its wave picks it first)" if self._waves else ""
            raise ApplicationError(f"package is {self._status}{waiting}", type="InvalidStateError")
        if request.measured_weight_g <= 0:
            raise ApplicationError("measured weight must be positive", type="InvalidInputError")

    @workflow.update
    async def override_weight(self, request: WeightOverride) -> ShipmentView:
        async with self._lock:
            self._override = request
            await self._step(
                "packed", "weight_override", actor=request.actor, detail={"reason": request.reason}
            )
        return await self._with_label()

    @override_weight.validator
    def _may_override(self, request: WeightOverride) -> None:
        if self._status != "weight_hold":
            raise ApplicationError("no weight hold to override", type="InvalidStateError")

    @workflow.update
    async def hand_over(self, request: HandoverRequest) -> ShipmentView:
        self._handover = request
        await workflow.wait_condition(lambda: self._status not in ("waybill_created",))
        return self.view()

    @hand_over.validator
    def _may_hand_over(self, request: HandoverRequest) -> None:
        if self._status != "waybill_created":
            raise ApplicationError(f"package is {self._status}", type="InvalidStateError")

    @workflow.update
    async def decide_exception(self, decision: ExceptionDecision) -> ShipmentView:
        self._decision = decision
        await self._step(
            "exception",
            f"decided_{decision.decision}",
            actor=decision.actor,
            detail={"reason": decision.reason},
        )
        return self.view()

    @decide_exception.validator
    def _may_decide(self, decision: ExceptionDecision) -> None:
        if self._status != "exception" or self._decision is not None:
            raise ApplicationError("no open exception on this package", type="InvalidStateError")

    @workflow.signal
    def tracking(self, snapshot: TrackingSnapshot) -> None:
        self._take_snapshot(snapshot)

    @workflow.signal
    def cancel(self) -> None:
        if self._status in ("released", "picked", "weight_hold", "packed", "waybill_created"):
            self._cancel = True

    @workflow.signal(name=messages.PICKED)
    def picked(self, picked: PackagePicked) -> None:
        """From the wave: the units are picked (and sorted); a repeat changes nothing."""
        if (
            self._picked is None
            and self._status == "released"
            and picked.wave_no not in self._left_waves
        ):
            self._picked = picked

    @workflow.query
    def view(self) -> ShipmentView:
        return ShipmentView(
            package_no=self._in.package_no,
            order_no=self._in.order_no,
            status=self._status,
            expected_weight_g=self._expected,
            measured_weight_g=self._measured,
            waybill_no=self._waybill_no,
            tracking_no=self._tracking_no,
            tracking_events=self._snapshot.events,
            hold_reason=self._hold_reason,
            waybill_cancelled_at=self._waybill_voided,
        )

    # --- helpers ----------------------------------------------------------------------------

    async def _with_label(self) -> ShipmentView:
        if self._status == "packed" and workflow.patched(LABEL_PATCH):
            with suppress(TimeoutError):  # the carrier is slow: the package shows it later
                await workflow.wait_condition(
                    lambda: self._labelled or self._cancel, timeout=LABEL_WAIT
                )
        return self.view()
