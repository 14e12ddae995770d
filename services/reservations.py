"""Reservations against the stock ledger (DESIGN §5): reserve, release, ship what was reserved.

Reserve locks the SKUs' stock rows in a fixed order, chooses warehouses from the locked figures,
and raises `reserved` with one conditional statement per line — so no oversell whatever the
concurrency. Every step is idempotent per (order, line, warehouse)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, String, bindparam, exists, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from models.contracts.pricing import (
    DemandLine,
    LineAssignment,
    WarehouseCandidate,
    WarehouseChoiceRequest,
)
from models.db import (
    LocationStock,
    Reservation,
    Sku,
    Stock,
    StockMovement,
    Warehouse,
    WarehouseRegionPriority,
)
from models.domain.warehouse_choice import OutOfStockError, choose_warehouses
from services import pick_stock
from services.stock_counts import under_open_count
from services.stock_ledger import sellable_units


def package_number(order_no: str, index: int) -> str:
    """PK + the order's digits + the package's index: deterministic, so retries agree."""
    return f"PK{order_no[2:]}{index:02d}"


def province(region_code: str) -> str:
    return region_code[:2] + "0000"


async def candidates(
    session: AsyncSession, sku_ids: list[int], region_code: str, order_no: str | None = None
) -> list[WarehouseCandidate]:
    """Lock the stock rows of these SKUs in active warehouses (fixed order) and read sellable
    per warehouse, with each warehouse's priority for the destination: one statement.
    With `order_no`: raises `AlreadyReserved` if the order holds reservations already."""
    return (await _candidates(session, sku_ids, region_code, order_no))[0]


async def _candidates(
    session: AsyncSession, sku_ids: list[int], region_code: str, order_no: str | None
) -> tuple[list[WarehouseCandidate], bool]:
    priority = WarehouseRegionPriority
    done = (
        exists().where(Reservation.order_no == order_no) if order_no is not None else literal(False)
    )
    rows = (
        await session.execute(
            select(Stock.warehouse_id, Stock.sku_id, sellable_units(), priority.priority, done)
            .join(Warehouse, (Warehouse.id == Stock.warehouse_id) & Warehouse.active)
            .outerjoin(
                priority,
                (priority.warehouse_id == Stock.warehouse_id)
                & (priority.region_code == province(region_code)),
            )
            .where(Stock.sku_id.in_(sku_ids))
            .order_by(Stock.sku_id, Stock.warehouse_id)
            .with_for_update(of=Stock)
        )
    ).all()
    by_warehouse: dict[int, WarehouseCandidate] = {}
    for warehouse_id, sku_id, sellable, rank, _ in rows:
        candidate = by_warehouse.setdefault(
            warehouse_id, WarehouseCandidate(warehouse_id=warehouse_id, priority=rank)
        )
        candidate.sellable[sku_id] = max(0, int(sellable))
    return list(by_warehouse.values()), any(row[4] for row in rows)


async def existing(session: AsyncSession, order_no: str) -> list[Reservation]:
    return list(
        await session.scalars(
            select(Reservation)
            .where(Reservation.order_no == order_no)
            .order_by(Reservation.package_no, Reservation.line_no)
        )
    )


async def reserve(
    session: AsyncSession,
    order_no: str,
    region_code: str,
    lines: list[DemandLine],
    package_no_for: dict[int, str] | None = None,
    actor: str = "system:order",
) -> list[Reservation]:
    """Reserve every line or nothing; returns the reservations (existing ones on a retry)."""
    return (await reserve_weighed(session, order_no, region_code, lines, package_no_for, actor))[0]


async def reserve_weighed(
    session: AsyncSession,
    order_no: str,
    region_code: str,
    lines: list[DemandLine],
    package_no_for: dict[int, str] | None = None,
    actor: str = "system:order",
) -> tuple[list[Reservation], dict[int, int] | None]:
    """`reserve`, and the weight of each SKU reserved (None on a retry, which returns the
    reservations made before): two statements, the locking read (which also finds a retry)
    and one writing every line's hold, reservation and movement."""
    sku_ids = sorted({line.sku_id for line in lines})
    found, retried = await _candidates(session, sku_ids, region_code, order_no)
    if retried:
        return await existing(session, order_no), None
    choice = choose_warehouses(WarehouseChoiceRequest(lines=lines, candidates=found))
    packages = package_no_for or {}
    order_of = {wh: i for i, wh in enumerate(choice.warehouse_ids, start=1)}
    parts = [
        (
            part,
            packages.get(part.warehouse_id)
            or package_number(order_no, order_of[part.warehouse_id]),
        )
        for part in sorted(choice.assignments, key=lambda a: (a.sku_id, a.warehouse_id, a.line_no))
    ]
    weights = await _hold_all(session, order_no, parts, actor)
    rows = _rows(order_no, parts)
    rows.sort(key=lambda r: (r.package_no, r.line_no))
    return rows, weights


