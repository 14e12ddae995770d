"""Payloads of ShipmentWorkflow (one package of an order, DESIGN §6.2)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from models.contracts.order import Actor, PackageLine, ShippingAddress

ShipmentStatus = Literal[
    "released",
    "picked",
    "weight_hold",
    "packed",
    "waybill_created",
    "shipped",
    "delivered",
    "exception",
    "reshipping",
    "refund_requested",
    "cancelled",
]


class ShipmentInput(BaseModel):
    order_no: str
    package_no: str
    warehouse_id: int
    carrier_code: str
    address: ShippingAddress
    lines: list[PackageLine]
    expected_weight_g: int
    weight_tolerance_g: int
    weight_tolerance_pct: int
    tracking_poll_interval: timedelta = timedelta(hours=6)


class ShipmentResult(BaseModel):
    package_no: str
    # short: nothing of the package was found in the warehouse (the order was told what).
    outcome: Literal["delivered", "refund", "reship", "cancelled", "short"]
    tracking_no: str | None = None


class PackRequest(BaseModel):
    actor: Actor
    measured_weight_g: int
    # The floor's records say every unit is picked (and sorted): the device was told to pack,
    # and the wave is telling the package. The package takes the pack and waits for the wave.
    picked_on_floor: bool = False


class WeightOverride(BaseModel):
    actor: Actor
    reason: str


class ExceptionDecision(BaseModel):
    actor: Actor
    decision: Literal["reship", "refund"]
    reason: str


class HandoverRequest(BaseModel):
    actor: Actor


class TrackingEvent(BaseModel):
    code: str
    description: str = ""
    location: str = ""
    occurred_at: datetime


class TrackingSnapshot(BaseModel):
    tracking_no: str
    status: str
    events: list[TrackingEvent] = Field(default_factory=list)


class WaybillRequest(BaseModel):
    package_no: str
    carrier_code: str
    warehouse_id: int
    address: ShippingAddress
    weight_g: int
    attempt: int = 0


class Waybill(BaseModel):
    package_no: str
    waybill_no: str
    tracking_no: str


class WaybillCancel(BaseModel):
    """A packed package is cancelled before handover: its waybill is voided at the carrier."""

    package_no: str
    waybill_no: str


class ShipmentStep(BaseModel):
    """A projection write: the package's status, the fields that changed, one timeline row."""

    order_no: str
    package_no: str
    status: ShipmentStatus
    step: str
    key: str
    seq: int = 0
    at: datetime | None = None
    actor: Actor
    detail: dict[str, str | int | bool | None] = Field(default_factory=dict)
    carrier_code: str | None = None
    expected_weight_g: int | None = None
    measured_weight_g: int | None = None
    hold_reason: str | None = None
    waybill_no: str | None = None
    tracking_no: str | None = None
    tracking_events: list[TrackingEvent] | None = None
    waybill_cancelled_at: datetime | None = None

    def package_fields(self) -> dict[str, object]:
        fields = self.model_dump(
            include={
                "carrier_code",
                "expected_weight_g",
                "measured_weight_g",
                "hold_reason",
                "waybill_no",
                "tracking_no",
                "tracking_events",
            },
            exclude_none=True,
            mode="json",
        )
        if self.waybill_cancelled_at is not None:  # a timestamp column, not JSON
            fields["waybill_cancelled_at"] = self.waybill_cancelled_at
        return fields


class ConsumeRequest(BaseModel):
    order_no: str
    package_no: str
    warehouse_id: int
    lines: list[PackageLine]


class ShipmentView(BaseModel):
    package_no: str
    order_no: str
    status: ShipmentStatus
    expected_weight_g: int
    measured_weight_g: int | None
    waybill_no: str | None
    tracking_no: str | None
    tracking_events: list[TrackingEvent]
    hold_reason: str | None
    waybill_cancelled_at: datetime | None = None  # voided at the carrier (cancelled packed)


class WithdrawUnits(BaseModel):
    """The order asks a package not yet picked to give up units (a refund-only after-sale
    before shipment, issue 6 item 2)."""

    as_no: str
    lines: list[PackageLine]


class WithdrawRequest(BaseModel):
    """The stock side of a withdrawal: one transaction, idempotent per (after-sale, package)."""

    order_no: str
    package_no: str
    as_no: str
    lines: list[PackageLine]


class UnitsWithdrawn(BaseModel):
    """What a package gave up (also the package's answer to its order): `withdrawn` are no
    longer reserved for it, `left` is what it still ships; `refused` says why nothing was
    taken (already picked, handed over, cancelled)."""

    as_no: str
    package_no: str
    withdrawn: list[PackageLine] = Field(default_factory=list)
    left: list[PackageLine] = Field(default_factory=list)
    withdrawn_weight_g: int = 0
    wave_no: str | None = None  # the wave the package left (its picks were freed)
    refused: str | None = None
