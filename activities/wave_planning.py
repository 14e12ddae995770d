"""Wave planning and building in PostgreSQL (DESIGN §6.4, issue 4 items 1, 2, 4).

- `register_outbound`: a released package becomes an outbound order waiting for a wave.
- `plan`: takes the warehouse's waiting outbound orders with FOR UPDATE SKIP LOCKED (two
  planners never take the same one), plans them with `models.domain.waves`, and writes the
  released waves. A retried run (same plan key) returns the waves it made.
- `build`: allocates each line of the wave's packages to locations/batches (FEFO, location-level
  reservation), cuts the stops into routed pick tasks and gives multi-line packages a put-wall
  slot. Units no location can give are short at once (their reservation is released).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from activities import pick_stock
from activities.stock_counts import under_open_count
from models.contracts.waves import OutboundRequest, PlannedWaveRef, PlanRequest, PlanResult
from models.db import (
    Carrier,
    CarrierCutoff,
    Location,
    LocationStock,
    OutboundOrder,
    PackageLine,
    PickAllocation,
    PickStop,
    PickTask,
    PutWallLine,
    PutWallSlot,
    Reservation,
    Warehouse,
    Wave,
)
from models.domain.allocation import BatchStock, allocate
from models.domain.pick_tasks import Spot, Stop, layout_of, plan_tasks
from models.domain.waves import (
    Candidate,
    CandidateLine,
    Cutoff,
    ReleasePolicy,
    WaveCaps,
    plan_waves,
)

UNKNOWN_ZONE = "-"


@dataclass(frozen=True)
class _Alloc:
    wave_no: str
    package_no: str
    line_no: int
    sku_id: int
    warehouse_id: int
    location_stock_id: int
    location_id: int
    batch_no: str
    quantity: int


async def register_outbound(session: AsyncSession, request: OutboundRequest) -> None:
    await session.execute(
        pg_insert(OutboundOrder)
        .values(
            package_no=request.package_no,
            order_no=request.order_no,
            warehouse_id=request.warehouse_id,
            carrier_code=request.carrier_code,
            released_at=request.released_at,
            status="waiting",
        )
        .on_conflict_do_nothing(index_elements=["package_no"])
    )


async def warehouse_zone(session: AsyncSession, warehouse_id: int) -> ZoneInfo:
    name = await session.scalar(select(Warehouse.timezone).where(Warehouse.id == warehouse_id))
    if name is None:
        raise LookupError(f"unknown warehouse {warehouse_id}")
    return ZoneInfo(name)


async def plan(session: AsyncSession, request: PlanRequest) -> PlanResult:
    made = (
        await session.scalars(
            select(Wave).where(Wave.plan_key == request.plan_key).order_by(Wave.wave_no)
        )
    ).all()
    if made:
        return PlanResult(waves=[_ref(w) for w in made], held=0, flagged=0)
    zone = await warehouse_zone(session, request.warehouse_id)
    waiting = (
        await session.execute(
            select(
                OutboundOrder.package_no,
                OutboundOrder.carrier_code,
                OutboundOrder.released_at,
                OutboundOrder.ship_by,
            )
            .where(
                OutboundOrder.warehouse_id == request.warehouse_id,
                OutboundOrder.status == "waiting",
            )
            .order_by(OutboundOrder.released_at, OutboundOrder.package_no)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not waiting:
        return PlanResult(waves=[], held=0, flagged=0)
    lines = await _package_lines(session, [w.package_no for w in waiting])
    zones = await _sku_zones(session, request.warehouse_id)
    candidates = [
        Candidate(
            package_no=w.package_no,
            carrier_code=w.carrier_code,
            lines=tuple(
                CandidateLine(sku_id=sku, quantity=q, zone=zones.get(sku, UNKNOWN_ZONE))
                for _, sku, q in lines[w.package_no]
            ),
            waiting_since=w.released_at,
            ship_by=w.ship_by,
        )
        for w in waiting
        if lines[w.package_no]  # a package whose units were all released has nothing to pick
    ]
    rules = request.rules
    result = plan_waves(
        candidates,
        now=request.now,
        cutoffs=await _cutoffs(session, request.warehouse_id),
        zone=zone,
        caps=WaveCaps(
            max_orders=rules.max_orders, max_lines=rules.max_lines, max_units=rules.max_units
        ),
        policy=ReleasePolicy(
            lead_time=rules.lead_time,
            urgency_margin=rules.urgency_margin,
            max_age=rules.max_age,
            release_all=request.release_all,
        ),
    )
    day = request.now.astimezone(zone)
    refs: list[PlannedWaveRef] = []
    for planned in result.released:
        seq = int(await session.scalar(select(func.nextval("wave_seq"))) or 0)
        wave = Wave(
            wave_no=f"WV{day:%Y%m%d}{seq:06d}",
            warehouse_id=request.warehouse_id,
            plan_key=request.plan_key,
            carrier_code=planned.carrier_code,
            cutoff_at=planned.cutoff,
            profile=planned.profile,
            zone=planned.zone,
            release_reason=planned.release or "full",
            status="picking",
            orders=len(planned.package_nos),
            lines=planned.lines,
            units=planned.units,
        )
        session.add(wave)
        await session.execute(
            update(OutboundOrder)
            .where(OutboundOrder.package_no.in_(planned.package_nos))
            .values(status="planned", wave_no=wave.wave_no)
        )
        refs.append(_ref(wave))
    for flag in result.flagged:
        await session.execute(
            update(OutboundOrder)
            .where(OutboundOrder.package_no == flag.package_no)
            .values(flag_reason=flag.reason[:300])
        )
    await session.flush()
    held = sum(len(w.package_nos) for w in result.waves if not w.released)
    return PlanResult(waves=refs, held=held, flagged=len(result.flagged))


def _ref(wave: Wave) -> PlannedWaveRef:
    return PlannedWaveRef(
        wave_no=wave.wave_no,
        warehouse_id=wave.warehouse_id,
        cutoff_at=wave.cutoff_at,
        orders=wave.orders,
    )


async def _package_lines(
    session: AsyncSession, package_nos: list[str]
) -> dict[str, list[tuple[int, int, int]]]:
    """(line_no, sku_id, quantity) still held for each package."""
    rows = await session.execute(
        select(
            Reservation.package_no, Reservation.line_no, Reservation.sku_id, Reservation.quantity
        )
        .where(Reservation.package_no.in_(package_nos), Reservation.status == "held")
        .order_by(Reservation.package_no, Reservation.line_no)
    )
    lines: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    for package_no, line_no, sku_id, quantity in rows:
        lines[package_no].append((line_no, sku_id, quantity))
    return lines


async def _sku_zones(session: AsyncSession, warehouse_id: int) -> dict[int, str]:
    """The zone each SKU is mostly picked from: where most of its free units are."""
    rows = await session.execute(
        select(LocationStock.sku_id, Location.zone)
        .join(Location, Location.id == LocationStock.location_id)
        .where(
            LocationStock.warehouse_id == warehouse_id,
            LocationStock.quantity > LocationStock.reserved,
            Location.kind == "storage",
        )
        .order_by(LocationStock.sku_id, (LocationStock.quantity - LocationStock.reserved).desc())
    )
    zones: dict[int, str] = {}
    for sku_id, zone in rows:
        zones.setdefault(sku_id, zone)
    return zones


async def _cutoffs(session: AsyncSession, warehouse_id: int) -> list[Cutoff]:
    rows = await session.execute(
        select(Carrier.code, CarrierCutoff.cutoff_local)
        .join(Carrier, Carrier.id == CarrierCutoff.carrier_id)
        .where(CarrierCutoff.warehouse_id == warehouse_id, Carrier.active)
    )
    return [Cutoff(carrier_code=code, at=at) for code, at in rows]


# --- building a wave ------------------------------------------------------------------------


async def build(
    session: AsyncSession, wave_no: str, *, now: datetime, max_stops: int, max_units: int
) -> int:
    """Allocate, route and write the wave's pick tasks; returns how many. Once per wave."""
    wave = await session.get(Wave, wave_no, with_for_update=True)
    if wave is None:
        raise LookupError(f"unknown wave {wave_no}")
    today = now.astimezone(await warehouse_zone(session, wave.warehouse_id)).date()
    if wave.built:
        return int(
            await session.scalar(select(func.count()).where(PickTask.wave_no == wave_no)) or 0
        )
    packages = (
        await session.scalars(
            select(OutboundOrder.package_no)
            .where(OutboundOrder.wave_no == wave_no, OutboundOrder.status == "planned")
            .order_by(OutboundOrder.package_no)
        )
    ).all()
    lines = await _package_lines(session, list(packages))
    batches = await _batches(
        session, wave.warehouse_id, {s for ls in lines.values() for _, s, _ in ls}
    )
    taken: dict[int, int] = defaultdict(int)  # location_stock id → units allocated here
    rows: list[_Alloc] = []
    for package_no in packages:
        for line_no, sku_id, quantity in lines[package_no]:
            free = [
                b.model_copy(update={"reserved": b.reserved + taken[b.id]})
                for b in batches.get(sku_id, [])
            ]
            allocation = allocate(quantity, free, today)
            for take in allocation.takes:
                taken[take.batch.id] += take.quantity
                rows.append(
                    _Alloc(
                        wave_no=wave_no,
                        package_no=package_no,
                        line_no=line_no,
                        sku_id=sku_id,
                        warehouse_id=wave.warehouse_id,
                        location_stock_id=take.batch.id,
                        location_id=take.batch.location_id,
                        batch_no=take.batch.batch_no,
                        quantity=take.quantity,
                    )
                )
            if allocation.short:
                await pick_stock.unreserve(
                    session, package_no, line_no, allocation.short, "no pickable location"
                )
    tasks = 0
    if rows:
        ids = (
            await session.scalars(
                insert(PickAllocation).returning(PickAllocation.id, sort_by_parameter_order=True),
                [asdict(row) for row in rows],
            )
        ).all()
        await _hold_locations(session, taken)
        tasks = await _write_tasks(
            session, wave, list(zip(ids, rows, strict=True)), max_stops, max_units
        )
        await _write_slots(session, wave, rows)
    wave.built = True
    await session.flush()
    return tasks


