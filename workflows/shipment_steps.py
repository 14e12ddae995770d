"""What ShipmentWorkflow's steps share (DESIGN §6.2): its input, the projection write of each
step, and what it tells its order (progress at handover and exceptions, units not found)."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities
    from activities.shipments import ShipmentActivities
    from models.contracts import messages
    from models.contracts.order import Actor, PackageLine, PackageView
    from models.contracts.shipment import (
        ShipmentInput,
        ShipmentStatus,
        ShipmentStep,
        TrackingSnapshot,
        UnitsWithdrawn,
        WithdrawRequest,
        WithdrawUnits,
    )
    from models.contracts.waves import PackagePicked, PackageShort
    from workflows.common import call, signal_unless_gone
    from workflows.visibility import show

SYSTEM = Actor(kind="system", name="shipment")
EXCEPTION_CODES = frozenset({"lost", "refused"})


class ShipmentSteps:
    _input: ShipmentInput | None
    _status: ShipmentStatus
    _steps: int
    _snapshot: TrackingSnapshot
    _waybill_no: str | None
    _tracking_no: str | None
    _lock: asyncio.Lock
    _picked: PackagePicked | None
    _cancel: bool
    _expected: int
    _lines: list[PackageLine]
    _left_waves: set[str]

    @workflow.signal
    async def withdraw_units(self, ask: WithdrawUnits) -> None:
        """From the order: a refund-only after-sale before shipment takes units out of this
        package while nothing of it is picked. Answered with `units_withdrawn` to the order;
        a package left with nothing is cancelled."""
        async with self._lock:
            answer = UnitsWithdrawn(
                as_no=ask.as_no,
                package_no=self._in.package_no,
                refused=f"package {self._in.package_no} is {self._status}",
            )
            if self._status == "released" and self._picked is None and not self._cancel:
                answer = await self._withdraw(ask)
        parent = workflow.info().parent
        if parent is not None:
            await workflow.get_external_workflow_handle(parent.workflow_id).signal(
                messages.UNITS_WITHDRAWN, answer
            )

    async def _withdraw(self, ask: WithdrawUnits) -> UnitsWithdrawn:
        request = WithdrawRequest(
            order_no=self._in.order_no,
            package_no=self._in.package_no,
            as_no=ask.as_no,
            lines=ask.lines,
        )
        answer = await call(InventoryActivities.withdraw_units, request)
        if answer.refused is not None:
            return answer
        self._lines = answer.left
        self._expected -= answer.withdrawn_weight_g
        if answer.wave_no is not None:  # it left its wave: the wave stops waiting for it
            self._left_waves.add(answer.wave_no)
            wave = workflow.get_external_workflow_handle(f"wave-{answer.wave_no}")
            # a finished wave needs no telling
            await signal_unless_gone(wave, messages.PACKAGE_CANCELLED, self._in.package_no)
        units = sum(x.quantity for x in answer.withdrawn)
        await self._step(
            "released",
            "units_withdrawn",
            detail={"as_no": ask.as_no, "units": units, "left": len(answer.left)},
            expected_weight_g=self._expected,
        )
        if not answer.left:
            self._cancel = True
        return answer

    @property
    def _in(self) -> ShipmentInput:
        assert self._input is not None
        return self._input

    def _take_snapshot(self, snapshot: TrackingSnapshot) -> None:
        """Pushes carry the full list and may arrive out of order: keep the longest."""
        if len(snapshot.events) > len(self._snapshot.events):
            self._snapshot = snapshot

    @staticmethod
    def _package_status(snapshot: TrackingSnapshot) -> ShipmentStatus:
        if snapshot.status == "delivered":
            return "delivered"
        if snapshot.status in EXCEPTION_CODES:
            return "exception"
        return "shipped"

    async def _step(
        self,
        status: ShipmentStatus,
        step: str,
        *,
        actor: Actor = SYSTEM,
        detail: dict[str, Any] | None = None,
        **fields: Any,
    ) -> None:
        self._status = status
        show(status=status)
        self._steps += 1
        await call(
            ShipmentActivities.record_shipment_step,
            ShipmentStep(
                order_no=self._in.order_no,
                package_no=self._in.package_no,
                status=status,
                step=step,
                key=f"{self._steps:03d}-{step}",
                seq=self._steps,
                at=workflow.now(),
                actor=actor,
                detail=detail or {},
                **fields,
            ),
        )

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
        view = PackageView(
            package_no=self._in.package_no,
            warehouse_id=self._in.warehouse_id,
            status=self._status,
            waybill_no=self._waybill_no,
            tracking_no=self._tracking_no,
        )
        await workflow.get_external_workflow_handle(parent.workflow_id).signal(
            messages.PACKAGE_PROGRESS, view
        )
