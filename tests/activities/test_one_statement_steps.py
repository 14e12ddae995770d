"""A package step is written by one statement that commits on its own (no BEGIN and COMMIT):
the package's row, the order's timeline row and the notifications the step settles, all or
nothing; a step arriving after a later one leaves the later status and still sets its fields.
A session that committed statement by statement gives its connection back transactional."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import make_engine, make_session_factory
from models.contracts.order import Actor
from models.contracts.shipment import ShipmentStep
from models.db import ApiKey, Notification, OrderEvent, Package, Warehouse
from services import notifications, shipments
from services.notifications import Notice
from services.timeline import statements_commit_alone
from tests.support.report_orders import _order

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
DEVICE = Actor(kind="device", name="pda-1")


def step(seq: int, status: str, **fields: object) -> ShipmentStep:
    return ShipmentStep(
        order_no="SO9001",
        package_no="PK9001",
        status=status,  # type: ignore[arg-type]
        step=status,
        key=f"{seq}-{status}",
        seq=seq,
        at=NOW + timedelta(minutes=seq),
        actor=DEVICE,
        **fields,  # type: ignore[arg-type]
    )


async def test_a_step_is_one_statement_committed_alone_and_never_moves_the_status_back(
    seeded_engine: AsyncEngine,
) -> None:
    sessions = make_session_factory(seeded_engine)
    async with sessions() as session:
        shop = await session.scalar(select(ApiKey.id).limit(1))
        warehouse = await session.scalar(select(Warehouse.id).limit(1))
    assert shop is not None and warehouse is not None
    await _order(sessions, "SO9001", shop, NOW, [])
    async with sessions() as session:
        session.add(Package(package_no="PK9001", order_no="SO9001", warehouse_id=warehouse,
                            status="picked", carrier_code="SF", expected_weight_g=500,
                            tracking_events=[]))  # fmt: skip
        await notifications.raise_notice(
            session,
            Notice(kind="weight_hold", ref="PK9001", step="held-1", warehouse_id=warehouse,
                   order_no="SO9001"),
        )  # fmt: skip
        await session.commit()

    for written in (
        step(3, "waybill_created", waybill_no="WB9001", tracking_no="SF9001"),
        step(2, "packed", measured_weight_g=480),  # late: its status is behind
    ):
        assert shipments.one_statement(written)
        async with sessions() as session:
            await statements_commit_alone(session)
            await shipments.record_step(session, written)
            # no commit: the statement committed on its own

    async with sessions() as session:
        package = await session.get(Package, "PK9001")
        assert package is not None
        assert (package.status, package.status_seq) == ("waybill_created", 3)
        assert (package.waybill_no, package.tracking_no) == ("WB9001", "SF9001")
        assert package.measured_weight_g == 480
        events = list(
            await session.scalars(
                select(OrderEvent.step).where(OrderEvent.package_no == "PK9001")
                .order_by(OrderEvent.seq)
            )
        )  # fmt: skip
        assert events == ["packed", "waybill_created"]
        hold = await session.scalar(select(Notification).where(Notification.ref == "PK9001"))
        assert hold is not None and hold.done_at == NOW + timedelta(minutes=3)

    # the same step again (an activity retried) writes nothing twice
    async with sessions() as session:
        await statements_commit_alone(session)
        await shipments.record_step(session, step(3, "waybill_created", waybill_no="WB9001"))
    async with sessions() as session:
        rows = await session.scalar(select(func.count()).where(OrderEvent.package_no == "PK9001"))
        assert rows == 2


async def test_a_connection_that_committed_statements_alone_comes_back_transactional(
    database_url: str,
) -> None:
    engine = make_engine(database_url, connections=1)  # the same connection every time
    try:
        sessions = make_session_factory(engine)
        async with sessions() as session:
            await statements_commit_alone(session)
            await session.execute(text("CREATE TEMP TABLE alone (x int)"))
        async with sessions() as session:
            await session.execute(text("CREATE TEMP TABLE probe (x int)"))
            await session.rollback()
            found = await session.scalar(
                text("SELECT to_regclass('pg_temp.alone') IS NOT NULL"
                     " AND to_regclass('pg_temp.probe') IS NULL")
            )  # fmt: skip
        assert found is True
    finally:
        await engine.dispose()
