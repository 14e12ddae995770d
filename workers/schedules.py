"""Temporal Schedules the back office keeps, one of each per warehouse: replenishment
(`replenish-<code>`, DESIGN §6.5) and wave planning (`waves-<code>`, §6.4); one daily payment
reconciliation (`reconcile-payments`, §6.6); and the yearly points expiry (`expire-points`,
§6.7).

Created when a worker starts, and brought up to date when they exist (the interval may have
changed in the settings); a warehouse added later gets its schedules at the next worker start,
and one deactivated loses them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time, timedelta
from typing import Any

from sqlalchemy import select
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from core.db import SessionFactory
from models.contracts.loyalty import ExpiryInput
from models.contracts.purchasing import PoPolicy, PoTimings, ReplenishInput
from models.contracts.reconciliation import ReconcileInput
from models.contracts.waves import PlannerInput, WaveRules
from models.db import Warehouse
from workflows.points_expiry import PointsExpiryWorkflow
from workflows.reconciliation import ReconciliationWorkflow
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
    """One schedule per active warehouse, `<prefix>-<code>`, created or updated; an inactive
    warehouse's schedule is deleted (nothing is planned or bought for it). Returns the ids."""
    async with sessions() as session:
        query = select(Warehouse.id, Warehouse.code, Warehouse.active).order_by(Warehouse.code)
        warehouses = (await session.execute(query)).all()
    ids = []
    for warehouse_id, code, active in warehouses:
        schedule_id = f"{prefix}-{code}"
        if not active:
            await _delete_schedule(client, schedule_id)
            continue
        await ensure_schedule(client, schedule_id, make(warehouse_id, code))
        ids.append(schedule_id)
    return ids


async def _delete_schedule(client: Client, schedule_id: str) -> None:
    try:
        await client.get_schedule_handle(schedule_id).delete()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:  # never had one: nothing to delete
            raise


async def ensure_schedule(client: Client, schedule_id: str, schedule: Schedule) -> None:
    """Create the schedule, or bring the existing one up to date."""
    try:
        await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:

        def updated(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(schedule_id).update(updated)


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


RECONCILE_SCHEDULE = "reconcile-payments"
BUSINESS_TIME_ZONE = "Asia/Shanghai"


def reconciliation_schedule(task_queue: str, at: time) -> Schedule:
    """Every day at `at`, business time, the previous business day (the workflow's default)."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ReconciliationWorkflow.run,
            ReconcileInput(),
            id=RECONCILE_SCHEDULE,
            task_queue=task_queue,  # the server appends the time
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    hour=[ScheduleRange(at.hour)],
                    minute=[ScheduleRange(at.minute)],
                    second=[ScheduleRange(0)],
                )
            ],
            time_zone_name=BUSINESS_TIME_ZONE,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_reconciliation_schedule(
    client: Client, *, task_queue: str, at: time = time(2, 0)
) -> list[str]:
    await ensure_schedule(client, RECONCILE_SCHEDULE, reconciliation_schedule(task_queue, at))
    return [RECONCILE_SCHEDULE]


EXPIRE_POINTS_SCHEDULE = "expire-points"


def points_expiry_schedule(task_queue: str) -> Schedule:
    """Every 1 January at 00:00 business time: the points of the year before last expire."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            PointsExpiryWorkflow.run,
            ExpiryInput(),
            id=EXPIRE_POINTS_SCHEDULE,
            task_queue=task_queue,  # the server appends the time
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    month=[ScheduleRange(1)],
                    day_of_month=[ScheduleRange(1)],
                    hour=[ScheduleRange(0)],
                    minute=[ScheduleRange(0)],
                    second=[ScheduleRange(0)],
                )
            ],
            time_zone_name=BUSINESS_TIME_ZONE,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_points_expiry_schedule(client: Client, *, task_queue: str) -> list[str]:
    await ensure_schedule(client, EXPIRE_POINTS_SCHEDULE, points_expiry_schedule(task_queue))
    return [EXPIRE_POINTS_SCHEDULE]
