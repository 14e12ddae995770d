"""A wave's progress in PostgreSQL (DESIGN §6.4): which packages are picked (and sorted) and
what they miss, cancelled packages, escalation and the end of the wave."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.contracts.order import Actor
from models.contracts.order import PackageLine as Line
from models.contracts.waves import PackagePicked, PicksCancelled, WaveProgress
from models.db import (
    DeviceScan,
    OutboundOrder,
    PackageLine,
    PickAllocation,
    PickStop,
    PickTask,
    PutWallSlot,
    Sku,
    TransferLine,
    Wave,
)
from models.domain.transfers import is_transfer
from services import notifications, pick_stock
from services.put_wall import slot_waiting

OPEN_TASK = ("open", "claimed")


async def settle(session: AsyncSession, wave_no: str) -> WaveProgress:
    """Mark the packages whose picks are all finished (and, on the put wall, sorted) picked or
    short; answer every such package of the wave, so a retried call tells the same ones."""
    outbound = (
        await session.scalars(
            select(OutboundOrder)
            .where(
                OutboundOrder.wave_no == wave_no,
                OutboundOrder.status.in_(("planned", "picked", "short")),
            )
            .order_by(OutboundOrder.package_no)
            .with_for_update()
        )
    ).all()
    ready: list[PackagePicked] = []
    for package in outbound:
        if package.status == "planned" and not await _finished(session, package.package_no):
            continue
        picked = await _picked(session, package.package_no, wave_no)
        if package.status == "planned":
            package.status = "short" if picked.missing else "picked"
        ready.append(picked)
    open_tasks = await session.scalar(
        select(func.count()).where(PickTask.wave_no == wave_no, PickTask.status.in_(OPEN_TASK))
    )
    await session.flush()
    return WaveProgress(
        ready=ready,
        open_tasks=int(open_tasks or 0),
        open_packages=sum(1 for p in outbound if p.status == "planned"),
    )


async def picked_on_floor(session: AsyncSession, package_no: str) -> str | None:
    """The wave of a package whose picks are all finished (and, on the put wall, sorted), as
    the floor's records say, whether or not the wave has settled it yet; else None."""
    outbound = await session.get(OutboundOrder, package_no)
    if outbound is None or outbound.wave_no is None:
        return None
    if outbound.status in ("picked", "short"):
        return outbound.wave_no
    if outbound.status == "planned" and await _finished(session, package_no):
        return outbound.wave_no
    return None


async def _finished(session: AsyncSession, package_no: str) -> bool:
    open_allocations = await session.scalar(
        select(func.count()).where(
            PickAllocation.package_no == package_no, PickAllocation.status == "open"
        )
    )
    if open_allocations:
        return False
    slot = await session.scalar(select(PutWallSlot).where(PutWallSlot.package_no == package_no))
    return (
        slot is None
        or slot.status != "sorting"
        or not await slot_waiting(session, slot.wave_no, slot.slot_no)
    )


async def _picked(session: AsyncSession, package_no: str, wave_no: str) -> PackagePicked:
    lines: type[PackageLine] | type[TransferLine] = PackageLine
    if is_transfer(package_no):  # a transfer between warehouses, picked like a package
        lines = TransferLine
    number = PackageLine.package_no if lines is PackageLine else TransferLine.transfer_no
    got = (  # units picked per line, read with the lines: one round trip
        select(func.coalesce(func.sum(PickAllocation.picked), 0))
        .where(
            PickAllocation.package_no == package_no,
            PickAllocation.line_no == lines.line_no,
            PickAllocation.status.in_(("picked", "short", "shipped")),
        )
        .scalar_subquery()
    )
    ordered = await session.execute(
        select(lines.line_no, lines.sku_id, lines.quantity, Sku.weight_g, got)
        .join(Sku, Sku.id == lines.sku_id)
        .where(number == package_no)
        .order_by(lines.line_no)
    )
    picked: list[Line] = []
    missing: list[Line] = []
    weight = 0
    for line_no, sku_id, quantity, weight_g, units in ordered:
        have = min(quantity, int(units))
        if have:
            picked.append(Line(line_no=line_no, sku_id=sku_id, quantity=have))
        if quantity > have:
            missing.append(Line(line_no=line_no, sku_id=sku_id, quantity=quantity - have))
            weight += (quantity - have) * weight_g
    return PackagePicked(
        package_no=package_no,
        wave_no=wave_no,
        picked=picked,
        missing=missing,
        missing_weight_g=weight,
        picked_by=await _picked_by(session, package_no),
    )


