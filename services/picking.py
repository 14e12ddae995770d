"""What handheld devices do in a wave (DESIGN §6.4, issue 4 items 5–7), in PostgreSQL.

Every scan carries a device-generated id and is stored with its answer: the same id again gets
the stored answer, whatever happened since (a retried request never picks twice). Scans of one
task are serialised on the task's row. Refusals say what was expected. The caller signals the
wave only at milestones: a task finished (done or short) and a put-wall slot complete.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.contracts import messages
from models.db import (
    DeviceScan,
    Location,
    PickAllocation,
    PickStop,
    PickTask,
    PutWallLine,
    PutWallSlot,
    Sku,
    Wave,
)
from models.domain.scans import (
    PickForbidden,
    PickRefused,
    StopToPick,
    check_pick,
    check_short,
    finished_status,
    refusal_answer,
)
from models.domain.transfers import is_transfer
from services import pick_stock


@dataclass
class ScanOutcome:
    """What the device is told about a scan, stored with the scan so that the same scan id
    gets it again. `refused`: the rules refused the scan and nothing changed (the body says
    which rule and what was expected)."""

    body: dict[str, Any]
    refused: bool = False
    milestone: str | None = None  # messages.TASK_FINISHED / PACKAGE_SORTED: tell the wave
    wave_no: str = ""


# --- claiming -------------------------------------------------------------------------------


async def next_task(
    session: AsyncSession,
    *,
    device: str,
    warehouse_id: int,
    now: datetime,
    claimed: list[str] | None = None,
) -> dict[str, Any] | None:
    """The device's unfinished task, else the next open one of its warehouse (earliest cutoff
    first), claimed with SKIP LOCKED so two devices never get the same task. A task claimed by
    this call has its number appended to `claimed`."""
    task = await session.scalar(
        select(PickTask)
        .where(PickTask.claimed_by == device, PickTask.status == "claimed")
        .order_by(PickTask.claimed_at)
        .limit(1)
    )
    if task is None:
        task = await session.scalar(
            select(PickTask)
            .join(Wave, Wave.wave_no == PickTask.wave_no)
            .where(PickTask.warehouse_id == warehouse_id, PickTask.status == "open")
            .order_by(Wave.cutoff_at, PickTask.wave_no, PickTask.seq)
            .limit(1)
            .with_for_update(of=PickTask, skip_locked=True)
        )
        if task is None:
            return None
        task.status, task.claimed_by, task.claimed_at = "claimed", device, now
        await session.flush()
        if claimed is not None:
            claimed.append(task.task_no)
    return await task_view(session, task)


async def task_view(session: AsyncSession, task: PickTask) -> dict[str, Any]:
    stops = await _stops(session, task.task_no)
    return {
        "task_no": task.task_no,
        "wave_no": task.wave_no,
        "status": task.status,
        "claimed_by": task.claimed_by,
        "route": {"name": task.route_name, "length_cm": task.route_cm},
        "stops": stops,
        "next": await _next_step(session, task, stops),
    }


async def _stops(session: AsyncSession, task_no: str) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(PickStop, Location.code, Location.barcode, Sku.code, Sku.barcode, Sku.name)
        .join(Location, Location.id == PickStop.location_id)
        .join(Sku, Sku.id == PickStop.sku_id)
        .where(PickStop.task_no == task_no)
        .order_by(PickStop.stop_no)
    )
    return [
        {
            "stop_no": stop.stop_no,
            "location_code": loc_code,
            "location_barcode": loc_barcode,
            "sku_id": stop.sku_id,
            "sku_code": sku_code,
            "sku_barcode": sku_barcode,
            "sku_name": sku_name,
            "batch_no": stop.batch_no,
            "quantity": stop.quantity,
            "picked": stop.picked,
            "short": stop.short,
            "status": stop.status,
        }
        for stop, loc_code, loc_barcode, sku_code, sku_barcode, sku_name in rows
    ]


async def _next_step(
    session: AsyncSession, task: PickTask, stops: list[dict[str, Any]]
) -> dict[str, Any]:
    for stop in stops:
        if stop["status"] == "open":
            remaining = stop["quantity"] - stop["picked"] - stop["short"]
            return {"action": "pick", "stop": {**stop, "remaining": remaining}}
    if task.status == "cancelled":
        return {"action": "done", "reason": "task cancelled"}
    sorts = await session.scalar(
        select(func.count()).select_from(PutWallSlot).where(PutWallSlot.wave_no == task.wave_no)
    )
    if sorts:
        return {"action": "put_wall", "wave_no": task.wave_no}
    outbound = set(
        await session.scalars(
            select(PickAllocation.package_no)
            .join(PickStop, PickStop.allocation_id == PickAllocation.id)
            .where(PickStop.task_no == task.task_no)
        )
    )
    if outbound and all(is_transfer(number) for number in outbound):
        return {"action": "transfer", "wave_no": task.wave_no}  # to the transfer staging area
    return {"action": "pack", "wave_no": task.wave_no}


# --- scanning -------------------------------------------------------------------------------


async def stored(session: AsyncSession, scan_id: str, kind: str, ref_no: str) -> ScanOutcome | None:
    """The stored answer of a scan made before, if this id was used for the same kind of scan
    on the same task (or wave); an id used for something else is refused, never answered with
    another scan's answer."""
    scan = await session.get(DeviceScan, scan_id)
    if scan is None:
        return None
    if (scan.kind, scan.ref_no) != (kind, ref_no):
        raise PickRefused(
            "scan_id_reused",
            f"scan id {scan_id} already used for a {scan.kind} scan on {scan.ref_no}",
        )
    return ScanOutcome(scan.response, refused=scan.refused)


