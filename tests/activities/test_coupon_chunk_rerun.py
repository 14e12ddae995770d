"""A coupon batch's chunk run again after its worker died (services/segments.issue_chunk, and the
activity around it): the first run committed its coupons but its answer was never recorded, so
the workflow runs the same chunk (same cursor) again and keeps only the second answer. That
answer must count the chunk's customers who hold the coupon, or the batch's progress falls short
(CI once saw 2960 of 3000); the batch row's own count must still rise only by what was inserted,
and nobody gets a second coupon."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from activities.customers import CustomerActivities
from core.db import SessionFactory
from core.security import hash_api_key, new_api_key
from models.contracts.customers import ChunkIssued, IssueChunk
from models.db import ApiKey, Coupon, CouponBatch, Customer, CustomerCoupon, Segment
from services import segments

AS_OF = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
CUSTOMERS = 5
CHUNK = 3  # two chunks: 3 customers, then the last 2

Run = Callable[[SessionFactory, IssueChunk], Awaitable[ChunkIssued]]


async def by_service(sessions: SessionFactory, request: IssueChunk) -> ChunkIssued:
    """The chunk as the activity runs it: the service, then a commit."""
    async with sessions() as session:
        issued = await segments.issue_chunk(session, request.batch_id, request.after, request.limit)
        await session.commit()
        return issued


async def by_activity(sessions: SessionFactory, request: IssueChunk) -> ChunkIssued:
    return await CustomerActivities(sessions).issue_coupon_chunk(request)


async def a_batch(sessions: SessionFactory) -> tuple[int, list[int]]:
    """A batch of a segment of everyone (no rules) over CUSTOMERS customers: its id, their ids."""
    key, prefix = new_api_key()
    async with sessions() as session:
        shop = ApiKey(name=f"shop-{prefix}", prefix=prefix, key_hash=hash_api_key(key),
                      role="storefront")  # fmt: skip
        session.add(shop)
        await session.flush()
        people = [
            Customer(api_key_id=shop.id, customer_key=n, name=f"c{n}", phone=f"1380000{n:04d}",
                     addresses=[], channel="app", created_at=AS_OF - timedelta(days=1))
            for n in range(CUSTOMERS)
        ]  # fmt: skip
        segment = Segment(name="所有人", rules=[])
        coupon = Coupon(
            code="RERUN",
            rule={"kind": "fixed", "amount_off_fen": 1000, "scope": {"all_items": True}},
        )
        session.add_all([*people, segment, coupon])
        await session.flush()
        batch = CouponBatch(segment_id=segment.id, coupon_id=coupon.id, rules=segment.rules,
                            as_of=AS_OF,
                            total=CUSTOMERS, created_by="test")  # fmt: skip
        session.add(batch)
        await session.commit()
        return batch.id, sorted(p.id for p in people)


async def coupon_rows(sessions: SessionFactory, batch_id: int) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).where(CustomerCoupon.batch_id == batch_id)
        )
        return int(count or 0)


@pytest.mark.parametrize("run", [by_service, by_activity], ids=["service", "activity"])
async def test_a_chunk_run_again_answers_what_it_gave_and_gives_nothing_twice(
    session_factory: SessionFactory, run: Run
) -> None:
    batch_id, ids = await a_batch(session_factory)
    counted = 0  # the workflow's running count: the answers it recorded
    after = 0
    for expected in (ids[:CHUNK], ids[CHUNK:]):
        request = IssueChunk(batch_id=batch_id, after=after, limit=CHUNK)
        first = await run(session_factory, request)  # committed, its answer lost with the worker
        rows = await coupon_rows(session_factory, batch_id)

        again = await run(session_factory, request)  # the retry, whose answer is recorded

        assert first == ChunkIssued(
            last=expected[-1], issued=len(expected), done=len(expected) < CHUNK
        )
        assert again == first
        assert await coupon_rows(session_factory, batch_id) == rows  # nothing inserted again
        counted += again.issued
        after = again.last

    assert after == ids[-1]
    assert counted == CUSTOMERS
    async with session_factory() as session:
        held = (
            await session.execute(
                select(CustomerCoupon.customer_id, func.count())
                .where(CustomerCoupon.batch_id == batch_id)
                .group_by(CustomerCoupon.customer_id)
            )
        ).all()
        batch = await session.get(CouponBatch, batch_id)
    assert sorted(held) == [(i, 1) for i in ids]  # each customer holds exactly one
    assert batch is not None
    assert (batch.issued, batch.cursor) == (CUSTOMERS, ids[-1])  # not doubled by the reruns
