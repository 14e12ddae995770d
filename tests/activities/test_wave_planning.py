"""The wave planner on PostgreSQL: runs at the same time never take the same package (FOR
UPDATE SKIP LOCKED), a retried run answers its own waves, and every wave is built with it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import SessionFactory, make_session_factory
from models.contracts.waves import PlanRequest, WaveRules
from models.db import (
    ApiKey,
    LocationStock,
    Order,
    OutboundOrder,
    Package,
    PackageLine,
    PickAllocation,
    PickTask,
    Reservation,
    Stock,
    Warehouse,
    Wave,
)
from services import wave_planning

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
RULES = WaveRules(max_orders=8)


async def waiting_packages(
    sessions: SessionFactory, count: int, *, outbound: bool = True
) -> tuple[int, list[str]]:
    """`count` one-unit packages of SH01 released to it, each reserved like an order's, and
    (`outbound`) waiting for a wave."""
    async with sessions() as session, session.begin():
        warehouse = await session.scalar(select(Warehouse.id).where(Warehouse.code == "SH01"))
        assert warehouse is not None
        skus = (
            await session.scalars(
                select(Stock.sku_id)
                .where(Stock.warehouse_id == warehouse, Stock.on_hand - Stock.reserved >= 20)
                .order_by(Stock.sku_id)
                .limit(5)
            )
        ).all()
        key = await session.scalar(select(ApiKey.id).where(ApiKey.role == "storefront"))
        numbers = [f"PK8{n:017d}" for n in range(count)]
        for n, package_no in enumerate(numbers):
            order_no, sku = f"SO8{n:015d}", skus[n % len(skus)]
            await session.execute(
                insert(Order).values(
                    order_no=order_no, api_key_id=key, customer_id=1, status="fulfilling",
                    region_code="310115", address={}, goods_list_fen=0, discount_fen=0,
                    freight_fen=0, payable_fen=0, payment_deadline=NOW, placed_at=NOW,
                )
            )  # fmt: skip
            await session.execute(
                insert(Package).values(
                    package_no=package_no, order_no=order_no, warehouse_id=warehouse,
                    status="released", carrier_code="SF", expected_weight_g=100,
                    tracking_events=[],
                )
            )  # fmt: skip
            line = {"package_no": package_no, "line_no": 1, "sku_id": sku, "quantity": 1}
            await session.execute(insert(PackageLine).values(**line))
            await session.execute(
                insert(Reservation).values(
                    **line, order_no=order_no, warehouse_id=warehouse, status="held"
                )
            )
            await session.execute(
                text(
                    "UPDATE stocks SET reserved = reserved + 1 "
                    "WHERE sku_id = :s AND warehouse_id = :w"
                ),
                {"s": sku, "w": warehouse},
            )
            if not outbound:
                continue
            await session.execute(
                insert(OutboundOrder).values(
                    package_no=package_no, order_no=order_no, warehouse_id=warehouse,
                    carrier_code="SF", status="waiting", released_at=NOW - timedelta(hours=2),
                )
            )  # fmt: skip
    return warehouse, numbers


def request(warehouse: int, key: str) -> PlanRequest:
    return PlanRequest(warehouse_id=warehouse, plan_key=key, now=NOW, rules=RULES)


async def members(sessions: SessionFactory, wave_nos: list[str]) -> list[str]:
    async with sessions() as session:
        found = await session.scalars(
            select(OutboundOrder.package_no).where(OutboundOrder.wave_no.in_(wave_nos))
        )
        return sorted(found)


async def test_a_planner_running_beside_another_skips_what_the_other_holds(
    seeded_engine: AsyncEngine,
) -> None:
    sessions = make_session_factory(seeded_engine)
    warehouse, numbers = await waiting_packages(sessions, 20)
    async with sessions() as first:
        mine = await wave_planning.plan(first, request(warehouse, "run-1"))
        # Still uncommitted: a second run at the same time must not wait for it, nor take them.
        async with sessions() as second:
            other = await asyncio.wait_for(
                wave_planning.plan(second, request(warehouse, "run-2")), timeout=10
            )
            await second.commit()
        await first.commit()
    assert other.waves == []
    assert sum(w.orders for w in mine.waves) == 20
    assert await members(sessions, [w.wave_no for w in mine.waves]) == numbers
    async with sessions() as session:  # a retried run answers its own waves, makes none
        again = await wave_planning.plan(session, request(warehouse, "run-1"))
        await session.commit()
    assert [w.wave_no for w in again.waves] == [w.wave_no for w in mine.waves]
    async with sessions() as session:
        waves = await session.scalar(select(func.count()).select_from(Wave))
        unbuilt = await session.scalar(select(func.count()).where(~Wave.built))
        tasks = await session.scalar(select(func.count()).select_from(PickTask))
        allocated = await session.scalar(select(func.sum(PickAllocation.quantity)))
        held = await session.scalar(select(func.sum(LocationStock.reserved)))
    assert (waves, unbuilt) == (len(mine.waves), 0)  # each wave built in the same run
    assert tasks and tasks >= waves
    assert allocated == held == 20


async def test_planners_started_together_share_the_packages_without_overlap(
    seeded_engine: AsyncEngine,
) -> None:
    sessions = make_session_factory(seeded_engine)
    warehouse, numbers = await waiting_packages(sessions, 40)

    async def run(key: str) -> list[str]:
        async with sessions() as session:
            planned = await wave_planning.plan(session, request(warehouse, key))
            await session.commit()
        return [w.wave_no for w in planned.waves]

    runs = await asyncio.gather(*(run(f"together-{n}") for n in range(3)))
    taken = [await members(sessions, waves) for waves in runs]
    every = sorted(p for packages in taken for p in packages)
    assert every == numbers  # all planned, none twice
    async with sessions() as session:
        allocated = await session.scalar(select(func.sum(PickAllocation.quantity)))
    assert allocated == 40


async def test_plan_now_waits_for_a_run_holding_a_waiting_package_and_plans_it(
    seeded_engine: AsyncEngine,
) -> None:
    """A scheduled run may hold a waiting package while it plans (and leave it waiting): "plan
    now" waits for that run rather than skipping the package a staff member sees released."""
    sessions = make_session_factory(seeded_engine)
    warehouse, [number] = await waiting_packages(sessions, 1)
    now = request(warehouse, "now-1").model_copy(update={"release_all": True})
    async with sessions() as holder:
        await holder.execute(
            select(OutboundOrder).where(OutboundOrder.package_no == number).with_for_update()
        )
        async with sessions() as planner:
            run = asyncio.create_task(wave_planning.plan(planner, now))
            async with sessions() as watcher:
                while not run.done():  # until the plan waits for the holder's lock
                    waiting = await watcher.scalar(
                        text(
                            "SELECT count(*) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                        )
                    )
                    await watcher.rollback()
                    if waiting:
                        break
            await holder.commit()  # the other run ends, leaving the package waiting
            planned = await asyncio.wait_for(run, timeout=30)
            await planner.commit()
    assert await members(sessions, [w.wave_no for w in planned.waves]) == [number]
