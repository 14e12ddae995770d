"""A package the next reachable cutoff takes only after its ship-by (flagged late by the wave
planner) is told to its warehouse's planners once, however often planned, and done once it ships."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.waves import WaveActivities
from core.db import make_session_factory
from models.contracts.order import Actor
from models.contracts.shipment import ShipmentStep
from models.contracts.waves import OutboundRequest, PlanRequest
from models.db import Notification
from services import shipments
from tests.activities.test_wave_planning import NOW, RULES, waiting_packages


async def test_a_late_package_is_told_once_and_done_when_shipped(
    seeded_engine: AsyncEngine,
) -> None:
    sessions = make_session_factory(seeded_engine)
    warehouse, (on_time, late) = await waiting_packages(sessions, 2, outbound=False)
    waves = WaveActivities(sessions, ship_within=timedelta(hours=3))
    for n, (package_no, released) in enumerate(((on_time, NOW), (late, NOW - timedelta(hours=1)))):
        await waves.register_outbound(
            OutboundRequest(order_no=f"SO8{n:015d}", package_no=package_no,
                            warehouse_id=warehouse, carrier_code="SF", released_at=released)
        )  # fmt: skip
    for key in ("late-1", "late-2"):
        planned = await waves.plan_waves(
            PlanRequest(warehouse_id=warehouse, plan_key=key, now=NOW, rules=RULES)
        )
    assert planned.flagged <= 1
    async with sessions() as session:
        [told] = list(await session.scalars(select(Notification)))
        assert (told.kind, told.ref, told.warehouse_id) == ("late_package", late, warehouse)
        assert told.permission == "waves.plan" and told.detail.startswith("late: promised")
        await shipments.record_step(
            session,
            ShipmentStep(order_no="SO8000000000000001", package_no=late, status="shipped",
                         step="shipped", key="900-shipped", seq=900, at=datetime.now(UTC),
                         actor=Actor(kind="device", name="pda")),
        )  # fmt: skip
        await session.commit()
        done = await session.scalar(select(Notification.done_at).where(Notification.id == told.id))
    assert done is not None
