"""Temporal Schedules the back office keeps, one of each per warehouse: replenishment
(`replenish-<code>`, DESIGN §6.5) and wave planning (`waves-<code>`, §6.4).

Created when a worker starts, and brought up to date when they exist (the interval may have
changed in the settings); a warehouse added later gets its schedules at the next worker start."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from core.db import SessionFactory
from models.contracts.purchasing import PoPolicy, PoTimings, ReplenishInput
from models.contracts.waves import PlannerInput, WaveRules
from models.db import Warehouse
from workflows.replenishment import ReplenishmentWorkflow
from workflows.waves import WavePlannerWorkflow


def _every(workflow: Any, arg: Any, workflow_id: str, every: timedelta, queue: str) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            workflow,
            arg,
            id=workflow_id,
            task_queue=queue,  # the server appends the time
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),  # one run at a time
    )


def replenishment_schedule(
    warehouse_id: int, code: str, every: timedelta, task_queue: str, timings: PoTimings,
    policy: PoPolicy,
) -> Schedule:  # fmt: skip
    arg = ReplenishInput(warehouse_id=warehouse_id, po_timings=timings, po_policy=policy)
    return _every(ReplenishmentWorkflow.run, arg, f"replenish-{code}", every, task_queue)


def wave_schedule(
    warehouse_id: int, code: str, every: timedelta, task_queue: str, rules: WaveRules
) -> Schedule:
    arg = PlannerInput(warehouse_id=warehouse_id, rules=rules)
    return _every(WavePlannerWorkflow.run, arg, f"plan-waves-{code}", every, task_queue)


async def ensure_per_warehouse(
    client: Client,
    sessions: SessionFactory,
    prefix: str,
    make: Callable[[int, str], Schedule],
) -> list[str]:
    """One schedule per warehouse, `<prefix>-<code>`, created or updated; returns their ids."""
    async with sessions() as session:
        query = select(Warehouse.id, Warehouse.code).order_by(Warehouse.code)
        warehouses = (await session.execute(query)).all()
    ids = []
    for warehouse_id, code in warehouses:
        schedule = make(warehouse_id, code)
        schedule_id = f"{prefix}-{code}"
        try:
            await client.create_schedule(schedule_id, schedule)
        except ScheduleAlreadyRunningError:

            def updated(_: ScheduleUpdateInput, schedule: Schedule = schedule) -> ScheduleUpdate:
                return ScheduleUpdate(schedule=schedule)

            await client.get_schedule_handle(schedule_id).update(updated)
        ids.append(schedule_id)
    return ids


async def ensure_replenishment_schedules(
    client: Client,
    sessions: SessionFactory,
    *,
    every: timedelta,
    task_queue: str,
    timings: PoTimings,
    policy: PoPolicy,
) -> list[str]:
    def make(warehouse_id: int, code: str) -> Schedule:
        return replenishment_schedule(warehouse_id, code, every, task_queue, timings, policy)

    return await ensure_per_warehouse(client, sessions, "replenish", make)


async def ensure_wave_schedules(
    client: Client, sessions: SessionFactory, *, every: timedelta, task_queue: str, rules: WaveRules
) -> list[str]:
    def make(warehouse_id: int, code: str) -> Schedule:
        return wave_schedule(warehouse_id, code, every, task_queue, rules)

    return await ensure_per_warehouse(client, sessions, "waves", make)
