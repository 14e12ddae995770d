"""Temporal Schedules the back office keeps: replenishment per warehouse (DESIGN §6.5).

Created when a worker starts, and brought up to date when they exist (the interval may have
changed in the settings); a warehouse added later gets its schedule at the next worker start."""

from __future__ import annotations

from datetime import timedelta

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
from models.db import Warehouse
from workflows.replenishment import ReplenishmentWorkflow


def replenishment_schedule(
    warehouse_id: int, code: str, every: timedelta, task_queue: str, timings: PoTimings,
    policy: PoPolicy,
) -> Schedule:  # fmt: skip
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ReplenishmentWorkflow.run,
            ReplenishInput(warehouse_id=warehouse_id, po_timings=timings, po_policy=policy),
            id=f"replenish-{code}",  # the server appends the scheduled time
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),  # one scan at a time
    )


async def ensure_replenishment_schedules(
    client: Client,
    sessions: SessionFactory,
    *,
    every: timedelta,
    task_queue: str,
    timings: PoTimings,
    policy: PoPolicy,
) -> list[str]:
    """One schedule per active warehouse, `replenish-<code>`; returns their ids."""
    async with sessions() as session:
        query = select(Warehouse.id, Warehouse.code).order_by(Warehouse.code)
        warehouses = (await session.execute(query)).all()
    ids = []
    for warehouse_id, code in warehouses:
        schedule = replenishment_schedule(warehouse_id, code, every, task_queue, timings, policy)
        schedule_id = f"replenish-{code}"
        try:
            await client.create_schedule(schedule_id, schedule)
        except ScheduleAlreadyRunningError:

            def updated(_: ScheduleUpdateInput, schedule: Schedule = schedule) -> ScheduleUpdate:
                return ScheduleUpdate(schedule=schedule)

            await client.get_schedule_handle(schedule_id).update(updated)
        ids.append(schedule_id)
    return ids