def _rows(order_no: str, parts: Sequence[tuple[LineAssignment, str]]) -> list[Reservation]:
    """The reservations just written, as the rows read back would be (not read back)."""
    return [
        Reservation(
            order_no=order_no,
            line_no=part.line_no,
            warehouse_id=part.warehouse_id,
            sku_id=part.sku_id,
            quantity=part.quantity,
            package_no=package_no,
            status="held",
        )
        for part, package_no in parts
    ]


def _array(name: str, kind: type[Integer] | type[String]) -> Any:
    return bindparam(name, type_=ARRAY(kind()))


def _hold_statement() -> Any:
    """Every part's hold in one statement: `reserved` raised per (SKU, warehouse) by the sum
    of its parts where sellable covers it (one UPDATE of a row per statement), a reservation
    and a movement per part; selects the (SKU, warehouse) pairs held, with the SKU's weight."""
    wanted = (
        select(
            func.unnest(_array("sku_ids", Integer)).label("sku_id"),
            func.unnest(_array("warehouse_ids", Integer)).label("warehouse_id"),
            func.unnest(_array("quantities", Integer)).label("quantity"),
            func.unnest(_array("line_nos", Integer)).label("line_no"),
            func.unnest(_array("package_nos", String)).label("package_no"),
        )
    ).cte("wanted")
    summed = (
        select(wanted.c.sku_id, wanted.c.warehouse_id, func.sum(wanted.c.quantity).label("units"))
        .group_by(wanted.c.sku_id, wanted.c.warehouse_id)
        .cte("summed")
    )
    held = (
        update(Stock)
        .where(
            Stock.sku_id == summed.c.sku_id,
            Stock.warehouse_id == summed.c.warehouse_id,
            sellable_units() >= summed.c.units,
        )
        .values(reserved=Stock.reserved + summed.c.units)
        .returning(Stock.sku_id, Stock.warehouse_id)
        .cte("held")
    )
    order_no = bindparam("order_no", type_=String())
    booked = (
        insert(Reservation)
        .from_select(
            ["order_no", "line_no", "warehouse_id", "sku_id", "quantity", "package_no", "status"],
            select(
                order_no,
                wanted.c.line_no,
                wanted.c.warehouse_id,
                wanted.c.sku_id,
                wanted.c.quantity,
                wanted.c.package_no,
                literal("held"),
            ),
        )
        .cte("booked")
    )
    moved = (
        insert(StockMovement)
        .from_select(
            [
                "movement_type",
                "sku_id",
                "warehouse_id",
                "on_hand_delta",
                "reserved_delta",
                "in_transit_delta",
                "ref_type",
                "ref_no",
                "actor",
                "reason",
                "idempotency_key",
            ],
            select(
                literal("reservation"),
                wanted.c.sku_id,
                wanted.c.warehouse_id,
                literal(0),
                wanted.c.quantity,
                literal(0),
                literal("order"),
                order_no,
                bindparam("actor", type_=String()),
                literal(""),
                func.concat("reserve:", wanted.c.package_no, ":", wanted.c.line_no),
            ),
        )
        .cte("moved")
    )
    return (
        select(held.c.sku_id, held.c.warehouse_id, Sku.weight_g)
        .join(Sku, Sku.id == held.c.sku_id)
        .add_cte(booked, moved)
    )


_HOLD = _hold_statement()


async def _hold_all(
    session: AsyncSession,
    order_no: str,
    parts: Sequence[tuple[LineAssignment, str]],
    actor: str,
) -> dict[int, int]:
    """Hold every part in one statement (see `_hold_statement`), or raise OutOfStockError
    naming the first part whose (SKU, warehouse) could not cover it; the SKUs' weights."""
    result = await session.execute(
        _HOLD,
        {
            "sku_ids": [p.sku_id for p, _ in parts],
            "warehouse_ids": [p.warehouse_id for p, _ in parts],
            "quantities": [p.quantity for p, _ in parts],
            "line_nos": [p.line_no for p, _ in parts],
            "package_nos": [no for _, no in parts],
            "order_no": order_no,
            "actor": actor,
        },
    )
    held: set[tuple[int, int]] = set()
    weights: dict[int, int] = {}
    for sku_id, warehouse_id, weight in result:
        held.add((sku_id, warehouse_id))
        weights[sku_id] = weight
    for part, _ in parts:
        if (part.sku_id, part.warehouse_id) not in held:
            raise OutOfStockError({part.sku_id: part.quantity})
    return weights


