"""The ship-by promise (issue 4 review): `register_outbound` promises each package its release +
`ship_within` (HOUTAI_WAVES__SHIP_WITHIN_HOURS), and a package the next reachable cutoff would
take only after that is flagged late, with its reason, in the warehouse's outbound list."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.waves import WaveActivities
from api.deps import AppDeps
from core.db import make_session_factory
from models.contracts.waves import OutboundRequest, PlanRequest
from models.db import OutboundOrder
from tests.activities.test_wave_planning import NOW, RULES, waiting_packages
from tests.support.api import asgi_client, bearer, login
from workers.seed import DEMO_PASSWORD


async def test_a_package_the_next_cutoff_takes_after_its_ship_by_is_flagged_late(
    seeded_engine: AsyncEngine,
) -> None:
    sessions = make_session_factory(seeded_engine)
    warehouse, (on_time, late) = await waiting_packages(sessions, 2, outbound=False)
    waves = WaveActivities(sessions, ship_within=timedelta(hours=3))
    # Planned at 09:00 Shanghai with an hour's lead: the first SF truck it makes leaves at 12:00.
    for n, (package_no, released) in enumerate(((on_time, NOW), (late, NOW - timedelta(hours=1)))):
        request = OutboundRequest(
            order_no=f"SO8{n:015d}",
            package_no=package_no,
            warehouse_id=warehouse,
            carrier_code="SF",
            released_at=released,
        )
        await waves.register_outbound(request)
        await waves.register_outbound(request)  # a retried activity: the same promise
    async with sessions() as session:
        promised = dict(
            (await session.execute(select(OutboundOrder.package_no, OutboundOrder.ship_by))).all()
        )
    assert promised == {on_time: NOW + timedelta(hours=3), late: NOW + timedelta(hours=2)}
    planned = await waves.plan_waves(
        PlanRequest(warehouse_id=warehouse, plan_key="promise", now=NOW, rules=RULES)
    )
    assert (planned.flagged, sum(w.orders for w in planned.waves) + planned.held) == (1, 2)

    deps = AppDeps(engine=seeded_engine, session_factory=sessions, token_secret="t" * 40)
    async with asgi_client(deps) as api:
        token = (await login(api, "warehouse_manager", DEMO_PASSWORD)).json()["access_token"]
        path = f"/v1/warehouses/{warehouse}/outbound"
        flagged = (await api.get(f"{path}?flagged=true", headers=bearer(token))).json()
        fine = (await api.get(f"{path}?flagged=false", headers=bearer(token))).json()
    [shown] = flagged["data"]
    assert shown["package_no"] == late
    assert shown["ship_by"].startswith("2026-11-23T03:00:00")  # 11:00 in Shanghai
    assert shown["flag_reason"].startswith("late: promised to ship by 2026-11-23T03:00:00")
    assert "the next cutoff it can make is 2026-11-23T04:00:00" in shown["flag_reason"]
    assert [o["package_no"] for o in fine["data"]] == [on_time]


async def test_by_default_a_package_is_promised_within_a_day_of_its_release(
    seeded_engine: AsyncEngine,
) -> None:
    sessions = make_session_factory(seeded_engine)
    warehouse, [package_no] = await waiting_packages(sessions, 1, outbound=False)
    await WaveActivities(sessions).register_outbound(
        OutboundRequest(
            order_no="SO8000000000000000",
            package_no=package_no,
            warehouse_id=warehouse,
            carrier_code="SF",
            released_at=NOW,
        )
    )
    async with sessions() as session:
        row = await session.get(OutboundOrder, package_no)
    assert row is not None and row.ship_by == NOW + timedelta(hours=24)
