"""ShipmentWorkflow's state, in one dataclass: what a package's run and its handlers share.

Apart from workflows/shipment.py so that the sandbox, which imports a workflow's module afresh
for every run, does not build the dataclass again for every package: this module is passed
through (no module state; each run makes its own ShipmentState)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.contracts.order import PackageLine
    from models.contracts.shipment import (
        ExceptionDecision,
        HandoverRequest,
        ShipmentStatus,
        TrackingSnapshot,
        WeightOverride,
    )
    from models.contracts.waves import PackagePicked


def _no_tracking() -> TrackingSnapshot:
    return TrackingSnapshot(tracking_no="", status="created")


@dataclass
class ShipmentState:
    """A package's state: what its run and its handlers share."""

    expected_g: int  # less what was not found or withdrawn
    lines: list[PackageLine]  # less what after-sales took out before picking
    status: ShipmentStatus = "released"
    steps: int = 0  # projection steps recorded
    waves: bool = False  # picked through a wave before packing (WAVES_PATCH)
    picked: PackagePicked | None = None  # the wave's word
    left_waves: set[str] = field(default_factory=set)  # waves it was withdrawn from
    cancel: bool = False
    measured_g: int | None = None
    hold_reason: str | None = None
    override: WeightOverride | None = None
    waybill_no: str | None = None
    tracking_no: str | None = None
    labelled: bool = False  # the waybill step is recorded: readers see the label
    waybill_voided: datetime | None = None  # voided at the carrier (VOID_PATCH)
    handover: HandoverRequest | None = None
    snapshot: TrackingSnapshot = field(default_factory=_no_tracking)
    seen: int = 0  # tracking events already recorded
    decision: ExceptionDecision | None = None
