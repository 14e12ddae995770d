"""Transfer bookings (services/transfers.py) on the demo data in PostgreSQL: every step done
twice — as a retried activity would — books once, the units exist once at every step, and the
ledgers equal the figures."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.db import make_session_factory
from models.contracts.transfers import (
    TransferArrival,
    TransferLineView,
    TransferRelease,
    TransferShipment,
)
from models.contracts.waves import OutboundRequest, PlanRequest
from models.db import PickAllocation, Stock, StockMovement, User, Warehouse
from services import transfers, wave_planning
from tests.support.invariants import assert_stock_invariants

TODAY = date(2026, 12, 6)


async def _ids(session: AsyncSession) -> tuple[int, int, int, int]:
    sh = await session.scalar(select(Warehouse.id).where(Warehouse.code == "SH01"))
    gz = await session.scalar(select(Warehouse.id).where(Warehouse.code == "GZ01"))
    ops = await session.scalar(select(User.id).where(User.username == "ops"))
    sku = await session.scalar(
        text(
            "SELECT s.sku_id FROM stocks s WHERE s.warehouse_id = :w "
            "AND s.on_hand - s.reserved - s.safety_hold >= 10 ORDER BY s.sku_id LIMIT 1"
        ),
        {"w": sh},
    )
    assert sh and gz and ops and sku
    return sh, gz, ops, int(sku)


async def _units(session: AsyncSession, sku: int) -> int:
    total = await session.scalar(
        select(func.sum(Stock.on_hand + Stock.in_transit)).where(Stock.sku_id == sku)
    )
    return int(total or 0)


async def _rows(session: AsyncSession, number: str) -> dict[str, int]:
    found = await session.execute(
        select(StockMovement.movement_type, func.count())
        .where(StockMovement.ref_no == number)
        .group_by(StockMovement.movement_type)
    )
    return {kind: int(n) for kind, n in found}


async def test_each_step_twice_books_once_and_keeps_every_unit_once(
    seeded_engine: AsyncEngine,
) -> None:
    sessions = make_session_factory(seeded_engine)
    async with sessions() as session:
        sh, gz, ops, sku = await _ids(session)
        units = await _units(session, sku)
        made = await transfers.create_transfer(
            session, from_warehouse_id=sh, to_warehouse_id=gz, lines=[(sku, 4)],
            requested_by=ops, note="", today=TODAY, request_key="k-1",
        )  # fmt: skip
        again = await transfers.create_transfer(
            session, from_warehouse_id=sh, to_warehouse_id=gz, lines=[(sku, 4)],
            requested_by=ops, note="", today=TODAY, request_key="k-1",
        )  # fmt: skip
        await session.commit()
        number = made.transfer_no
        assert again.existing and again.transfer_no == number
        assert await _rows(session, number) == {"reservation": 1}

        # Released to the floor and planned into a wave; the picker takes every unit.
        now = datetime.now(UTC)
        outbound = OutboundRequest(order_no=number, package_no=number, warehouse_id=sh,
                                   carrier_code=made.carrier_code, released_at=now)  # fmt: skip
        await wave_planning.register_outbound(session, outbound)
        plan = PlanRequest(warehouse_id=sh, release_all=True, plan_key="t-1", now=now)
        planned = await wave_planning.plan(session, plan)
        assert planned.waves and planned.waves[0].orders == 1
        await session.execute(
            update(PickAllocation)
            .where(PickAllocation.package_no == number)
            .values(picked=PickAllocation.quantity, status="picked")
        )
        await session.commit()
        assert await _units(session, sku) == units

        shipment = TransferShipment(transfer_no=number, from_warehouse_id=sh, to_warehouse_id=gz,
                                    actor="user:manager")  # fmt: skip
        first = await transfers.ship(session, shipment)
        await session.commit()
        second = await transfers.ship(session, shipment)
        await session.commit()
        assert first == second and [(ln.line_no, ln.quantity) for ln in first] == [(1, 4)]
        assert await _units(session, sku) == units
        in_transit = await session.get(Stock, (sku, gz), populate_existing=True)
        assert in_transit is not None and in_transit.in_transit >= 4
        await assert_stock_invariants(session)

        line = TransferLineView(line_no=1, sku_id=sku, requested=4, picked=4, shipped=4,
                                good=2, damaged=1, short=1, over=0)  # fmt: skip
        arrival = TransferArrival(transfer_no=number, to_warehouse_id=gz, receipt_key="r-1",
                                  lines=[line], actor="device:gz")  # fmt: skip
        await transfers.receive(session, arrival)
        await session.commit()
        await transfers.receive(session, arrival)
        await session.commit()
        assert await _units(session, sku) == units - 1  # the one lost on the way
        rows = await _rows(session, number)
        assert rows["transfer_shipped"] == rows["transfer_arrived"] == rows["transfer_lost"] == 1
        assert rows["transfer_in"] == 2  # good at receiving, damaged at damage
        assert (
            await transfers.release(
                session, TransferRelease(transfer_no=number, reason="x", actor="system:transfer")
            )
            == 0
        )  # consumed by shipping: nothing left to release
        await assert_stock_invariants(session)
