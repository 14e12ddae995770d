"""AfterSaleWorkflow's state, in one dataclass: what an after-sale's run and its handlers share.

Apart from workflows/after_sale.py so that the sandbox, which imports a workflow's module afresh
for every run, does not build the dataclass again for every after-sale: this module is passed
through (no module state; each run makes its own AfterSaleState)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.contracts.after_sale import (
        AfterSaleDecision,
        AfterSaleStatus,
        AfterSaleWithdrawal,
        ReplacementReady,
        ReturnInspection,
        ReturnShipment,
    )
    from models.contracts.shipment import TrackingSnapshot


def _no_parcel() -> TrackingSnapshot:
    return TrackingSnapshot(tracking_no="", status="created")


@dataclass
class AfterSaleState:
    """An after-sale's state: what its run and its handlers share."""

    sla_due_at: datetime | None  # none when approved at once (before shipment)
    status: AfterSaleStatus = "requested"
    seq: int = 0  # projection steps recorded
    deciding: bool = False  # a decision is being recorded: no other, no withdrawal
    decision: AfterSaleDecision | None = None
    decided_by: str | None = None
    decision_reason: str | None = None
    withdrawal: AfterSaleWithdrawal | None = None
    shipped_back: ReturnShipment | None = None
    parcel: TrackingSnapshot = field(default_factory=_no_parcel)  # the return parcel
    parcel_seen: int = 0  # its events already on the timeline
    inspection: ReturnInspection | None = None
    replacement: ReplacementReady | None = None
    refund_refused: str | None = None  # why the provider refused, until retried
