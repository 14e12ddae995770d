"""Building waves (DESIGN §6.4, issue 4 items 1 and 4): each line of the waves' packages is
allocated to locations/batches (FEFO, location-level holds), the stops of each wave are cut into
routed pick tasks, and multi-line packages get a put-wall slot. Units no location can give are
short at once (their reservation is released). Many waves are built in one pass — one read of
the layout and the batches, one write per table — because planning builds every wave it
releases, in the same transaction; a wave already built is left as it is."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import BindParameter, String, any_, bindparam, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from models.db import (
    Location,
    LocationStock,
    OutboundOrder,
    PickAllocation,
    PickStop,
    PickTask,
    PutWallLine,
    PutWallSlot,
    Reservation,
    Warehouse,
    Wave,
)
from models.domain.allocation import Allocator, BatchStock, in_pick_order
from models.domain.pick_paths import WarehouseLayout
from models.domain.pick_tasks import Spot, Stop, layout_of, plan_tasks
from services import pick_stock
from services.ordered_writes import OrderedWrites, driver_of, table_name


class _Alloc(NamedTuple):
    """An allocation's columns after its id, in `_ALLOC_COLUMNS` order (a tuple: a wave build
    makes thousands)."""

    wave_no: str
    package_no: str
    line_no: int
    sku_id: int
    warehouse_id: int
    location_stock_id: int
    location_id: int
    batch_no: str
    quantity: int


_ALLOC_COLUMNS = ("id", "wave_no", "package_no", "line_no", "sku_id", "warehouse_id",
                  "location_stock_id", "location_id", "batch_no", "quantity")  # fmt: skip


async def warehouse_zone(session: AsyncSession, warehouse_id: int) -> ZoneInfo:
    name = await session.scalar(select(Warehouse.timezone).where(Warehouse.id == warehouse_id))
    if name is None:
        raise LookupError(f"unknown warehouse {warehouse_id}")
    return ZoneInfo(name)


async def package_lines(
    session: AsyncSession, package_nos: list[str]
) -> dict[str, list[tuple[int, int, int]]]:
    """(line_no, sku_id, quantity) still held for each package."""
    rows = await session.execute(
        select(
            Reservation.package_no, Reservation.line_no, Reservation.sku_id, Reservation.quantity
        )
        .where(Reservation.package_no == any_(_texts(package_nos)), Reservation.status == "held")
        .order_by(Reservation.package_no, Reservation.line_no)
    )
    lines: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    for package_no, line_no, sku_id, quantity in rows:
        lines[package_no].append((line_no, sku_id, quantity))
    return lines


async def build(
    session: AsyncSession,
    wave_nos: list[str],
    *,
    now: datetime,
    max_stops: int,
    max_units: int,
) -> int:
    """Build the waves not built yet (all of one warehouse); returns how many tasks they got."""
    waves = (
        await session.scalars(
            select(Wave)
            .where(Wave.wave_no.in_(wave_nos), ~Wave.built)
            .order_by(Wave.wave_no)
            .with_for_update()
        )
    ).all()
    if not waves:
        return 0
    warehouse_id = waves[0].warehouse_id
    today = now.astimezone(await warehouse_zone(session, warehouse_id)).date()
    packages = (
        await session.execute(
            select(OutboundOrder.wave_no, OutboundOrder.package_no)
            .where(
                OutboundOrder.wave_no.in_([w.wave_no for w in waves]),
                OutboundOrder.status == "planned",
            )
            .order_by(OutboundOrder.wave_no, OutboundOrder.package_no)
        )
    ).all()
    members = [(str(wave), package_no) for wave, package_no in packages]
    lines = await package_lines(session, [p for _, p in members])
    tasks = await _build(
        session, warehouse_id, today, members, lines, max_stops, max_units, first=lambda _: None
    )
    await session.execute(
        update(Wave).where(Wave.wave_no.in_([w.wave_no for w in waves])).values(built=True)
    )
    return tasks


@dataclass(frozen=True, slots=True)
class NewWaves:
    """Waves planning has just worked out, in one warehouse, not written yet."""

    warehouse_id: int
    today: date  # in the warehouse's zone
    columns: tuple[str, ...]  # of `waves`
    rows: list[tuple[object, ...]]  # one a wave, `built` true: they are built here
    members: list[tuple[str, str]]  # (wave_no, package_no), wave by wave in plan order
    lines: dict[str, list[tuple[int, int, int]]]  # (line_no, sku_id, quantity) still held


async def write_and_build(
    session: AsyncSession, new: NewWaves, *, max_stops: int, max_units: int
) -> int:
    """Write the waves, mark their packages planned and build the waves, in the session's
    transaction; returns how many tasks they got. The waves are written while the lines are
    allocated and the tasks routed here: planning does not wait for its writes."""

    def first(writes: OrderedWrites) -> None:
        writes.send(Wave, list(new.columns), new.rows)
        packages, waves = [p for _, p in new.members], [w for w, _ in new.members]
        writes.run(lambda driver: driver.execute(_PLANNED, packages, waves))

    return await _build(session, new.warehouse_id, new.today, sorted(new.members), new.lines,
                        max_stops, max_units, first=first)  # fmt: skip


_PLANNED = (
    "UPDATE outbound_orders o SET status = 'planned', wave_no = v.wave_no "
    "FROM unnest($1::text[], $2::text[]) AS v(p, wave_no) WHERE o.package_no = v.p"
)


@dataclass(frozen=True, slots=True)
class _Short:
    package_no: str
    line_no: int
    units: int


async def _build(
    session: AsyncSession,
    warehouse_id: int,
    today: date,
    members: list[tuple[str, str]],
    lines: dict[str, list[tuple[int, int, int]]],
    max_stops: int,
    max_units: int,
    *,
    first: Callable[[OrderedWrites], None],
) -> int:
    """Allocate, route and write the tasks of the waves' packages (`members`, by wave and
    package); `first` gives the writes that go before them."""
    skus = {sku for held in lines.values() for _, sku, _ in held}
    found = await _batches(session, warehouse_id, skus)
    batches = {sku: in_pick_order(held, today) for sku, held in found.items()}  # once per SKU
    layout, where = await _layout(session, warehouse_id)
    # PostgreSQL writes (keys, indexes, references) while the lines are allocated and the
    # routes are worked out here: two processes, two cores. The session is not used until the
    # writes are done; the units no location can give are released after them.
    writes = OrderedWrites(await driver_of(session))
    try:
        first(writes)
        rows, taken, shorts = await _allocate(members, lines, batches, warehouse_id)
        tasks = 0
        if rows:
            ids = writes.run(lambda driver: driver.fetch(_NEXT_IDS, len(rows)))
            holds = sorted(taken)
            writes.run(lambda driver: driver.execute(_HOLD, holds, [taken[i] for i in holds]))
            was = writes.run(lambda driver: driver.fetchval(_SCANS_OFF_SQL))
            writes.run(lambda driver: _copy_allocations(driver, rows, ids.result()))
            slots, wall = _slots(rows)
            writes.send(PutWallSlot, list(_SLOT_COLUMNS), slots)
            writes.send(PutWallLine, list(_WALL_COLUMNS), wall)
            # The stops in one COPY after all their tasks: sent in parts as the tasks were
            # routed, PostgreSQL checked their references three times slower (it plans that
            # check once, on the few tasks there were at first).
            task_rows, trips = await _routed(rows, layout, where, max_stops, max_units)
            writes.send(PickTask, list(_TASK_COLUMNS), task_rows)
            writes.send(PickStop, list(_STOP_COLUMNS), _stop_rows(rows, trips, await ids))
            writes.run(lambda driver: driver.execute(_SCANS_BACK_SQL, was.result()))
            tasks = len(task_rows)
    except BaseException:
        await writes.abandon()
        raise
    await writes.done()
    for short in shorts:
        await pick_stock.unreserve(
            session, short.package_no, short.line_no, short.units, "no pickable location"
        )
    return tasks


async def _copy_allocations(driver: Any, rows: list[_Alloc], ids: list[tuple[int]]) -> None:
    records = [(i, *row, 0, "open") for (i,), row in zip(ids, rows, strict=True)]
    columns = [*_ALLOC_COLUMNS, "picked", "status"]
    await driver.copy_records_to_table(table_name(PickAllocation), records=records, columns=columns)


async def _allocate(
    members: list[tuple[str, str]],
    lines: dict[str, list[tuple[int, int, int]]],
    batches: dict[int, list[BatchStock]],
    warehouse_id: int,
) -> tuple[list[_Alloc], dict[int, int], list[_Short]]:
    """The allocations of every line, in package order; the units they take from each batch
    (location_stock id → units); the units no batch could give. It lets the event loop run
    between waves, so that writes under way go on."""
    allocator = Allocator(batches)
    rows: list[_Alloc] = []
    shorts: list[_Short] = []
    last = ""
    for wave_no, package_no in members:
        if wave_no != last:
            await asyncio.sleep(0)
            last = wave_no
        for line_no, sku_id, quantity in lines[package_no]:
            takes, short = allocator.take(sku_id, quantity)
            rows += [_Alloc(wave_no, package_no, line_no, sku_id, warehouse_id, batch.id,
                            batch.location_id, batch.batch_no, units)
                     for batch, units in takes]  # fmt: skip
            if short:
                shorts.append(_Short(package_no, line_no, short))
    return rows, allocator.taken, shorts


# The copies' reference checks are one query per row against the referenced row, planned once
# per connection. Against a small table (the demo's 212 batches and 100 SKUs) PostgreSQL plans
# a sequential scan and reads the whole table again for every row: 3.1 million batch rows read
# to check 17,000 allocations. Planned while sequential scans are off (for the copies only), it
# is one index lookup per row: the copies cost PostgreSQL 0.37 CPU s instead of 0.46 (10,000).
_SCANS_OFF_SQL = (
    "SELECT current_setting('enable_seqscan') FROM set_config('enable_seqscan', 'off', true)"
)
_SCANS_BACK_SQL = "SELECT set_config('enable_seqscan', $1, true)"
_NEXT_IDS = "SELECT nextval('pick_allocations_id_seq') FROM generate_series(1, $1)"
# One statement for all the batches (they are locked already).
_HOLD = (
    "UPDATE location_stocks l SET reserved = l.reserved + v.q "
    "FROM unnest($1::integer[], $2::integer[]) AS v(id, q) WHERE l.id = v.id"
)


def _texts(values: list[str]) -> BindParameter[list[str]]:
    """One array parameter instead of thousands in an IN list."""
    array: Any = ARRAY(String)
    return bindparam("values", value=values, type_=array)


async def _batches(
    session: AsyncSession, warehouse_id: int, sku_ids: set[int]
) -> dict[int, list[BatchStock]]:
    found = await session.execute(
        select(
            LocationStock.id,
            LocationStock.sku_id,
            LocationStock.location_id,
            LocationStock.batch_no,
            LocationStock.quantity,
            LocationStock.reserved,
            LocationStock.production_date,
            LocationStock.expiry_date,
            LocationStock.received_at,
            LocationStock.disabled,
        )
        .join(Location, Location.id == LocationStock.location_id)
        .where(
            LocationStock.warehouse_id == warehouse_id,
            LocationStock.sku_id.in_(sku_ids),
            *pick_stock.pickable(),
        )
        .order_by(LocationStock.id)
        .with_for_update(of=LocationStock)
    )
    batches: dict[int, list[BatchStock]] = defaultdict(list)
    for bid, sku, loc, batch_no, qty, held, made, expiry, received, disabled in found:
        batches[sku].append(
            BatchStock(
                id=bid,
                location_id=loc,
                batch_no=batch_no,
                quantity=qty,
                reserved=held,
                production_date=made,
                expiry_date=expiry,
                received_at=received,
                disabled=disabled,
            )
        )
    return batches


async def _layout(
    session: AsyncSession, warehouse_id: int
) -> tuple[WarehouseLayout, dict[int, tuple[int, int]]]:
    spots = (
        await session.execute(
            select(Location.id, Location.x_cm, Location.y_cm, Location.kind).where(
                Location.warehouse_id == warehouse_id, Location.active
            )
        )
    ).all()
    layout = layout_of([Spot(x_cm=x, y_cm=y, kind=kind) for _, x, y, kind in spots])
    return layout, {lid: (x, y) for lid, x, y, _ in spots}


_STOP_COLUMNS = ("task_no", "stop_no", "allocation_id", "location_id", "sku_id", "batch_no",
                 "quantity", "picked", "short", "status")  # fmt: skip


async def _routed(
    allocations: list[_Alloc],
    layout: WarehouseLayout,
    where: dict[int, tuple[int, int]],
    max_stops: int,
    max_units: int,
) -> tuple[list[tuple[object, ...]], list[tuple[str, tuple[int, ...]]]]:
    """The task rows of every wave and each task's stops (indices into `allocations`, in
    walking order). It lets the event loop run between waves, so that writes under way go on."""
    by_wave: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(allocations):
        by_wave[row.wave_no].append(index)
    task_rows: list[tuple[object, ...]] = []
    trips: list[tuple[str, tuple[int, ...]]] = []
    for wave_no, mine in sorted(by_wave.items()):
        stops = []
        for index in mine:
            row = allocations[index]
            x, y = where[row.location_id]
            stops.append(Stop(key=index, x_cm=x, y_cm=y, quantity=row.quantity))
        plans = plan_tasks(layout, stops, max_stops=max_stops, max_units=max_units)
        warehouse_id = allocations[mine[0]].warehouse_id
        for seq, task in enumerate(plans, start=1):
            task_no = f"{wave_no}-{seq:03d}"
            task_rows.append((task_no, wave_no, warehouse_id, seq, "open", task.route,
                              task.distance_cm))  # fmt: skip
            trips.append((task_no, task.keys))
        await asyncio.sleep(0)
    return task_rows, trips


def _stop_rows(
    allocations: list[_Alloc],
    trips: list[tuple[str, tuple[int, ...]]],
    ids: list[tuple[int]],
) -> list[tuple[object, ...]]:
    """The stops of every task; `ids`: the allocations' ids, in the same order."""
    rows: list[tuple[object, ...]] = []
    for task_no, keys in trips:
        for stop_no, index in enumerate(keys, start=1):
            row, (aid,) = allocations[index], ids[index]
            rows.append((task_no, stop_no, aid, row.location_id, row.sku_id, row.batch_no,
                         row.quantity, 0, 0, "open"))  # fmt: skip
    return rows


