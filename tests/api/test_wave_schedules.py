"""The wave planner's Schedules and escalation over the whole back office (issue 4 review): a
worker's startup keeps `waves-<code>` for every active warehouse with the configured interval,
and a triggered run plans what is waiting; an escalated wave is listed with its reason."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select
from temporalio.client import Client, ScheduleActionStartWorkflow, ScheduleOverlapPolicy

from core.settings import Settings, WaveSettings
from models.contracts.waves import PlannerInput, WaveRules
from models.db import OutboundOrder, Warehouse
from tests.support.order_api import DEVICE, Json, only_in, paid_order, staff
from tests.support.orders import eventually
from tests.support.picking import plan_now
from tests.support.stack import Stack
from workers.serve import ensure_schedules
from workflows.waves import WavePlannerWorkflow


async def test_the_worker_startup_keeps_a_wave_schedule_per_active_warehouse_that_plans(
    stack: Stack, api: httpx.AsyncClient, dev_client: Client
) -> None:
    async with stack.sessions() as session:
        session.add(Warehouse(code="OLD01", name="旧仓", region_code="310000", active=False))
        await session.commit()
    first = Settings(task_queue=stack.task_queue)
    ids = await ensure_schedules(dev_client, stack.sessions, first)
    # The interval changed in the settings: the next startup brings the schedules up to date.
    every_7 = WaveSettings(plan_every_minutes=7, max_orders=1)  # one order fills a wave
    again = await ensure_schedules(
        dev_client, stack.sessions, Settings(task_queue=stack.task_queue, waves=every_7)
    )
    try:
        assert again == ids
        assert sorted(i for i in ids if i.startswith("waves-")) == ["waves-GZ01", "waves-SH01"]
        assert not any(i.endswith("-OLD01") for i in ids)  # inactive: nothing planned there
        handle = dev_client.get_schedule_handle("waves-SH01")
        described = await handle.describe()
        [interval] = described.schedule.spec.intervals
        assert interval.every == timedelta(minutes=7)
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert (action.workflow, action.task_queue) == ("WavePlannerWorkflow", stack.task_queue)

        order = await paid_order(stack, api, [(await only_in(stack, "SH01"), 1)])
        [parcel] = order["packages"]
        # A run the 5- or 7-minute interval started a moment ago (before the order was paid)
        # would make a plain trigger skip (the schedules' overlap policy): trigger regardless.
        await handle.trigger(overlap=ScheduleOverlapPolicy.ALLOW_ALL)

        async def planned() -> str | None:
            async with stack.sessions() as session:
                row = await session.get(OutboundOrder, parcel["package_no"], populate_existing=True)
            return row.wave_no if row is not None and row.status == "planned" else None

        wave_no = await eventually(planned, "the scheduled run planning the package")
        manager = await staff(api, "warehouse_manager")
        wave = (await api.get(f"/v1/waves/{wave_no}", headers=manager)).json()
        assert (wave["warehouse_id"], wave["orders"], wave["release_reason"]) == (
            parcel["warehouse_id"],
            1,
            "full",
        )
        assert [p["package_no"] for p in wave["packages"]] == [parcel["package_no"]]
    finally:
        for schedule_id in ids:
            await dev_client.get_schedule_handle(schedule_id).delete()


async def test_an_escalated_wave_is_listed_with_its_reason_and_a_normal_one_is_not(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    sku = await only_in(stack, "SH01")
    first = await paid_order(stack, api, [(sku, 1)], key="cart-normal")
    warehouse = first["packages"][0]["warehouse_id"]
    [normal] = await plan_now(api, warehouse)  # due at its cutoff − 30 min: hours away
    await paid_order(stack, api, [(sku, 1)], key="cart-late")
    # A planning run whose SLA margin is two days: its wave is overdue as soon as it is built.
    [late] = await stack.client.execute_workflow(
        WavePlannerWorkflow.run,
        PlannerInput(
            warehouse_id=warehouse, rules=WaveRules(sla_margin=timedelta(days=2)), release_all=True
        ),
        id=f"plan-waves-SH01-test-{uuid.uuid4().hex[:8]}",
        task_queue=stack.task_queue,
    )
    manager = await staff(api, "warehouse_manager")

    async def escalated() -> list[Json] | None:
        listed = await api.get("/v1/waves?escalated=true", headers=manager)
        assert listed.status_code == 200, listed.text
        data: list[Json] = listed.json()["data"]
        return data or None

    [shown] = await eventually(escalated, "the overdue wave escalated")
    assert (shown["wave_no"], shown["escalated"]) == (late, True)
    assert shown["escalation_reason"].startswith("not picked by ")
    assert "1 tasks and 1 packages open" in shown["escalation_reason"]
    calm = (await api.get("/v1/waves?escalated=false", headers=manager)).json()
    assert [(w["wave_no"], w["escalation_reason"]) for w in calm["data"]] == [
        (normal["wave_no"], None)
    ]
    own = (await api.get("/v1/waves?escalated=true", headers=DEVICE["SH01"])).json()
    assert [w["wave_no"] for w in own["data"]] == [late]
    assert (await api.get("/v1/waves?escalated=true", headers=DEVICE["GZ01"])).json()["data"] == []


async def test_plan_now_with_nothing_waiting_answers_at_once_without_a_planning_run(
    stack: Stack, api: httpx.AsyncClient, dev_client: Client
) -> None:
    manager = await staff(api, "warehouse_manager")
    async with stack.sessions() as session:
        [sh01] = [
            w.id for w in (await session.scalars(select(Warehouse))).all() if w.code == "SH01"
        ]
    empty = await api.post(f"/v1/warehouses/{sh01}/waves/plan", headers=manager)
    order = await paid_order(stack, api, [(await only_in(stack, "SH01"), 1)])
    [parcel] = order["packages"]
    planned = await api.post(f"/v1/warehouses/{sh01}/waves/plan", headers=manager)
    query = f"WorkflowType = 'WavePlannerWorkflow' AND TaskQueue = '{stack.task_queue}'"

    async def listed() -> list[str] | None:  # visibility catches up a moment later
        found = [w.id async for w in dev_client.list_workflows(query)]
        return found or None

    runs: list[str] = await eventually(listed, "the planning run listed")
    assert (empty.status_code, empty.json()["waves"]) == (200, [])
    assert planned.status_code == 200 and len(planned.json()["waves"]) == 1
    assert len([r for r in runs if r.startswith("plan-waves-SH01-now-")]) == 1  # not two
    async with stack.sessions() as session:
        outbound = await session.get(OutboundOrder, parcel["package_no"])
    assert outbound is not None and outbound.status == "planned"
