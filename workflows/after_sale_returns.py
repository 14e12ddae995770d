"""The return part of AfterSaleWorkflow (DESIGN §6.3, issue 6 items 4 and 5): the customer ships
the goods back within the return window (the parcel is followed at its carrier: pushes, and polls
when it is silent, until it is delivered to the warehouse), then the warehouse inspects every
unit — sellable back into its batch, damaged into the damage location. Split from
workflows/after_sale.py to keep each module short; AfterSaleWorkflow inherits these handlers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.after_sales import AfterSaleActivities
    from activities.shipments import ShipmentActivities
    from models.contracts.after_sale import (
        AfterSaleInput,
        AfterSaleStatus,
        AfterSaleStep,
        AfterSaleView,
        FollowReturn,
        ReturnInbound,
        ReturnInspection,
        ReturnShipment,
    )
    from models.contracts.order import Actor
    from models.contracts.shipment import TrackingSnapshot
    from workflows.common import FAILED, call, refusal
    from workflows.visibility import show

SYSTEM = Actor(kind="system", name="after-sale")
# Returns are followed at their carrier (pushes and polls) from this version on.
FOLLOW_PATCH = "follow-return-tracking"


class AfterSaleReturns:
    """AfterSaleWorkflow's state, its projection step and query, and the return handlers."""

    _input: AfterSaleInput
    _status: AfterSaleStatus
    _shipped_back: ReturnShipment | None
    _inspection: ReturnInspection | None
    _parcel: TrackingSnapshot
    _parcel_seen: int
    _seq: int
    _sla_due_at: datetime | None
    _decided_by: str | None
    _decision_reason: str | None

    @workflow.query
    def view(self) -> AfterSaleView:
        return AfterSaleView(
            as_no=self._input.as_no,
            order_no=self._input.order_no,
            type=self._input.type,
            status=self._status,
            refund_fen=self._input.quote.total_fen,
            sla_due_at=self._sla_due_at,
            decided_by=self._decided_by,
            decision_reason=self._decision_reason,
            lines=self._input.lines,
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
        self._status = status
        show(status=status)
        self._seq += 1
        await call(
            AfterSaleActivities.record_after_sale_step,
            AfterSaleStep(
                as_no=self._input.as_no,
                order_no=self._input.order_no,
                status=status,
                step=step,
                seq=self._seq,
                at=workflow.now(),
                actor=actor,
                detail=detail or {},
                opened=opened,
                sla_due_at=self._sla_due_at if opened is not None else None,
                refund_no=refund_no,
                shipped_back=shipped_back,
            ),
        )

    async def _returned(self) -> bool:
        """The customer ships the goods back within the window, the warehouse receives them."""
        window = self._input.return_window
        await self._step("awaiting_return", "awaiting_return", detail={"days": window.days})
        try:
            await workflow.wait_condition(lambda: self._shipped_back is not None, timeout=window)
        except TimeoutError:
            await self._step("closed", "return_expired", detail={"days": window.days})
            return False
        if workflow.patched(FOLLOW_PATCH):
            await self._follow_return()
        await workflow.wait_condition(lambda: self._inspection is not None)
        return True

    async def _follow_return(self) -> None:
        """The parcel's tracking, pushed (or polled when the carrier is silent), on the
        after-sale's timeline until it is delivered to the warehouse or inspected."""
        while self._inspection is None and self._parcel.status != "delivered":
            try:
                await workflow.wait_condition(
                    lambda: self._inspection is not None or self._unseen_events(),
                    timeout=self._input.tracking_poll_interval,
                )
            except TimeoutError:
                polled = await call(ShipmentActivities.poll_tracking, self._parcel.tracking_no)
                self.return_tracking(polled)
            parcel = self._parcel
            if self._unseen_events():
                self._parcel_seen = len(parcel.events)
                step = "return_delivered" if parcel.status == "delivered" else "return_tracking"
                await self._step("returning", step, detail={"code": parcel.status})

    def _unseen_events(self) -> bool:
        return len(self._parcel.events) > self._parcel_seen

    @workflow.signal
    def return_tracking(self, snapshot: TrackingSnapshot) -> None:
        """The carrier's push for the return parcel: the full list, the longest one kept."""
        if len(snapshot.events) > len(self._parcel.events):
            self._parcel = snapshot

    @workflow.update
    async def ship_back(self, shipment: ReturnShipment) -> AfterSaleView:
        if workflow.patched(FOLLOW_PATCH):  # the carrier must know the parcel: we follow it
            follow = FollowReturn(
                as_no=self._input.as_no,
                carrier_code=shipment.carrier_code,
                tracking_no=shipment.tracking_no,
            )
            try:
                self.return_tracking(await call(ShipmentActivities.follow_return, follow))
            except FAILED as exc:
                cause = refusal(exc)
                raise ApplicationError(
                    cause.message if cause else str(exc), type="InvalidInputError"
                ) from exc
        self._shipped_back = shipment
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
        if self._status != "awaiting_return" or self._shipped_back is not None:
            raise ApplicationError(
                f"after-sale is {self._status}: no return expected", type="InvalidStateError"
            )

    @workflow.update
    async def inspect(self, inspection: ReturnInspection) -> AfterSaleView:
        asked = {line.line_no: line.sku_id for line in self._input.quote.lines}
        warehouse = self._input.return_warehouse_id
        assert warehouse is not None
        units = await call(
            AfterSaleActivities.receive_return,
            ReturnInbound(
                as_no=self._input.as_no,
                order_no=self._input.order_no,
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
        self._inspection = inspection
        return self.view()

    @inspect.validator
    def _may_inspect(self, inspection: ReturnInspection) -> None:
        if self._status != "returning" or self._inspection is not None:
            raise ApplicationError(
                f"after-sale is {self._status}: no return to receive", type="InvalidStateError"
            )
        asked = {line.line_no: line.quantity for line in self._input.quote.lines}
        found = {line.line_no: line.sellable + line.damaged for line in inspection.lines}
        if found != asked:
            raise ApplicationError(
                f"inspect every returned unit: expected {asked}, got {found}",
                type="InvalidInputError",
            )
