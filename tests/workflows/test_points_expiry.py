"""The yearly points expiry on the time-skipping server with the real activities and database
(DESIGN §6.7): a run on 1 January of year Y expires the points credited before 1 January Y−1
and not used since, in batches, once per customer and year; skipping the clock past the next
year boundaries expires the points credited today. The Schedule that starts it fires every
1 January 00:00 in Shanghai."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest_asyncio
from sqlalchemy import select
from temporalio.client import Client, ScheduleActionStartWorkflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.loyalty import LoyaltyActivities
from core.db import SessionFactory
from models.contracts.loyalty import ExpiryInput, ExpiryResult
from models.db import PointsAccount, PointsEntry
from models.domain.business_day import BUSINESS_TZ
from services import points
from tests.support.invariants import points_accounts_off_ledger
from tests.support.temporal import time_skipping_server
from workers.schedules import EXPIRE_POINTS_SCHEDULE, ensure_points_expiry_schedule
from workflows.points_expiry import PointsExpiryWorkflow

OLD, SPENT_LATER, RECENT = 101, 102, 103


@pytest_asyncio.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of its own: this test moves its clock by years."""
    server = await time_skipping_server()
    try:
        yield server
    finally:
        await server.shutdown()


async def expire(env: WorkflowEnvironment, queue: str, batch_size: int = 2) -> ExpiryResult:
    """One run, started as the Schedule starts it (no year: the year it runs in). The clock
    moves only when the test says so (env.sleep): waiting for a run that has no timer must not
    let the server skip ahead."""
    with env.auto_time_skipping_disabled():
        return await env.client.execute_workflow(
            PointsExpiryWorkflow.run,
            ExpiryInput(batch_size=batch_size),
            id=f"expire-points-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
        )


async def balances(sessions: SessionFactory) -> dict[int, int]:
    async with sessions() as session:
        rows = await session.execute(select(PointsAccount.customer_id, PointsAccount.balance))
        return {customer: balance for customer, balance in rows}


async def test_points_expire_at_the_end_of_the_year_after_they_were_credited(
    env: WorkflowEnvironment, session_factory: SessionFactory
) -> None:
    now = await env.get_current_time()
    this_year = now.astimezone(BUSINESS_TZ).year
    long_ago = datetime(this_year - 2, 6, 1, tzinfo=BUSINESS_TZ)  # before 1 Jan of last year
    async with session_factory() as session:
        await points.book(session, OLD, "earn", 400, "SO-old:earn", at=long_ago)
        await points.book(session, SPENT_LATER, "earn", 500, "SO-a:earn", at=long_ago)
        await points.book(session, SPENT_LATER, "spend", -200, "SO-b:spend", at=now)
        await points.book(session, RECENT, "earn", 700, "SO-new:earn", at=now)
        await session.commit()

    queue = f"expiry-{uuid.uuid4().hex[:8]}"
    activities = LoyaltyActivities(session_factory)
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[PointsExpiryWorkflow],
        activities=[activities.expire_points],
    ):
        # This year's run: what was credited two years ago and not used expires.
        first = await expire(env, queue)
        assert (first.year, first.customers, first.points) == (this_year, 2, 400 + 300)
        assert await balances(session_factory) == {OLD: 0, SPENT_LATER: 0, RECENT: 700}
        # The same year's run again (a retry, a manual rerun) expires nothing twice.
        again = await expire(env, queue)
        assert (again.year, again.customers, again.points) == (this_year, 0, 0)

        # Next 1 January: today's points are not a year past their year yet.
        next_year = datetime(this_year + 1, 1, 1, 0, 0, 1, tzinfo=BUSINESS_TZ)
        await env.sleep(next_year - now)
        later = await expire(env, queue)
        assert (later.year, later.points) == (this_year + 1, 0)
        assert await balances(session_factory) == {OLD: 0, SPENT_LATER: 0, RECENT: 700}

        # The 1 January after: they expire.
        await env.sleep(timedelta(days=366))
        last = await expire(env, queue, batch_size=1)
        assert (last.year, last.customers, last.points) == (this_year + 2, 1, 700)
        assert await balances(session_factory) == {OLD: 0, SPENT_LATER: 0, RECENT: 0}

    async with session_factory() as session:
        expired = await session.execute(
            select(PointsEntry.customer_id, PointsEntry.points, PointsEntry.key)
            .where(PointsEntry.kind == "expire")
            .order_by(PointsEntry.id)
        )
        assert [tuple(row) for row in expired] == [
            (OLD, -400, f"expire:{this_year}"),
            (SPENT_LATER, -300, f"expire:{this_year}"),
            (RECENT, -700, f"expire:{this_year + 2}"),
        ]
        assert await points_accounts_off_ledger(session) == []


async def test_the_schedule_starts_the_expiry_every_first_of_january_in_shanghai(
    dev_client: Client,
) -> None:
    queue = f"expiry-{uuid.uuid4().hex[:8]}"
    assert await ensure_points_expiry_schedule(dev_client, task_queue=queue) == [
        EXPIRE_POINTS_SCHEDULE
    ]
    await ensure_points_expiry_schedule(dev_client, task_queue=queue)  # again: brought up to date
    handle = dev_client.get_schedule_handle(EXPIRE_POINTS_SCHEDULE)
    try:
        described = await handle.describe()
        [calendar] = described.schedule.spec.calendars
        assert [(r.start, r.end) for r in calendar.month] == [(1, 1)]
        assert [(r.start, r.end) for r in calendar.day_of_month] == [(1, 1)]
        assert [r.start for r in calendar.hour] == [0] and [r.start for r in calendar.minute] == [0]
        assert described.schedule.spec.time_zone_name == "Asia/Shanghai"
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert (action.workflow, action.task_queue) == ("PointsExpiryWorkflow", queue)
        upcoming = described.info.next_action_times[0].astimezone(BUSINESS_TZ)
        assert (upcoming.month, upcoming.day, upcoming.hour, upcoming.minute) == (1, 1, 0, 0)
    finally:
        await handle.delete()