async def _hold_locations(session: AsyncSession, taken: dict[int, int]) -> None:
    for batch_id in sorted(taken):
        await session.execute(
            update(LocationStock)
            .where(LocationStock.id == batch_id)
            .values(reserved=LocationStock.reserved + taken[batch_id])
        )


async def _batches(
    session: AsyncSession, warehouse_id: int, sku_ids: set[int]
) -> dict[int, list[BatchStock]]:
    found = await session.scalars(
        select(LocationStock)
        .join(Location, Location.id == LocationStock.location_id)
        .where(
            LocationStock.warehouse_id == warehouse_id,
            LocationStock.sku_id.in_(sku_ids),
            LocationStock.quantity > LocationStock.reserved,
            Location.kind == "storage",
            Location.active,
            ~under_open_count(LocationStock.location_id),
        )
        .order_by(LocationStock.id)
        .with_for_update(of=LocationStock)
    )
    batches: dict[int, list[BatchStock]] = defaultdict(list)
    for row in found:
        batches[row.sku_id].append(pick_stock.batch_of(row))
    return batches


async def _write_tasks(
    session: AsyncSession,
    wave: Wave,
    allocations: list[tuple[int, _Alloc]],
    max_stops: int,
    max_units: int,
) -> int:
    spots = (
        await session.execute(
            select(Location.id, Location.x_cm, Location.y_cm, Location.kind).where(
                Location.warehouse_id == wave.warehouse_id, Location.active
            )
        )
    ).all()
    where = {lid: (x, y) for lid, x, y, _ in spots}
    layout = layout_of([Spot(x_cm=x, y_cm=y, kind=kind) for _, x, y, kind in spots])
    by_id = dict(allocations)
    stops = [
        Stop(
            key=aid,
            x_cm=where[row.location_id][0],
            y_cm=where[row.location_id][1],
            quantity=row.quantity,
        )
        for aid, row in allocations
    ]
    plans = plan_tasks(layout, stops, max_stops=max_stops, max_units=max_units)
    task_rows: list[dict[str, object]] = []
    stop_rows: list[dict[str, object]] = []
    for seq, task in enumerate(plans, start=1):
        task_no = f"{wave.wave_no}-{seq:03d}"
        task_rows.append(
            {
                "task_no": task_no,
                "wave_no": wave.wave_no,
                "warehouse_id": wave.warehouse_id,
                "seq": seq,
                "status": "open",
                "route_name": task.route,
                "route_cm": task.distance_cm,
            }
        )
        for stop_no, aid in enumerate(task.keys, start=1):
            row = by_id[aid]
            stop_rows.append(
                {
                    "task_no": task_no,
                    "stop_no": stop_no,
                    "allocation_id": aid,
                    "location_id": row.location_id,
                    "sku_id": row.sku_id,
                    "batch_no": row.batch_no,
                    "quantity": row.quantity,
                }
            )
    await session.execute(insert(PickTask), task_rows)
    await session.execute(insert(PickStop), stop_rows)
    return len(task_rows)


async def _write_slots(session: AsyncSession, wave: Wave, rows: list[_Alloc]) -> None:
    """Multi-line packages are sorted on the put wall: a slot each, in package order."""
    units: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    lines: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        units[row.package_no][row.sku_id] += row.quantity
        lines[row.package_no].add(row.line_no)
    sorted_packages = [p for p in sorted(units) if len(lines[p]) > 1]
    for slot_no, package_no in enumerate(sorted_packages, start=1):
        session.add(PutWallSlot(wave_no=wave.wave_no, slot_no=slot_no, package_no=package_no))
        for sku_id, quantity in sorted(units[package_no].items()):
            session.add(
                PutWallLine(wave_no=wave.wave_no, slot_no=slot_no, sku_id=sku_id, expected=quantity)
            )


async def ordered_lines(session: AsyncSession, package_no: str) -> dict[int, tuple[int, int]]:
    """line_no → (sku_id, quantity) as the package was released."""
    rows = await session.execute(
        select(PackageLine.line_no, PackageLine.sku_id, PackageLine.quantity).where(
            PackageLine.package_no == package_no
        )
    )
    return {line_no: (sku_id, quantity) for line_no, sku_id, quantity in rows}