async def _own_task(
    session: AsyncSession, task_no: str, device: str, warehouse_id: int, scan_id: str, kind: str
) -> PickTask | ScanOutcome:
    """The task, locked (scans of one task one at a time), or the stored answer of a scan
    already made — whatever the task's state is now."""
    task = await session.get(PickTask, task_no, with_for_update=True)
    if task is None:
        raise LookupError(task_no)
    if task.warehouse_id != warehouse_id:
        raise PickForbidden(f"task {task_no} belongs to another warehouse")
    if (known := await stored(session, scan_id, kind, task_no)) is not None:
        return known
    if task.status != "claimed" or task.claimed_by != device:
        raise PickRefused(
            "task_not_yours",
            f"task {task_no} is {task.status}"
            + (f", claimed by {task.claimed_by}" if task.claimed_by else ""),
        )
    return task


async def _current_stop(session: AsyncSession, task_no: str) -> PickStop:
    stop = await session.scalar(
        select(PickStop)
        .where(PickStop.task_no == task_no, PickStop.status == "open")
        .order_by(PickStop.stop_no)
        .limit(1)
        .with_for_update()
    )
    if stop is None:
        raise PickRefused("task_complete", f"task {task_no} has no open stop")
    return stop


async def scan(
    session: AsyncSession,
    *,
    device: str,
    warehouse_id: int,
    task_no: str,
    scan_id: str,
    location_barcode: str,
    sku_barcode: str,
    quantity: int,
    now: datetime,
    worker: str | None = None,
) -> ScanOutcome:
    """`worker`: the one signed in on the device, kept with the scan (units per hour)."""
    task = await _own_task(session, task_no, device, warehouse_id, scan_id, "pick")
    if isinstance(task, ScanOutcome):
        return task
    try:
        stop = await _current_stop(session, task_no)
        await _check_scan(session, stop, location_barcode, sku_barcode, quantity)
    except PickRefused as refusal:
        return await _store(session, scan_id, device, "pick", task_no, refused=refusal)
    stop.picked += quantity
    allocation = await session.get(PickAllocation, stop.allocation_id, with_for_update=True)
    assert allocation is not None
    allocation.picked += quantity
    if stop.picked + stop.short == stop.quantity:
        stop.status = "done"
    if allocation.picked == allocation.quantity:
        allocation.status = "picked"
    return await _after_stop(session, task, scan_id, device, now, units=quantity, worker=worker)


async def _check_scan(
    session: AsyncSession, stop: PickStop, location_barcode: str, sku_barcode: str, quantity: int
) -> None:
    location = await session.get(Location, stop.location_id)
    sku = await session.get(Sku, stop.sku_id)
    assert location is not None and sku is not None
    to_pick = StopToPick(
        stop_no=stop.stop_no,
        location_code=location.code,
        location_barcode=location.barcode,
        sku_code=sku.code,
        sku_barcode=sku.barcode,
        remaining=stop.quantity - stop.picked - stop.short,
    )
    check_pick(to_pick, location_barcode, sku_barcode, quantity)


