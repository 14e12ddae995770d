"""Segments by rules over orders and coupon batches issued to them (DESIGN §6.7).

A rule (models/contracts/customers.py) becomes one SQL condition on `customers` (RULE_SQL): a
new rule kind adds its contract model and its entry here. A customer's orders are those of the
same storefront naming its key; a rule measures them as of an instant `as_of` (orders placed in
(as_of - days, as_of]), and only customers recorded by `as_of` are members. A batch measures
with its own copy of the segment's rules, taken when it began, so its retries and chunks see
one segment even when the segment is edited meanwhile.

A batch issues in chunks of customers in id order: each chunk inserts the coupons with ON
CONFLICT DO NOTHING on (batch, customer) and moves the batch's `issued` and `cursor` in the
same transaction, so a chunk run twice (a worker killed after committing, before reporting)
gives nothing twice and counts nothing twice."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, column, exists, func, select, true, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.contracts.customers import (
    ChunkIssued,
    LevelAtLeast,
    NoOrderIn,
    PaidAtLeast,
    Rule,
    Segment,
)
from models.db import CouponBatch, Customer, CustomerCoupon, MemberLevel, Order, PointsEntry
from models.db import Segment as SegmentRow


def _orders_since(as_of: datetime, days: int) -> ColumnElement[bool]:
    return and_(
        Order.api_key_id == Customer.api_key_id,
        Order.customer_id == Customer.customer_key,
        Order.placed_at > as_of - timedelta(days=days),
        Order.placed_at <= as_of,
    )


def _paid_at_least(rule: Any, as_of: datetime) -> ColumnElement[bool]:
    assert isinstance(rule, PaidAtLeast)
    paid = (
        select(func.coalesce(func.sum(Order.paid_fen - Order.refunded_fen), 0))
        .where(_orders_since(as_of, rule.days))
        .scalar_subquery()
    )
    return paid >= rule.min_fen


def _no_order_in(rule: Any, as_of: datetime) -> ColumnElement[bool]:
    assert isinstance(rule, NoOrderIn)
    return ~exists().where(_orders_since(as_of, rule.days), Order.paid_fen > 0)


def _level_at_least(rule: Any, as_of: datetime) -> ColumnElement[bool]:
    """The customer's growth value booked by `as_of` reaches the level's threshold: the level
    they held then (by today's thresholds), the same for every chunk of a batch."""
    assert isinstance(rule, LevelAtLeast)
    growth = (
        select(func.coalesce(func.sum(PointsEntry.growth), 0))
        .where(PointsEntry.customer_id == Customer.id, PointsEntry.at <= as_of)
        .scalar_subquery()
    )
    threshold = (
        select(MemberLevel.growth_threshold)
        .where(MemberLevel.id == rule.level_id)
        .scalar_subquery()
    )
    return growth >= threshold


RULE_SQL: dict[type, Callable[[Any, datetime], ColumnElement[bool]]] = {
    PaidAtLeast: _paid_at_least,
    NoOrderIn: _no_order_in,
    LevelAtLeast: _level_at_least,
}


def member(rules: Sequence[Rule], as_of: datetime) -> ColumnElement[bool]:
    """The condition on `customers` that every rule holds as of `as_of`."""
    held = [RULE_SQL[type(rule)](rule, as_of) for rule in rules]
    return and_(Customer.created_at <= as_of, *held) if held else Customer.created_at <= as_of


def rules_of(row: SegmentRow | CouponBatch) -> list[Rule]:
    """A segment's rules, or those a batch was started with (its own copy: an edit of the
    segment does not change a batch's customers)."""
    return Segment.model_validate({"rules": row.rules}).rules


async def naming_levels(session: AsyncSession, level_ids: Sequence[int]) -> list[tuple[str, int]]:
    """(segment name, level id) for every `level_at_least` rule of a segment in use (not
    archived) that names one of the levels: a level removed under such a rule would leave the
    segment matching nobody, silently."""
    if not level_ids:
        return []
    rule = (
        func.jsonb_array_elements(SegmentRow.rules)
        .table_valued(column("value", JSONB))
        .alias("rule")
    )
    level_id = rule.c.value["level_id"].astext.cast(Integer)
    rows = await session.execute(
        select(SegmentRow.name, level_id)
        .select_from(SegmentRow)
        .join(rule, true())
        .where(
            SegmentRow.archived_at.is_(None),
            rule.c.value["kind"].astext == "level_at_least",
            level_id.in_(level_ids),
        )
        .order_by(SegmentRow.name)
    )
    return [(name, int(found)) for name, found in rows]


async def count_members(session: AsyncSession, rules: Sequence[Rule], as_of: datetime) -> int:
    found = await session.scalar(
        select(func.count()).select_from(Customer).where(member(rules, as_of))
    )
    return int(found or 0)


async def members_after(
    session: AsyncSession, rules: Sequence[Rule], as_of: datetime, after: int, limit: int
) -> list[int]:
    """The ids of the segment's next `limit` customers after the id `after`."""
    found = await session.scalars(
        select(Customer.id)
        .where(Customer.id > after, member(rules, as_of))
        .order_by(Customer.id)
        .limit(limit)
    )
    return list(found)


async def issue_chunk(session: AsyncSession, batch_id: int, after: int, limit: int) -> ChunkIssued:
    """Give the batch's coupon to the segment's next customers after `after` (flushed). The
    answer's `issued` counts the chunk's customers who hold the coupon now, whether this run or
    an earlier one gave it: a chunk committed just before a worker died is run again, finds its
    coupons given (nothing inserted) and must still count them, or the batch's progress falls
    short of the coupons issued. The batch row's own count rises only by what was inserted."""
    batch = await session.get(CouponBatch, batch_id, with_for_update=True)
    if batch is None:
        raise LookupError(f"coupon batch {batch_id} does not exist")
    ids = await members_after(session, rules_of(batch), batch.as_of, after, limit)
    if ids:
        rows = [{"batch_id": batch_id, "customer_id": i, "coupon_id": batch.coupon_id} for i in ids]
        given = await session.scalars(
            insert(CustomerCoupon)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["batch_id", "customer_id"])
            .returning(CustomerCoupon.id)
        )
        batch.issued += len(list(given))
        batch.cursor = max(batch.cursor, ids[-1])
    await session.flush()
    return ChunkIssued(last=ids[-1] if ids else after, issued=len(ids), done=len(ids) < limit)


async def finish_batch(session: AsyncSession, batch_id: int, at: datetime) -> None:
    """The batch done (once: a repeat changes nothing)."""
    await session.execute(
        update(CouponBatch)
        .where(CouponBatch.id == batch_id, CouponBatch.status == "running")
        .values(status="done", finished_at=at)
    )