async def _picked_by(session: AsyncSession, package_no: str) -> Actor | None:
    """The device whose accepted scan (a pick or a short) on a task holding the package's
    stops came last, with the worker signed in on it: named as `api.deps.actor_of` names a
    device and its worker, so the picked step reads like the packed one. None when no device
    scanned (the picks were booked otherwise)."""
    last = (
        await session.execute(
            select(DeviceScan.device, DeviceScan.worker)
            .join(PickStop, PickStop.task_no == DeviceScan.ref_no)
            .join(PickAllocation, PickAllocation.id == PickStop.allocation_id)
            .where(
                PickAllocation.package_no == package_no,
                DeviceScan.kind.in_(("pick", "short")),
                DeviceScan.status_code == DeviceScan.ANSWERED,
            )
            .order_by(DeviceScan.created_at.desc(), DeviceScan.scan_id.desc())
            .limit(1)
        )
    ).first()
    if last is None:
        return None
    device, worker = last
    name = device.partition(":")[2] or device  # the writer's actor is "<kind>:<name>"
    return Actor(kind="device", name=f"{name} / {worker}"[:100] if worker else name, role="device")


async def cancel(session: AsyncSession, package_no: str) -> PicksCancelled:
    """The package is cancelled: it leaves the planner and its wave; what it holds at
    locations is freed (picked units go back to their location)."""
    outbound = await session.get(OutboundOrder, package_no, with_for_update=True)
    if outbound is None:
        return PicksCancelled(wave_no=None, returned_units=0)
    outbound.status = "cancelled"
    returned = await pick_stock.free_allocations(session, package_no)
    ids = select(PickAllocation.id).where(PickAllocation.package_no == package_no)
    tasks = (
        await session.scalars(
            update(PickStop)
            .where(PickStop.allocation_id.in_(ids), PickStop.status == "open")
            .values(status="cancelled")
            .returning(PickStop.task_no)
        )
    ).all()
    for task_no in sorted(set(tasks)):
        await _close_if_empty(session, task_no)
    await session.execute(
        update(PutWallSlot).where(PutWallSlot.package_no == package_no).values(status="cancelled")
    )
    await session.flush()
    return PicksCancelled(wave_no=outbound.wave_no, returned_units=returned)


async def _close_if_empty(session: AsyncSession, task_no: str) -> None:
    counts: dict[str, int] = {
        status: n
        for status, n in await session.execute(
            select(PickStop.status, func.count())
            .where(PickStop.task_no == task_no)
            .group_by(PickStop.status)
        )
    }
    if counts.get("open"):
        return
    task = await session.get(PickTask, task_no, with_for_update=True)
    if task is None or task.status not in OPEN_TASK:
        return
    if counts.get("short"):
        task.status = "short"
    elif counts.get("done"):
        task.status = "done"
    else:
        task.status = "cancelled"


async def escalate(session: AsyncSession, wave_no: str, reason: str) -> None:
    await session.execute(
        update(Wave)
        .where(Wave.wave_no == wave_no)
        .values(escalated=True, escalation_reason=reason[:300])
    )
    warehouse_id = await session.scalar(select(Wave.warehouse_id).where(Wave.wave_no == wave_no))
    await notifications.raise_notice(
        session,
        notifications.Notice(
            kind="escalated_wave", ref=wave_no, detail=reason, warehouse_id=warehouse_id
        ),
    )


async def finish(session: AsyncSession, wave_no: str, at: datetime) -> None:
    """The wave is done and its escalation settled: one statement (it may commit alone)."""
    done = (
        update(Wave)
        .where(Wave.wave_no == wave_no, Wave.status == "picking")
        .values(status="done", finished_at=at)
        .cte("wave_done")
    )
    await session.execute(notifications.resolving("escalated_wave", wave_no, at).add_cte(done))