async def report_short(
    session: AsyncSession,
    *,
    device: str,
    warehouse_id: int,
    task_no: str,
    scan_id: str,
    found: int,
    today: date,
    now: datetime,
    actor: str | None = None,
    worker: str | None = None,
) -> ScanOutcome:
    """The current stop has only `found` more units: they are picked, the rest is short and
    re-allocated elsewhere in the warehouse (new stops at the end of this task) if it can be.
    The write-off's ledger row names `actor` (the device and its worker), else the device."""
    task = await _own_task(session, task_no, device, warehouse_id, scan_id, "short")
    if isinstance(task, ScanOutcome):
        return task
    stop = await _current_stop(session, task_no)
    remaining = stop.quantity - stop.picked - stop.short
    if (refusal := check_short(stop.stop_no, remaining, found)) is not None:
        return await _store(session, scan_id, device, "short", task_no, refused=refusal)
    allocation = await session.get(PickAllocation, stop.allocation_id, with_for_update=True)
    assert allocation is not None
    stop.picked += found
    stop.short = remaining - found
    stop.status = "short"
    allocation.picked += found
    allocation.status = "short"
    missing = allocation.quantity - allocation.picked
    replacements = await pick_stock.short(
        session, allocation, missing, today=today, actor=actor or device
    )
    last = int(
        await session.scalar(select(func.max(PickStop.stop_no)).where(PickStop.task_no == task_no))
        or 0
    )
    for n, replacement in enumerate(replacements, start=1):
        session.add(
            PickStop(
                task_no=task_no,
                stop_no=last + n,
                allocation_id=replacement.id,
                location_id=replacement.location_id,
                sku_id=replacement.sku_id,
                batch_no=replacement.batch_no,
                quantity=replacement.quantity,
            )
        )
    released = missing - sum(r.quantity for r in replacements)
    if released:
        await _expect_less(session, allocation, released)
    await session.flush()
    return await _after_stop(
        session, task, scan_id, device, now, kind="short", units=found, worker=worker
    )


async def _expect_less(session: AsyncSession, allocation: PickAllocation, units: int) -> None:
    """The package's slot no longer waits for units that will never come."""
    slot = await session.scalar(
        select(PutWallSlot).where(PutWallSlot.package_no == allocation.package_no)
    )
    if slot is not None:
        await session.execute(
            update(PutWallLine)
            .where(
                PutWallLine.wave_no == slot.wave_no,
                PutWallLine.slot_no == slot.slot_no,
                PutWallLine.sku_id == allocation.sku_id,
            )
            .values(expected=PutWallLine.expected - units)
        )


async def _after_stop(
    session: AsyncSession,
    task: PickTask,
    scan_id: str,
    device: str,
    now: datetime,
    kind: str = "pick",
    units: int = 0,
    worker: str | None = None,
) -> ScanOutcome:
    await session.flush()
    open_stops = await session.scalar(
        select(func.count()).where(PickStop.task_no == task.task_no, PickStop.status == "open")
    )
    milestone = None
    if not open_stops:
        shorts = await session.scalar(
            select(func.count()).where(PickStop.task_no == task.task_no, PickStop.status == "short")
        )
        task.status, task.finished_at = finished_status(int(shorts or 0)), now
        milestone = messages.TASK_FINISHED
    body = {"scan_id": scan_id, "accepted": True, **await task_view(session, task)}
    answer = await _store(
        session, scan_id, device, kind, task.task_no, body, units=units, worker=worker
    )
    answer.milestone, answer.wave_no = milestone, task.wave_no
    return answer


async def _store(
    session: AsyncSession,
    scan_id: str,
    device: str,
    kind: str,
    ref_no: str,
    body: dict[str, Any] | None = None,
    *,
    refused: PickRefused | None = None,
    units: int = 0,
    worker: str | None = None,
) -> ScanOutcome:
    """The scan and its answer, kept for the same scan id: accepted with `body`, or refused.
    An accepted scan keeps the units it picked and the worker (the pick_hourly rollup)."""
    answer = (
        ScanOutcome(refusal_answer(refused), refused=True) if refused else ScanOutcome(body or {})
    )
    session.add(
        DeviceScan(
            scan_id=scan_id,
            device=device,
            kind=kind,
            ref_no=ref_no,
            status_code=DeviceScan.outcome_code(refused=answer.refused),
            response=answer.body,
            worker=worker[:64] if worker and not answer.refused else None,
            units=units if units and not answer.refused else None,
        )
    )
    await session.flush()
    return answer