_TASK_COLUMNS = ("task_no", "wave_no", "warehouse_id", "seq", "status", "route_name", "route_cm")
_SLOT_COLUMNS = ("wave_no", "slot_no", "package_no", "status")
_WALL_COLUMNS = ("wave_no", "slot_no", "sku_id", "expected", "put")


def _slots(rows: list[_Alloc]) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Multi-line packages are sorted on the put wall: a slot each, in package order. The slot
    rows and their lines."""
    units: dict[tuple[str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    lines: dict[tuple[str, str], set[int]] = defaultdict(set)
    for row in rows:
        units[row.wave_no, row.package_no][row.sku_id] += row.quantity
        lines[row.wave_no, row.package_no].add(row.line_no)
    slots: list[tuple[object, ...]] = []
    wall: list[tuple[object, ...]] = []
    numbers: dict[str, int] = defaultdict(int)
    for wave_no, package_no in sorted(units):
        if len(lines[wave_no, package_no]) < 2:
            continue
        numbers[wave_no] += 1
        slot_no = numbers[wave_no]
        slots.append((wave_no, slot_no, package_no, "sorting"))
        wall += [(wave_no, slot_no, sku_id, q, 0)
                 for sku_id, q in sorted(units[wave_no, package_no].items())]  # fmt: skip
    return slots, wall
