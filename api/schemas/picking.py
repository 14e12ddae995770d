"""What handhelds are answered: a pick task as the device sees it, and scan answers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.common import Public


class PickStopView(Public):
    stop_no: int
    location_code: str
    location_barcode: str
    sku_id: int
    sku_code: str
    sku_barcode: str
    sku_name: str
    batch_no: str
    quantity: int
    picked: int
    short: int
    status: str


class NextStop(PickStopView):
    remaining: int = Field(description="units still to pick at this stop")


class NextStep(Public):
    """What the device does next: pick at `stop`, or the task is done (`reason`), or its
    units go to the put wall, straight to packing, or (a transfer's) to the transfer staging
    area where the source's manager ships them (`wave_no`)."""

    action: Literal["pick", "done", "put_wall", "pack", "transfer"]
    stop: NextStop | None = None
    reason: str | None = None
    wave_no: str | None = None


class TaskRoute(Public):
    name: str
    length_cm: int


class PickTaskView(Public):
    task_no: str
    wave_no: str
    status: str
    claimed_by: str | None
    route: TaskRoute
    stops: list[PickStopView]
    next: NextStep


class ScanAnswer(PickTaskView):
    """An accepted pick or short report: the task as it now stands."""

    scan_id: str
    accepted: Literal[True]


class PackNext(BaseModel):
    action: Literal["pack"]
    package_no: str


class PutAnswer(Public):
    """A put-wall scan: the slot to put the unit in, or the exception tote when no package of
    the wave waits for it (`accepted` false, `detail` says why)."""

    scan_id: str
    accepted: bool
    action: Literal["put", "exception_tote"]
    detail: str | None = None
    slot_no: int | None = None
    package_no: str | None = None
    slot_complete: bool | None = None
    next: PackNext | None = None
