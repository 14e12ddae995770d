"""The stock ledger's write path (services/stock_ledger.py) against a real PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date

import pytest
import pytest_asyncio
from sqlalchemy import func, select, update

from core.db import SessionFactory
from models.db import Category, Location, LocationStock, Sku, Spu, Stock, StockMovement, Warehouse
from services.stock_ledger import (
    BatchRef,
    Document,
    Inbound,
    InTransit,
    StockError,
    move_in_transit_many,
    move_on_hand,
    move_on_hand_many,
    set_safety_hold,
)
from tests.support.invariants import assert_stock_invariants

DOC = Document("adjustment", "ADJ-1", "user:tester", "counted")


@dataclass
class Place:
    sku_id: int  # batch-managed
    plain_sku_id: int  # not batch-managed
    warehouse_id: int
    other_warehouse_id: int
    location_id: int
    other_location_id: int


@pytest_asyncio.fixture
async def place(session_factory: SessionFactory) -> Place:
    async with session_factory() as session:
        category = Category(code="milk", name="乳品")
        wh1 = Warehouse(code="SH01", name="上海仓", region_code="310000")
        wh2 = Warehouse(code="GZ01", name="广州仓", region_code="440000")
        session.add_all([category, wh1, wh2])
        await session.flush()
        spu = Spu(code="M1", name="牛奶", category_id=category.id)
        session.add(spu)
        await session.flush()
        batched = Sku(
            spu_id=spu.id, code="M1-1L", name="牛奶 1L", barcode="6900000000101",
            weight_g=1050, volume_cm3=1100, list_price_fen=1290,
            batch_managed=True, shelf_life_days=21,
        )  # fmt: skip
        plain = Sku(
            spu_id=spu.id, code="M1-CUP", name="杯子", barcode="6900000000102",
            weight_g=200, volume_cm3=500, list_price_fen=990,
        )  # fmt: skip
        loc1 = Location(
            warehouse_id=wh1.id, code="B-01-01-1", barcode="SH01-B-01-01-1",
            zone="B", aisle=1, bay=1, level=1, x_cm=0, y_cm=0,
        )  # fmt: skip
        loc2 = Location(
            warehouse_id=wh2.id, code="B-01-01-1", barcode="GZ01-B-01-01-1",
            zone="B", aisle=1, bay=1, level=1, x_cm=0, y_cm=0,
        )  # fmt: skip
        session.add_all([batched, plain, loc1, loc2])
        await session.commit()
        return Place(batched.id, plain.id, wh1.id, wh2.id, loc1.id, loc2.id)


async def _move(
    session_factory: SessionFactory,
    place: Place,
    movement_type: str,
    quantity: int,
    *,
    batch_no: str = "B1",
    doc: Document = DOC,
) -> StockMovement:
    async with session_factory() as session:
        movement = await move_on_hand(
            session,
            movement_type=movement_type,
            sku_id=place.sku_id,
            warehouse_id=place.warehouse_id,
            batch=BatchRef(place.location_id, batch_no, date(2025, 5, 1), date(2025, 5, 22)),
            quantity=quantity,
            doc=doc,
        )
        await session.commit()
        return movement


async def _figures(session_factory: SessionFactory, place: Place) -> tuple[int, int, int]:
    """(stock on_hand, batch B1 quantity, number of movements)."""
    async with session_factory() as session:
        on_hand = await session.scalar(
            select(Stock.on_hand).where(
                Stock.sku_id == place.sku_id, Stock.warehouse_id == place.warehouse_id
            )
        )
        batch = await session.scalar(
            select(LocationStock.quantity).where(
                LocationStock.sku_id == place.sku_id, LocationStock.batch_no == "B1"
            )
        )
        movements = await session.scalar(select(func.count()).select_from(StockMovement))
        await assert_stock_invariants(session)
        return on_hand or 0, batch or 0, movements or 0


async def test_inbound_writes_batch_stock_and_ledger_row(
    session_factory: SessionFactory, place: Place
) -> None:
    movement = await _move(session_factory, place, "purchase_in", 12)
    await _move(session_factory, place, "adjustment_in", 3)

    assert await _figures(session_factory, place) == (15, 15, 2)
    async with session_factory() as session:
        row = await session.get_one(StockMovement, movement.id)
        assert (row.movement_type, row.on_hand_delta, row.reserved_delta) == ("purchase_in", 12, 0)
        assert (row.location_id, row.batch_no) == (place.location_id, "B1")
        assert (row.ref_type, row.ref_no, row.actor, row.reason) == (
            "adjustment",
            "ADJ-1",
            "user:tester",
            "counted",
        )
        batch = await session.scalar(select(LocationStock).where(LocationStock.batch_no == "B1"))
        assert batch is not None
        assert (batch.warehouse_id, batch.production_date, batch.expiry_date) == (
            place.warehouse_id,
            date(2025, 5, 1),
            date(2025, 5, 22),
        )


async def test_outbound_takes_units_off(session_factory: SessionFactory, place: Place) -> None:
    await _move(session_factory, place, "purchase_in", 10)
    out = await _move(session_factory, place, "damage_out", 4)

    assert out.on_hand_delta == -4
    assert await _figures(session_factory, place) == (6, 6, 2)


async def test_outbound_beyond_the_batch_is_refused(
    session_factory: SessionFactory, place: Place
) -> None:
    await _move(session_factory, place, "purchase_in", 5)
    await _move(session_factory, place, "purchase_in", 5, batch_no="B2")  # same SKU, other batch

    with pytest.raises(StockError) as refused:
        await _move(session_factory, place, "sales_out", 6)
    assert refused.value.conflict is True
    assert refused.value.field == "quantity"
    assert "only 5" in str(refused.value)
    assert await _figures(session_factory, place) == (10, 5, 2)


async def test_outbound_from_a_batch_that_does_not_exist_is_refused(
    session_factory: SessionFactory, place: Place
) -> None:
    await _move(session_factory, place, "purchase_in", 5)
    with pytest.raises(StockError, match="only 0"):
        await _move(session_factory, place, "sales_out", 1, batch_no="NOPE")
    assert await _figures(session_factory, place) == (5, 5, 1)


async def test_refused_move_leaves_nothing_behind_when_the_caller_commits(
    session_factory: SessionFactory, place: Place
) -> None:
    """A refusal must not leave half a change in the caller's transaction: a caller that catches
    StockError and commits other work must not have drifted the batch from the ledger."""
    await _move(session_factory, place, "purchase_in", 10)
    async with session_factory() as session:
        await session.execute(
            update(Stock)
            .where(Stock.sku_id == place.sku_id, Stock.warehouse_id == place.warehouse_id)
            .values(reserved=8)
        )
        session.add(
            StockMovement(
                movement_type="reservation", sku_id=place.sku_id,
                warehouse_id=place.warehouse_id, reserved_delta=8,
                ref_type="order", ref_no="SO-1", actor="test",
            )
        )  # fmt: skip
        await session.commit()

    async with session_factory() as session:
        with pytest.raises(StockError, match="reserved"):
            await move_on_hand(
                session,
                movement_type="adjustment_out",
                sku_id=place.sku_id,
                warehouse_id=place.warehouse_id,
                batch=BatchRef(place.location_id, "B1"),
                quantity=5,
                doc=DOC,
            )
        await session.commit()  # the caller carries on with its other work

    assert await _figures(session_factory, place) == (10, 10, 2)


@pytest.mark.parametrize(
    ("movement_type", "quantity", "batch_no", "location", "field", "conflict"),
    [
        ("purchase_in", 0, "B1", "own", "quantity", False),
        ("purchase_in", -3, "B1", "own", "quantity", False),
        ("purchase_in", 3, "", "own", "batch_no", False),
        ("purchase_in", 3, "B1", "other", "location_id", False),
        ("purchase_in", 3, "B1", "missing", "location_id", False),
        ("reservation", 3, "B1", "own", "movement_type", True),
    ],
)
async def test_invalid_moves_are_refused(
    session_factory: SessionFactory,
    place: Place,
    movement_type: str,
    quantity: int,
    batch_no: str,
    location: str,
    field: str,
    conflict: bool,
) -> None:
    location_id = {"own": place.location_id, "other": place.other_location_id, "missing": 999999}
    async with session_factory() as session:
        with pytest.raises(StockError) as refused:
            await move_on_hand(
                session,
                movement_type=movement_type,
                sku_id=place.sku_id,
                warehouse_id=place.warehouse_id,
                batch=BatchRef(location_id[location], batch_no),
                quantity=quantity,
                doc=DOC,
            )
        await session.commit()
    assert (refused.value.field, refused.value.conflict) == (field, conflict)
    assert await _figures(session_factory, place) == (0, 0, 0)


async def test_unknown_sku_is_refused(session_factory: SessionFactory, place: Place) -> None:
    async with session_factory() as session:
        with pytest.raises(StockError) as refused:
            await move_on_hand(
                session,
                movement_type="purchase_in",
                sku_id=999999,
                warehouse_id=place.warehouse_id,
                batch=BatchRef(place.location_id),
                quantity=1,
                doc=DOC,
            )
    assert (refused.value.field, refused.value.conflict) == ("sku_id", False)


async def test_plain_sku_needs_no_batch(session_factory: SessionFactory, place: Place) -> None:
    async with session_factory() as session:
        await move_on_hand(
            session,
            movement_type="opening_balance",
            sku_id=place.plain_sku_id,
            warehouse_id=place.warehouse_id,
            batch=BatchRef(place.location_id),
            quantity=7,
            doc=DOC,
        )
        await session.commit()
        stock = await session.get_one(Stock, (place.plain_sku_id, place.warehouse_id))
        assert stock.on_hand == 7
        batch = await session.scalar(
            select(LocationStock).where(LocationStock.sku_id == place.plain_sku_id)
        )
        assert batch is not None
        assert (batch.batch_no, batch.quantity) == ("", 7)
        await assert_stock_invariants(session)


async def test_idempotency_key_makes_a_retry_a_no_op(
    session_factory: SessionFactory, place: Place
) -> None:
    doc = Document("purchase_order", "PO-9", "system", idempotency_key="po:9:line:1")
    first = await _move(session_factory, place, "purchase_in", 4, doc=doc)
    again = await _move(session_factory, place, "purchase_in", 4, doc=doc)

    assert again.id == first.id
    assert await _figures(session_factory, place) == (4, 4, 1)


async def test_concurrent_idempotent_moves_write_once(
    session_factory: SessionFactory, place: Place
) -> None:
    doc = Document("purchase_order", "PO-10", "system", idempotency_key="po:10:line:1")
    results = await asyncio.gather(
        *(_move(session_factory, place, "purchase_in", 4, doc=doc) for _ in range(4)),
        return_exceptions=True,
    )

    assert all(isinstance(r, StockMovement) for r in results), results
    assert len({r.id for r in results if isinstance(r, StockMovement)}) == 1
    assert await _figures(session_factory, place) == (4, 4, 1)


async def test_concurrent_decrements_never_take_more_than_exists(
    session_factory: SessionFactory, place: Place
) -> None:
    await _move(session_factory, place, "purchase_in", 10)

    async def take(n: int) -> StockMovement:
        async with session_factory() as session:
            movement = await move_on_hand(
                session,
                movement_type="sales_out",
                sku_id=place.sku_id,
                warehouse_id=place.warehouse_id,
                batch=BatchRef(place.location_id, "B1"),
                quantity=n,
                doc=Document("order", f"SO-{n}", "system"),
            )
            await asyncio.sleep(0.05)  # hold the row lock so the others queue behind it
            await session.commit()
            return movement

    results = await asyncio.gather(*(take(2) for _ in range(8)), return_exceptions=True)

    taken = [r for r in results if isinstance(r, StockMovement)]
    refused = [r for r in results if isinstance(r, StockError)]
    assert len(taken) == 5, results
    assert len(refused) == 3, results
    assert all(e.conflict and e.field == "quantity" for e in refused)
    assert await _figures(session_factory, place) == (0, 0, 6)


async def test_concurrent_decrements_of_uneven_sizes(
    session_factory: SessionFactory, place: Place
) -> None:
    await _move(session_factory, place, "purchase_in", 9)

    async def take(n: int) -> int:
        async with session_factory() as session:
            await move_on_hand(
                session,
                movement_type="sales_out",
                sku_id=place.sku_id,
                warehouse_id=place.warehouse_id,
                batch=BatchRef(place.location_id, "B1"),
                quantity=n,
                doc=Document("order", f"SO-{n}", "system"),
            )
            await asyncio.sleep(0.02)
            await session.commit()
            return n

    sizes = [4, 3, 5, 2, 6, 1]  # 21 asked for, 9 on hand
    results = await asyncio.gather(*(take(n) for n in sizes), return_exceptions=True)

    taken = sum(r for r in results if isinstance(r, int))
    assert all(isinstance(r, int | StockError) for r in results), results
    assert taken <= 9
    on_hand, batch, movements = await _figures(session_factory, place)
    assert (on_hand, batch) == (9 - taken, 9 - taken)
    assert movements == 1 + sum(isinstance(r, int) for r in results)
    # Every refused request asked for more than what was left when it ran, so it could not fit.
    assert all(n > on_hand for n, r in zip(sizes, results, strict=True) if not isinstance(r, int))


async def test_safety_hold_is_a_setting_not_a_movement(
    session_factory: SessionFactory, place: Place
) -> None:
    await _move(session_factory, place, "purchase_in", 10)
    async with session_factory() as session:
        stock = await set_safety_hold(
            session, sku_id=place.sku_id, warehouse_id=place.warehouse_id, safety_hold=3
        )
        await session.commit()
        assert (stock.on_hand, stock.safety_hold) == (10, 3)
    async with session_factory() as session:
        # A (SKU, warehouse) with no stock yet gets its row, with no movement.
        fresh = await set_safety_hold(
            session, sku_id=place.plain_sku_id, warehouse_id=place.warehouse_id, safety_hold=2
        )
        await session.commit()
        assert (fresh.on_hand, fresh.safety_hold) == (0, 2)
    assert await _figures(session_factory, place) == (10, 10, 1)


# --- set-based bookings (a receipt's lines at once) ---------------------------------------


def _lines(place: Place, key: str) -> list[Inbound]:
    """Two lines of one batch, one of another, one plain SKU: keys `key:0` … `key:3`."""
    batch = BatchRef(place.location_id, "B1", date(2025, 5, 1), date(2025, 5, 22))
    doc = Document("purchase_receipt", "RC-1", "device:pda", "", None)
    rows = [
        (place.sku_id, batch, 5),
        (place.sku_id, BatchRef(place.location_id, "B2"), 2),
        (place.sku_id, batch, 3),
        (place.plain_sku_id, BatchRef(place.location_id), 7),
    ]
    return [
        Inbound("purchase_in", sku, place.warehouse_id, ref, quantity,
                Document(doc.ref_type, doc.ref_no, doc.actor, "", f"{key}:{n}"))
        for n, (sku, ref, quantity) in enumerate(rows)
    ]  # fmt: skip


async def _ledger(session_factory: SessionFactory) -> list[tuple[object, ...]]:
    async with session_factory() as session:
        await assert_stock_invariants(session)
        rows = await session.execute(
            select(
                StockMovement.movement_type, StockMovement.sku_id, StockMovement.location_id,
                StockMovement.batch_no, StockMovement.on_hand_delta,
                StockMovement.in_transit_delta, StockMovement.idempotency_key,
            ).order_by(StockMovement.id)
        )  # fmt: skip
        return [tuple(r) for r in rows]


async def _batches(session_factory: SessionFactory) -> dict[tuple[int, str], int]:
    async with session_factory() as session:
        rows = await session.execute(
            select(LocationStock.sku_id, LocationStock.batch_no, LocationStock.quantity)
        )
        return {(sku, batch): quantity for sku, batch, quantity in rows}


async def test_many_lines_at_once_book_what_line_by_line_would(
    session_factory: SessionFactory, place: Place
) -> None:
    async with session_factory() as session:  # one by one
        for m in _lines(place, "one"):
            await move_on_hand(session, movement_type=m.movement_type, sku_id=m.sku_id,
                               warehouse_id=m.warehouse_id, batch=m.batch, quantity=m.quantity,
                               doc=m.doc)  # fmt: skip
        await session.commit()
    one_by_one = await _ledger(session_factory)
    async with session_factory() as session:  # then the same lines at once, other keys
        await move_on_hand_many(session, _lines(place, "many"))
        await session.commit()
    ledger = await _ledger(session_factory)

    at_once = ledger[len(one_by_one) :]
    assert [r[:6] for r in at_once] == [r[:6] for r in one_by_one]  # same rows, same order
    assert [r[6] for r in at_once] == ["many:0", "many:1", "many:2", "many:3"]
    assert await _batches(session_factory) == {
        (place.sku_id, "B1"): 16,
        (place.sku_id, "B2"): 4,
        (place.plain_sku_id, ""): 14,
    }
    async with session_factory() as session:
        on_hand = {s: n for s, n in await session.execute(select(Stock.sku_id, Stock.on_hand))}
        batch = await session.scalar(select(LocationStock).where(LocationStock.batch_no == "B1"))
    assert on_hand == {place.sku_id: 20, place.plain_sku_id: 14}
    assert batch is not None and batch.expiry_date == date(2025, 5, 22)


async def test_many_lines_booked_again_change_nothing(
    session_factory: SessionFactory, place: Place
) -> None:
    for _ in range(2):
        async with session_factory() as session:
            await move_on_hand_many(session, _lines(place, "again"))
            await session.commit()
    lines = _lines(place, "again")
    async with session_factory() as session:  # a third time, one line new
        doc = Document("purchase_receipt", "RC-1", "device:pda", "", "again:x")
        extra = Inbound("sample_in", place.plain_sku_id, place.warehouse_id,
                        BatchRef(place.location_id), 1, doc)  # fmt: skip
        await move_on_hand_many(session, [*lines, extra])
        await session.commit()

    ledger = await _ledger(session_factory)
    assert [r[6] for r in ledger] == ["again:0", "again:1", "again:2", "again:3", "again:x"]
    assert await _batches(session_factory) == {
        (place.sku_id, "B1"): 8,
        (place.sku_id, "B2"): 2,
        (place.plain_sku_id, ""): 8,
    }


async def test_concurrent_bookings_of_the_same_lines_book_them_once(
    session_factory: SessionFactory, place: Place
) -> None:
    async def book() -> None:
        async with session_factory() as session:
            await move_on_hand_many(session, _lines(place, "race"))
            await session.commit()

    await asyncio.gather(*(book() for _ in range(4)))

    assert len(await _ledger(session_factory)) == 4
    assert await _batches(session_factory) == {
        (place.sku_id, "B1"): 8,
        (place.sku_id, "B2"): 2,
        (place.plain_sku_id, ""): 7,
    }


async def test_a_refused_line_refuses_them_all(
    session_factory: SessionFactory, place: Place
) -> None:
    lines = _lines(place, "bad")
    no_batch = Inbound("purchase_in", place.sku_id, place.warehouse_id,
                       BatchRef(place.location_id), 1, lines[0].doc)  # fmt: skip
    elsewhere = Inbound("purchase_in", place.plain_sku_id, place.warehouse_id,
                        BatchRef(place.other_location_id), 1, lines[0].doc)  # fmt: skip
    for bad, field in ((no_batch, "batch_no"), (elsewhere, "location_id")):
        async with session_factory() as session:
            with pytest.raises(StockError) as refused:
                await move_on_hand_many(session, [*lines[1:], bad])
            assert refused.value.field == field
            await session.commit()  # the caller commits: nothing was written
    with pytest.raises(StockError):
        async with session_factory() as session:
            await move_on_hand_many(session, [lines[0], *lines[1:], _out(lines[1])])

    assert await _ledger(session_factory) == []
    assert await _batches(session_factory) == {}


def _out(line: Inbound) -> Inbound:
    return Inbound("sales_out", line.sku_id, line.warehouse_id, line.batch, 1, line.doc)


async def test_in_transit_changes_at_once_never_go_below_zero(
    session_factory: SessionFactory, place: Place
) -> None:
    def change(kind: str, delta: int, key: str, sku: int = place.sku_id) -> InTransit:
        doc = Document("purchase_order", "PO-1", "system", idempotency_key=key)
        return InTransit(kind, sku, place.warehouse_id, delta, doc)

    ordered = [change("purchase_ordered", 10, "t:0"), change("purchase_ordered", 4, "t:1",
                                                               place.plain_sku_id)]  # fmt: skip
    for _ in range(2):  # sent twice: booked once
        async with session_factory() as session:
            await move_in_transit_many(session, ordered)
            await session.commit()
    async with session_factory() as session:
        with pytest.raises(StockError, match=f"SKU {place.plain_sku_id} would go negative"):
            await move_in_transit_many(
                session,
                [change("purchase_arrived", -3, "a:0"),
                 change("purchase_arrived", -5, "a:1", place.plain_sku_id)],
            )  # fmt: skip
        await session.commit()  # the caller commits: nothing of it was written
    async with session_factory() as session:
        await move_in_transit_many(session, [change("purchase_arrived", -3, "a:0")])
        await session.commit()

    assert [(r[0], r[5], r[6]) for r in await _ledger(session_factory)] == [
        ("purchase_ordered", 10, "t:0"),
        ("purchase_ordered", 4, "t:1"),
        ("purchase_arrived", -3, "a:0"),
    ]
    async with session_factory() as session:
        rows = await session.execute(select(Stock.sku_id, Stock.in_transit))
        assert {s: n for s, n in rows} == {place.sku_id: 7, place.plain_sku_id: 4}
