"""Reservations against the stock ledger (services/reservations.py, DESIGN §5) on a real
PostgreSQL: no oversell under concurrency, idempotent reserve and release, and shipping that
takes batches first-expiry-first and never from a disabled batch."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, timedelta

import pytest_asyncio
from sqlalchemy import func, select, update

from core.db import SessionFactory
from models.contracts.pricing import DemandLine
from models.db import (
    Category,
    Location,
    LocationStock,
    Reservation,
    Sku,
    Spu,
    Stock,
    StockMovement,
    Warehouse,
    WarehouseRegionPriority,
)
from models.domain.warehouse_choice import OutOfStockError
from services.reservations import release, reserve, ship
from services.stock_counts import open_count
from services.stock_ledger import BatchRef, Document, move_on_hand, set_safety_hold
from tests.support.invariants import assert_stock_invariants

SHANGHAI = "310115"  # served first by SH01, then GZ01
OPENING = Document("opening_balance", "OB-TEST", "system:test", "期初")
TODAY = date.today()


@dataclass
class Place:
    plain: int  # not batch-managed
    other: int  # not batch-managed
    milk: int  # batch-managed
    sh01: int
    gz01: int
    sh_locations: tuple[int, int]
    gz_location: int


def _location(warehouse: Warehouse, code: str, x_cm: int) -> Location:
    return Location(
        warehouse_id=warehouse.id, code=code, barcode=f"{warehouse.code}-{code}",
        zone="A", aisle=1, bay=1, level=1, x_cm=x_cm, y_cm=0,
    )  # fmt: skip


@pytest_asyncio.fixture
async def place(session_factory: SessionFactory) -> Place:
    async with session_factory() as session:
        category = Category(code="grocery", name="食品")
        sh01 = Warehouse(code="SH01", name="上海仓", region_code="310000")
        gz01 = Warehouse(code="GZ01", name="广州仓", region_code="440000")
        session.add_all([category, sh01, gz01])
        await session.flush()
        session.add_all(
            [
                WarehouseRegionPriority(warehouse_id=sh01.id, region_code="310000", priority=1),
                WarehouseRegionPriority(warehouse_id=gz01.id, region_code="310000", priority=2),
            ]
        )
        spu = Spu(code="G1", name="杂货", category_id=category.id)
        session.add(spu)
        await session.flush()
        skus = [
            Sku(spu_id=spu.id, code="G1-CUP", name="杯子", barcode="6900000000201",
                weight_g=200, volume_cm3=500, list_price_fen=990),
            Sku(spu_id=spu.id, code="G1-BOWL", name="碗", barcode="6900000000202",
                weight_g=300, volume_cm3=700, list_price_fen=1290),
            Sku(spu_id=spu.id, code="G1-MILK", name="牛奶 1L", barcode="6900000000203",
                weight_g=1050, volume_cm3=1100, list_price_fen=1290,
                batch_managed=True, shelf_life_days=21),
        ]  # fmt: skip
        locations = [_location(sh01, "A-01", 0), _location(sh01, "A-02", 100)]
        gz_location = _location(gz01, "A-01", 0)
        session.add_all([*skus, *locations, gz_location])
        await session.commit()
        return Place(
            plain=skus[0].id,
            other=skus[1].id,
            milk=skus[2].id,
            sh01=sh01.id,
            gz01=gz01.id,
            sh_locations=(locations[0].id, locations[1].id),
            gz_location=gz_location.id,
        )


async def put(
    session_factory: SessionFactory,
    sku_id: int,
    warehouse_id: int,
    location_id: int,
    quantity: int,
    batch_no: str = "",
    expiry: date | None = None,
) -> None:
    """Opening stock through the ledger."""
    async with session_factory() as session:
        await move_on_hand(
            session,
            movement_type="opening_balance",
            sku_id=sku_id,
            warehouse_id=warehouse_id,
            batch=BatchRef(location_id, batch_no, TODAY - timedelta(days=5), expiry),
            quantity=quantity,
            doc=OPENING,
        )
        await session.commit()


async def hold_back(
    session_factory: SessionFactory, sku_id: int, warehouse_id: int, n: int
) -> None:
    async with session_factory() as session:
        await set_safety_hold(session, sku_id=sku_id, warehouse_id=warehouse_id, safety_hold=n)
        await session.commit()


async def attempt(
    session_factory: SessionFactory, order_no: str, lines: list[DemandLine]
) -> list[Reservation] | OutOfStockError:
    """One reserve activity run in its own transaction: the reservations, or the refusal."""
    async with session_factory() as session:
        try:
            rows = await reserve(session, order_no, SHANGHAI, lines)
        except OutOfStockError as exc:
            return exc
        await session.commit()
        return rows


def line(sku_id: int, quantity: int, line_no: int = 1) -> list[DemandLine]:
    return [DemandLine(line_no=line_no, sku_id=sku_id, quantity=quantity)]


async def stock(session_factory: SessionFactory, sku_id: int, warehouse_id: int) -> Stock:
    async with session_factory() as session:
        await assert_stock_invariants(session)
        row = await session.get(Stock, (sku_id, warehouse_id))
    assert row is not None
    return row


async def movements(
    session_factory: SessionFactory, movement_type: str
) -> list[tuple[str | None, str, int, int]]:
    """(ref_no, batch_no, on_hand_delta, reserved_delta) of the movements of one type."""
    async with session_factory() as session:
        rows = await session.execute(
            select(
                StockMovement.ref_no,
                StockMovement.batch_no,
                StockMovement.on_hand_delta,
                StockMovement.reserved_delta,
            )
            .where(StockMovement.movement_type == movement_type)
            .order_by(StockMovement.id)
        )
        return [(r[0], r[1] or "", r[2], r[3]) for r in rows]


async def held_units(session_factory: SessionFactory, order_no: str | None = None) -> int:
    async with session_factory() as session:
        query = select(func.coalesce(func.sum(Reservation.quantity), 0)).where(
            Reservation.status == "held"
        )
        if order_no is not None:
            query = query.where(Reservation.order_no == order_no)
        return int(await session.scalar(query) or 0)


# --- concurrency -----------------------------------------------------------------------------


async def test_thirty_concurrent_buyers_of_one_unit_get_exactly_the_twenty_sellable(
    session_factory: SessionFactory, place: Place
) -> None:
    await put(session_factory, place.plain, place.sh01, place.sh_locations[0], 23)
    await hold_back(session_factory, place.plain, place.sh01, 3)  # sellable: 23 − 3 = 20

    results = await asyncio.gather(
        *(attempt(session_factory, f"SO-ONE-{i:02d}", line(place.plain, 1)) for i in range(30))
    )

    won = [r for r in results if not isinstance(r, OutOfStockError)]
    lost = [r for r in results if isinstance(r, OutOfStockError)]
    assert (len(won), len(lost)) == (20, 10)
    assert all(e.sku_ids == [place.plain] for e in lost)
    figures = await stock(session_factory, place.plain, place.sh01)
    assert (figures.on_hand, figures.reserved, figures.safety_hold) == (23, 20, 3)
    assert await held_units(session_factory) == 20
    reserved = await movements(session_factory, "reservation")
    assert len(reserved) == 20 and sum(m[3] for m in reserved) == 20
    assert {m[0] for m in reserved} == {rows[0].order_no for rows in won}


async def test_thirty_concurrent_orders_of_one_to_three_units_never_oversell(
    session_factory: SessionFactory, place: Place
) -> None:
    # 20 sellable over two warehouses: 12 in SH01 (2 held back) and 10 in GZ01.
    await put(session_factory, place.plain, place.sh01, place.sh_locations[0], 12)
    await hold_back(session_factory, place.plain, place.sh01, 2)
    await put(session_factory, place.plain, place.gz01, place.gz_location, 10)
    wanted = {f"SO-MIX-{i:02d}": 1 + i % 3 for i in range(30)}

    results = dict(
        zip(
            wanted,
            await asyncio.gather(
                *(attempt(session_factory, no, line(place.plain, q)) for no, q in wanted.items())
            ),
            strict=True,
        )
    )

    got = {
        no: sum(r.quantity for r in rows) for no, rows in results.items() if isinstance(rows, list)
    }
    refused = [no for no, rows in results.items() if isinstance(rows, OutOfStockError)]
    assert all(got[no] == wanted[no] for no in got)  # whole orders or nothing
    taken = sum(got.values())
    assert taken <= 20
    left = 20 - taken
    assert all(wanted[no] > left for no in refused), "refused an order that still fitted"
    sh = await stock(session_factory, place.plain, place.sh01)
    gz = await stock(session_factory, place.plain, place.gz01)
    assert sh.reserved + gz.reserved == taken == await held_units(session_factory)
    assert sh.reserved <= 10 and gz.reserved <= 10
    # Whatever is left goes to one-unit orders, and then not one unit more.
    for extra in range(left):
        topped = await attempt(session_factory, f"SO-TOP-{extra}", line(place.plain, 1))
        assert isinstance(topped, list)
    refused_too = await attempt(session_factory, "SO-TOP-X", line(place.plain, 1))
    assert isinstance(refused_too, OutOfStockError)
    sh = await stock(session_factory, place.plain, place.sh01)
    gz = await stock(session_factory, place.plain, place.gz01)
    assert ((sh.on_hand, sh.reserved), (gz.on_hand, gz.reserved)) == ((12, 10), (10, 10))
    assert sum(m[3] for m in await movements(session_factory, "reservation")) == 20


# --- idempotency -----------------------------------------------------------------------------


async def test_a_retried_reserve_for_the_same_order_is_a_no_op(
    session_factory: SessionFactory, place: Place
) -> None:
    await put(session_factory, place.plain, place.sh01, place.sh_locations[0], 10)
    await put(session_factory, place.other, place.gz01, place.gz_location, 10)
    lines = [*line(place.plain, 3, line_no=1), *line(place.other, 2, line_no=2)]
    # A first run that crashed before its commit leaves nothing behind.
    async with session_factory() as session:
        await reserve(session, "SO-RETRY", SHANGHAI, lines)
    assert await held_units(session_factory) == 0

    first = await attempt(session_factory, "SO-RETRY", lines)
    again = await attempt(session_factory, "SO-RETRY", lines)

    assert isinstance(first, list) and isinstance(again, list)
    shape = [(r.package_no, r.line_no, r.warehouse_id, r.sku_id, r.quantity) for r in first]
    assert shape == [
        ("PK-RETRY01", 1, place.sh01, place.plain, 3),
        ("PK-RETRY02", 2, place.gz01, place.other, 2),
    ]
    assert [(r.package_no, r.line_no, r.warehouse_id, r.sku_id, r.quantity) for r in again] == shape
    assert (await stock(session_factory, place.plain, place.sh01)).reserved == 3
    assert (await stock(session_factory, place.other, place.gz01)).reserved == 2
    assert [m[3] for m in await movements(session_factory, "reservation")] == [3, 2]


async def test_releasing_twice_releases_once(session_factory: SessionFactory, place: Place) -> None:
    await put(session_factory, place.plain, place.sh01, place.sh_locations[0], 10)
    await put(session_factory, place.other, place.gz01, place.gz_location, 10)
    lines = [*line(place.plain, 3, line_no=1), *line(place.other, 2, line_no=2)]
    assert isinstance(await attempt(session_factory, "SO-REL", lines), list)

    async def released(package_no: str | None = None) -> int:
        async with session_factory() as session:
            units = await release(session, "SO-REL", "客户取消", package_no=package_no)
            await session.commit()
            return units

    assert await released("PK-REL01") == 3  # one package of the order
    assert await released("PK-REL01") == 0
    assert (await stock(session_factory, place.plain, place.sh01)).reserved == 0
    assert (await stock(session_factory, place.other, place.gz01)).reserved == 2
    assert await released() == 2  # the rest of the order
    assert await released() == 0

    assert (await stock(session_factory, place.other, place.gz01)).reserved == 0
    assert await held_units(session_factory) == 0
    assert [m[3] for m in await movements(session_factory, "release")] == [-3, -2]
    async with session_factory() as session:
        statuses = set(await session.scalars(select(Reservation.status)))
    assert statuses == {"released"}


# --- shipping ---------------------------------------------------------------------------------


async def test_shipping_takes_the_earliest_expiry_first_and_never_a_disabled_batch(
    session_factory: SessionFactory, place: Place
) -> None:
    loc1, loc2 = place.sh_locations
    await put(
        session_factory, place.milk, place.sh01, loc1, 5, "B-LATE", TODAY + timedelta(days=20)
    )
    await put(session_factory, place.milk, place.sh01, loc2, 5, "B-BAD", TODAY + timedelta(days=2))
    await put(session_factory, place.milk, place.sh01, loc1, 3, "B-SOON", TODAY + timedelta(days=6))
    await put(session_factory, place.milk, place.sh01, loc2, 4, "B-OPEN")  # no expiry: last
    async with session_factory() as session:  # found faulty: blocked from picking
        await session.execute(
            update(LocationStock).where(LocationStock.batch_no == "B-BAD").values(disabled=True)
        )
        await session.commit()
    rows = await attempt(session_factory, "SO-MILK", line(place.milk, 6))
    assert isinstance(rows, list)
    [reservation] = rows

    async with session_factory() as session:
        units = await ship(session, "SO-MILK", reservation.package_no)
        await session.commit()

    assert units == 6
    async with session_factory() as session:
        batches = dict(
            (await session.execute(select(LocationStock.batch_no, LocationStock.quantity))).all()
        )
        status = await session.scalar(select(Reservation.status))
    assert batches == {"B-SOON": 0, "B-LATE": 2, "B-BAD": 5, "B-OPEN": 4}
    assert status == "consumed"
    figures = await stock(session_factory, place.milk, place.sh01)
    assert (figures.on_hand, figures.reserved) == (11, 0)
    assert await movements(session_factory, "sales_out") == [
        (reservation.package_no, "B-SOON", -3, -3),
        (reservation.package_no, "B-LATE", -3, -3),
    ]
    async with session_factory() as session:  # shipping again ships nothing
        assert await ship(session, "SO-MILK", reservation.package_no) == 0
        await session.commit()
    assert len(await movements(session_factory, "sales_out")) == 2
    assert (await stock(session_factory, place.milk, place.sh01)).on_hand == 11


async def test_shipping_never_picks_from_a_location_being_counted(
    session_factory: SessionFactory, place: Place
) -> None:
    loc1, loc2 = place.sh_locations
    await put(
        session_factory, place.milk, place.sh01, loc1, 5, "B-EARLY", TODAY + timedelta(days=3)
    )
    await put(
        session_factory, place.milk, place.sh01, loc2, 5, "B-LATER", TODAY + timedelta(days=9)
    )
    async with session_factory() as session:  # 盘点 of loc1 under way
        await open_count(session, warehouse_id=place.sh01, location_ids=[loc1], actor="test")
        await session.commit()
    [reservation] = await attempt(session_factory, "SO-COUNT", line(place.milk, 4))  # type: ignore[misc]

    async with session_factory() as session:
        assert await ship(session, "SO-COUNT", reservation.package_no) == 4
        await session.commit()

    assert await movements(session_factory, "sales_out") == [
        (reservation.package_no, "B-LATER", -4, -4)  # the earlier expiry is being counted
    ]