async def reserve_package(
    session: AsyncSession,
    order_no: str,
    package_no: str,
    warehouse_id: int,
    lines: list[DemandLine],
    actor: str = "system:order",
) -> list[Reservation]:
    """Reserve a replacement package in one given warehouse (a reship): all or nothing."""
    query = select(Reservation).where(Reservation.package_no == package_no)
    done = list(await session.scalars(query.order_by(Reservation.line_no)))
    if done:
        return done
    sku_ids = sorted({line.sku_id for line in lines})
    await session.execute(  # lock the rows in the same order reserve() does
        select(Stock.sku_id)
        .where(Stock.sku_id.in_(sku_ids))
        .order_by(Stock.sku_id, Stock.warehouse_id)
        .with_for_update()
    )
    parts = [
        (
            LineAssignment(
                line_no=line.line_no,
                sku_id=line.sku_id,
                warehouse_id=warehouse_id,
                quantity=line.quantity,
            ),
            package_no,
        )
        for line in sorted(lines, key=lambda li: (li.sku_id, li.line_no))
    ]
    await _hold_all(session, order_no, parts, actor)
    return sorted(_rows(order_no, parts), key=lambda r: r.line_no)


async def release(
    session: AsyncSession,
    order_no: str,
    reason: str,
    package_no: str | None = None,
    actor: str = "system:order",
) -> int:
    """Release every held reservation of the order (or of one package); returns units."""
    query = select(Reservation).where(
        Reservation.order_no == order_no, Reservation.status == "held"
    )
    if package_no is not None:
        query = query.where(Reservation.package_no == package_no)
    units = 0
    for held in await session.scalars(
        query.order_by(Reservation.sku_id, Reservation.warehouse_id).with_for_update()
    ):
        await session.execute(
            update(Stock)
            .where(Stock.sku_id == held.sku_id, Stock.warehouse_id == held.warehouse_id)
            .values(reserved=Stock.reserved - held.quantity)
        )
        held.status = "released"
        session.add(
            StockMovement(
                movement_type="release",
                sku_id=held.sku_id,
                warehouse_id=held.warehouse_id,
                reserved_delta=-held.quantity,
                ref_type="order",
                ref_no=order_no,
                actor=actor,
                reason=reason[:500],
                idempotency_key=f"release:{held.package_no}:{held.line_no}",
            )
        )
        units += held.quantity
    await session.flush()
    return units


async def ship(
    session: AsyncSession, order_no: str, package_no: str, actor: str = "system:shipment"
) -> int:
    """Ship a package's held units: on_hand and reserved fall together (sales out), taken from
    batches by FEFO (expiry, then production date, then receipt), disabled batches never."""
    units = 0
    held_rows = await session.scalars(
        select(Reservation)
        .where(
            Reservation.order_no == order_no,
            Reservation.package_no == package_no,
            Reservation.status == "held",
        )
        .order_by(Reservation.sku_id, Reservation.line_no)
        .with_for_update()
    )
    for held in held_rows:
        if not await pick_stock.ship_picked(session, held, package_no, actor):
            await _ship_units(session, held, order_no, package_no, actor)
        held.status = "consumed"
        units += held.quantity
    await session.flush()
    return units


async def _ship_units(
    session: AsyncSession, held: Reservation, order_no: str, package_no: str, actor: str
) -> None:
    await session.execute(
        update(Stock)
        .where(Stock.sku_id == held.sku_id, Stock.warehouse_id == held.warehouse_id)
        .values(on_hand=Stock.on_hand - held.quantity, reserved=Stock.reserved - held.quantity)
    )
    batches = await session.scalars(
        select(LocationStock)
        .where(
            LocationStock.sku_id == held.sku_id,
            LocationStock.warehouse_id == held.warehouse_id,
            LocationStock.quantity > LocationStock.reserved,
            ~LocationStock.disabled,
            ~under_open_count(LocationStock.location_id),  # 盘点: not picked while counted
        )
        .order_by(
            LocationStock.expiry_date.asc().nulls_last(),
            LocationStock.production_date.asc().nulls_last(),
            LocationStock.received_at,
            LocationStock.id,
        )
        .with_for_update()
    )
    remaining = held.quantity
    for batch in batches:
        take = min(remaining, batch.quantity - batch.reserved)
        batch.quantity -= take
        remaining -= take
        session.add(
            StockMovement(
                movement_type="sales_out",
                sku_id=held.sku_id,
                warehouse_id=held.warehouse_id,
                location_id=batch.location_id,
                batch_no=batch.batch_no,
                on_hand_delta=-take,
                reserved_delta=-take,
                ref_type="package",
                ref_no=package_no,
                actor=actor,
                idempotency_key=f"ship:{package_no}:{held.line_no}:{batch.id}",
            )
        )
        if remaining == 0:
            break
    if remaining:
        raise OutOfStockError({held.sku_id: remaining})
