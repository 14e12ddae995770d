"""A coupon batch survives its worker being killed mid-batch (DESIGN §6.7): SIGKILL the worker
process while CouponBatchWorkflow is issuing to a segment of 3,000 customers, start a new one,
and every customer ends with exactly one coupon of the batch, the batch's count agreeing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from models.contracts.customers import CouponBatchInput
from models.db import CouponBatch, CustomerCoupon, Segment
from tests.support.members import a_coupon, storefront_id
from tests.support.orders import eventually
from tests.support.stack import Stack, running_stack
from tests.support.worker_process import WorkerProcess
from workflows.coupon_batch import CouponBatchWorkflow, coupon_batch_id

pytestmark = pytest.mark.e2e
CUSTOMERS = 3_000


@pytest_asyncio.fixture
async def stack(
    seeded_engine: AsyncEngine, dev_client: Client, task_queue: str
) -> AsyncIterator[Stack]:
    async with running_stack(seeded_engine, dev_client, task_queue, in_process_worker=False) as s:
        yield s


@pytest.fixture
def worker(stack: Stack, tmp_path: Path) -> Iterator[WorkerProcess]:
    process = WorkerProcess(stack.worker_env(), tmp_path / "worker.log")
    process.start()
    yield process
    process.stop()


async def a_dormant_batch(stack: Stack, customers: int) -> int:
    """`customers` customers with no orders, a segment of the dormant, a batch of a coupon."""
    shop = await storefront_id(stack)
    coupon = await a_coupon(stack, "CRASH-BACK")
    async with stack.sessions() as session:
        await session.execute(
            text(
                "INSERT INTO customers (api_key_id, customer_key, name, phone, addresses, channel,"
                " created_at, updated_at) SELECT :shop, 100000 + i, '会员' || i, "
                "'139' || lpad(i::text, 8, '0'), '[]'::jsonb, 'app', now() - interval '1 minute',"
                " now() FROM generate_series(1, :n) AS i"
            ),
            {"shop": shop, "n": customers},
        )
        segment = Segment(name="沉睡", rules=[{"kind": "no_order_in", "days": 180}])
        session.add(segment)
        await session.flush()
        batch = CouponBatch(
            segment_id=segment.id, coupon_id=coupon, status="running", rules=segment.rules,
            as_of=datetime.now(UTC), total=customers, created_by="test",
        )  # fmt: skip
        session.add(batch)
        await session.commit()
        return batch.id


async def issued(stack: Stack, batch_id: int) -> tuple[int, int, int, str]:
    """(coupon rows, distinct customers, the batch's count, its status)."""
    async with stack.sessions() as session:
        rows, people = (
            await session.execute(
                select(func.count(), func.count(CustomerCoupon.customer_id.distinct())).where(
                    CustomerCoupon.batch_id == batch_id
                )
            )
        ).one()
        batch = await session.get_one(CouponBatch, batch_id, populate_existing=True)
        return int(rows), int(people), batch.issued, batch.status


async def test_a_worker_killed_mid_batch_gives_nobody_a_second_coupon(
    stack: Stack, worker: WorkerProcess
) -> None:
    batch_id = await a_dormant_batch(stack, CUSTOMERS)
    handle = await stack.client.start_workflow(
        CouponBatchWorkflow.run,
        CouponBatchInput(batch_id=batch_id, chunk=40, chunks_per_run=15),
        id=coupon_batch_id(batch_id),
        task_queue=stack.task_queue,
    )

    async def under_way() -> bool:
        return (await issued(stack, batch_id))[0] >= 400

    await eventually(under_way, "the batch under way")
    await asyncio.to_thread(worker.crash)
    at_crash = await issued(stack, batch_id)
    assert at_crash[0] < CUSTOMERS and at_crash[3] == "running", at_crash  # mid-batch
    worker.start()

    async def done() -> bool:
        return (await issued(stack, batch_id))[3] == "done"

    await eventually(done, "the batch done after the crash", seconds=180)
    assert await issued(stack, batch_id) == (CUSTOMERS, CUSTOMERS, CUSTOMERS, "done")
    progress = await handle.result()  # the last run's answer, after continuing as new
    assert (progress.status, progress.issued) == ("done", CUSTOMERS)
