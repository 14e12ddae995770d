"""Inventory cost (issue 17, docs/architecture.md "Inventory cost") on the demo data in
PostgreSQL: the moving weighted average per SKU and warehouse moved by receipts (samples at
no cost), purchase returns, transfers and shipments, in whole fen by the rounding rule, and
value in = value out + value on hand after every scenario (tests/support/invariants.py).

Expected figures are worked out here independently, from the rule: q units leaving u units
worth v take floor(v × q / u), all of v when q = u."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.db import make_session_factory
from models.contracts.order import Actor
from models.contracts.pricing import DemandLine
from models.contracts.purchasing import ReceiveGoodsRequest, ReceiveRequest
from models.contracts.transfers import TransferArrival, TransferLineView, TransferShipment
from models.contracts.waves import OutboundRequest, PlanRequest
from models.db import (
    Location,
    LocationStock,
    PickAllocation,
    PurchaseOrder,
    PurchaseOrderLine,
    StockCost,
    Supplier,
    User,
    Warehouse,
)
from models.domain.purchasing import PoLine, Receipt, ReceiptExtra, ReceiptLine
from services import purchasing, reservations, transfers, wave_planning
from services.purchase_returns import ReturnLine, book_return
from services.stock_ledger import BatchRef, Document, move_on_hand
from tests.support.invariants import assert_stock_invariants

TODAY = date(2026, 12, 6)


def take(units: int, value: int, quantity: int) -> int:
    """The value `quantity` units take out of `units` worth `value` (the documented rule)."""
    return value if quantity == units else value * quantity // units


async def cost(session: AsyncSession, sku: int, warehouse: int) -> tuple[int, int]:
    row = await session.get(StockCost, (sku, warehouse), populate_existing=True)
    return (row.units, row.value_fen) if row else (0, 0)


async def entries(session: AsyncSession, ref_no: str) -> list[tuple[str, int, int, int, int]]:
    """(movement type, warehouse, units, value, cost per unit) of a document, in booking order."""
    rows = await session.execute(
        text(
            "SELECT movement_type, warehouse_id, units, value_fen, unit_cost_fen"
            " FROM stock_cost_entries WHERE ref_no = :r ORDER BY id"
        ),
        {"r": ref_no},
    )
    return [(str(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows]


async def _warehouse(session: AsyncSession, code: str) -> int:
    found = await session.scalar(select(Warehouse.id).where(Warehouse.code == code))
    assert found is not None
    return int(found)


async def _plain_sku(session: AsyncSession, warehouse: int) -> tuple[int, int]:
    """A SKU that is not batch-managed with stock in `warehouse`, and a location holding it."""
    row = (
        await session.execute(
            text(
                "SELECT l.sku_id, l.location_id FROM location_stocks l JOIN skus k"
                " ON k.id = l.sku_id JOIN stocks s ON s.sku_id = l.sku_id"
                " AND s.warehouse_id = l.warehouse_id"
                " WHERE l.warehouse_id = :w AND NOT k.batch_managed AND l.batch_no = ''"
                " AND l.quantity - l.reserved >= 5 AND s.on_hand - s.reserved - s.safety_hold >= 10"
                " ORDER BY l.sku_id, l.location_id LIMIT 1"
            ),
            {"w": warehouse},
        )
    ).one()
    return int(row[0]), int(row[1])


async def _receive(
    session: AsyncSession, po_no: str, line: PoLine, location: int, no: str, samples: int = 0
) -> None:
    receipt = Receipt(
        lines=(ReceiptLine(sku_id=line.sku_id, line_no=line.line_no, received=line.quantity,
                           accepted=line.quantity, rejected=0),),
        extras=(ReceiptExtra(sku_id=line.sku_id, quantity=samples),) if samples else (),
    )  # fmt: skip
    request = ReceiveGoodsRequest(
        po_no=po_no,
        receipt_no=no,
        request=ReceiveRequest(
            receipt_key=no,
            warehouse_id=line.warehouse_id,
            location_id=location,
            receipt=receipt,
            actor=Actor(kind="user", name="buyer"),
        ),
        lines=[line],
        in_transit_removed=[],
    )
    await purchasing.book_receipt(session, request, received_at=datetime.now(UTC))


async def test_receipts_samples_a_purchase_return_and_a_shipment_move_value_to_the_fen(
    seeded_engine: AsyncEngine,
) -> None:
    sessions = make_session_factory(seeded_engine)
    async with sessions() as session:
        sh = await _warehouse(session, "SH01")
        sku, location = await _plain_sku(session, sh)
        supplier = await session.scalar(select(Supplier.id).order_by(Supplier.id).limit(1))
        assert supplier is not None
        units, value = await cost(session, sku, sh)
        assert units > 0 and value > 0  # the demo's opening stock is valued

        # Two receipts at different prices, the first with 3 samples at no cost; each booked
        # twice, as a retried activity would: once only.
        first = PoLine(line_no=1, sku_id=sku, warehouse_id=sh, quantity=10, unit_price_fen=333)
        second = PoLine(line_no=1, sku_id=sku, warehouse_id=sh, quantity=7, unit_price_fen=501)
        po1 = await purchasing.add_po(session, supplier_id=supplier, lines=[first],
                                      created_by=None, note="", today=TODAY)  # fmt: skip
        po2 = await purchasing.add_po(session, supplier_id=supplier, lines=[second],
                                      created_by=None, note="", today=TODAY)  # fmt: skip
        for _ in range(2):
            await _receive(session, po1, first, location, "RC-COST-1", samples=3)
            await session.commit()
        assert await entries(session, "RC-COST-1") == [
            ("purchase_in", sh, 10, 3330, 333),
            ("sample_in", sh, 3, 0, 0),
        ]
        units, value = units + 13, value + 3330
        assert await cost(session, sku, sh) == (units, value)
        for _ in range(2):
            await _receive(session, po2, second, location, "RC-COST-2")
            await session.commit()
        units, value = units + 7, value + 7 * 501
        assert await cost(session, sku, sh) == (units, value)
        await assert_stock_invariants(session)

        # A purchase return takes 4 units out at the current average, whatever the credit.
        await session.execute(  # what recording the receipt's PO step does
            update(PurchaseOrder).where(PurchaseOrder.po_no == po2).values(status="receiving")
        )
        await session.execute(
            update(PurchaseOrderLine)
            .where(PurchaseOrderLine.po_no == po2)
            .values(received=7, accepted=7)
        )
        booked = await book_return(session, po_no=po2, return_key="ret-1", warehouse_id=sh,
                                   lines=[ReturnLine(1, 4, location)], reason="破损",
                                   actor="user:buyer")  # fmt: skip
        await session.commit()
        assert booked.credit_fen == 4 * 501
        out = take(units, value, 4)
        assert await entries(session, booked.return_no) == [
            ("purchase_return_out", sh, -4, -out, value // units)
        ]
        units, value = units - 4, value - out
        assert await cost(session, sku, sh) == (units, value)
        await assert_stock_invariants(session)

        # A shipment records its cost of goods per shipped line, by the same rule, batch by
        # batch in the order they were taken.
        [held] = await reservations.reserve(
            session, "SO-COST-1", "310115", [DemandLine(line_no=1, sku_id=sku, quantity=6)]
        )
        await session.commit()
        assert held.warehouse_id == sh
        assert await cost(session, sku, sh) == (units, value)  # a reservation moves no value
        assert await reservations.ship(session, "SO-COST-1", held.package_no) == 6
        await session.commit()
        cogs = await entries(session, held.package_no)
        assert cogs and {kind for kind, *_ in cogs} == {"sales_out"}
        assert sum(u for _, _, u, _, _ in cogs) == -6
        for _, _, moved, moved_value, _ in cogs:
            assert moved_value == -take(units, value, -moved)
            units, value = units + moved, value + moved_value
        assert await cost(session, sku, sh) == (units, value)
        await assert_stock_invariants(session)


async def test_the_last_unit_out_takes_what_is_left_so_nothing_on_hand_is_worth_nothing(
    seeded_engine: AsyncEngine,
) -> None:
    sessions = make_session_factory(seeded_engine)
    async with sessions() as session:
        gz = await _warehouse(session, "GZ01")
        sku, _ = await _plain_sku(session, gz)
        # An odd value over the units, so the shares do not divide evenly.
        located = await session.scalar(
            select(LocationStock.location_id).where(
                LocationStock.sku_id == sku, LocationStock.warehouse_id == gz
            )
        )
        assert located is not None
        await move_on_hand(session, movement_type="purchase_in", sku_id=sku, warehouse_id=gz,
                           batch=BatchRef(located), quantity=3, unit_cost_fen=7,
                           doc=Document("test", "IN-ODD", "system:test", "", "in-odd"))  # fmt: skip
        await session.commit()
        units, value = await cost(session, sku, gz)
        batches = (
            await session.execute(
                select(LocationStock.location_id, LocationStock.batch_no, LocationStock.quantity)
                .where(LocationStock.sku_id == sku, LocationStock.warehouse_id == gz)
                .order_by(LocationStock.id)
            )
        ).all()
        n = 0
        for location_id, batch_no, quantity in batches:
            left = int(quantity)
            while left:
                q = min(left, 7)
                expected = take(units, value, q)
                n += 1
                await move_on_hand(session, movement_type="adjustment_out", sku_id=sku,
                                   warehouse_id=gz, batch=BatchRef(location_id, batch_no),
                                   quantity=q, doc=Document("adjustment", f"WO-{n}",
                                   "system:test", "报损", f"wo-{n}"))  # fmt: skip
                [(_, _, moved, moved_value, _)] = await entries(session, f"WO-{n}")
                assert (moved, moved_value) == (-q, -expected)
                units, value, left = units - q, value - expected, left - q
                assert await cost(session, sku, gz) == (units, value)
        await session.commit()
        assert n > 1 and (units, value) == (0, 0)
        assert await cost(session, sku, gz) == (0, 0)
        await assert_stock_invariants(session)


async def test_a_transfer_carries_the_sources_value_to_the_destination(
    seeded_engine: AsyncEngine,
) -> None:
    sessions = make_session_factory(seeded_engine)
    async with sessions() as session:
        sh, gz = await _warehouse(session, "SH01"), await _warehouse(session, "GZ01")
        ops = await session.scalar(select(User.id).where(User.username == "ops"))
        assert ops is not None
        sku, _ = await _plain_sku(session, sh)
        sh_units, sh_value = await cost(session, sku, sh)
        gz_units, gz_value = await cost(session, sku, gz)
        made = await transfers.create_transfer(
            session, from_warehouse_id=sh, to_warehouse_id=gz, lines=[(sku, 4)],
            requested_by=ops, note="", today=TODAY, request_key="cost-1",
        )  # fmt: skip
        await session.commit()
        number = made.transfer_no
        now = datetime.now(UTC)
        outbound = OutboundRequest(order_no=number, package_no=number, warehouse_id=sh,
                                   carrier_code=made.carrier_code, released_at=now)  # fmt: skip
        await wave_planning.register_outbound(session, outbound)
        await wave_planning.plan(
            session, PlanRequest(warehouse_id=sh, release_all=True, plan_key="c-1", now=now)
        )
        await session.execute(
            update(PickAllocation)
            .where(PickAllocation.package_no == number)
            .values(picked=PickAllocation.quantity, status="picked")
        )
        await session.commit()
        shipment = TransferShipment(transfer_no=number, from_warehouse_id=sh, to_warehouse_id=gz,
                                    actor="user:manager")  # fmt: skip
        await transfers.ship(session, shipment)
        await session.commit()

        left = [e for e in await entries(session, number) if e[0] == "transfer_out"]
        assert sum(e[2] for e in left) == -4
        out_value = 0
        for _, warehouse, moved, moved_value, _ in left:
            assert warehouse == sh and moved_value == -take(sh_units, sh_value, -moved)
            sh_units, sh_value = sh_units + moved, sh_value + moved_value
            out_value -= moved_value
        assert out_value > 0
        assert await cost(session, sku, sh) == (sh_units, sh_value)
        assert await cost(session, sku, gz) == (gz_units, gz_value)  # in transit: not yet there
        await assert_stock_invariants(session)

        # All four arrive good: the destination gains exactly the fen that left the source.
        line = TransferLineView(line_no=1, sku_id=sku, requested=4, picked=4, shipped=4,
                                good=4, damaged=0, short=0, over=0)  # fmt: skip
        arrival = TransferArrival(transfer_no=number, to_warehouse_id=gz, receipt_key="r-c",
                                  lines=[line], actor="device:gz")  # fmt: skip
        for _ in range(2):
            await transfers.receive(session, arrival)
            await session.commit()
        arrived = [e for e in await entries(session, number) if e[0] == "transfer_in"]
        assert [(e[1], e[2], e[3]) for e in arrived] == [(gz, 4, out_value)]
        assert await cost(session, sku, gz) == (gz_units + 4, gz_value + out_value)
        await assert_stock_invariants(session)


async def test_a_transfer_arriving_in_parts_splits_the_value_and_keeps_the_lost_share(
    seeded_engine: AsyncEngine,
) -> None:
    sessions = make_session_factory(seeded_engine)
    async with sessions() as session:
        sh, gz = await _warehouse(session, "SH01"), await _warehouse(session, "GZ01")
        sku, location = await _plain_sku(session, sh)
        # Raw bookings as the transfer service makes them: 4 out of SH01, 2 + 1 into GZ01.
        gz_location = await session.scalar(
            select(Location.id).where(Location.warehouse_id == gz).order_by(Location.id).limit(1)
        )
        assert gz_location is not None
        sh_units, sh_value = await cost(session, sku, sh)
        await move_on_hand(session, movement_type="transfer_out", sku_id=sku, warehouse_id=sh,
                           batch=BatchRef(location), quantity=4,
                           doc=Document("transfer", "TF-PART", "t", "", "tf-part:out"))  # fmt: skip
        out_value = take(sh_units, sh_value, 4)
        gz_before = await cost(session, sku, gz)
        for n, q in enumerate((2, 1)):
            await move_on_hand(session, movement_type="transfer_in", sku_id=sku,
                               warehouse_id=gz, batch=BatchRef(gz_location), quantity=q,
                               doc=Document("transfer", "TF-PART", "t", "",
                                            f"tf-part:in:{n}"))  # fmt: skip
        await session.commit()
        first = out_value * 2 // 4
        second = (out_value - first) * 1 // 2
        assert [(e[0], e[2], e[3]) for e in await entries(session, "TF-PART")] == [
            ("transfer_out", -4, -out_value),
            ("transfer_in", 2, first),
            ("transfer_in", 1, second),
        ]
        assert await cost(session, sku, gz) == (gz_before[0] + 3, gz_before[1] + first + second)
        await assert_stock_invariants(session)
