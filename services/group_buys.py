"""Group buys on the database side (DESIGN §6.8): the projection a group's workflow writes (the
group row and its members, newer views winning), the group number, and what the API reads to
decide whether an offer may open a group now."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.contracts.group_buy import GroupMember, GroupRecord
from models.db import Customer, GroupBuy, GroupBuyMember, GroupBuyOffer, OrderNumber


def offer_status(offer: GroupBuyOffer, now: datetime) -> str:
    """scheduled → live → ended, or stopped by operations."""
    if offer.stopped_at is not None:
        return "stopped"
    if now < offer.starts_at:
        return "scheduled"
    if now >= offer.ends_at:
        return "ended"
    return "live"


def group_number(first_order_no: str) -> str:
    """A group is named after the order of the buyer who opened it (SO… → GB…), so opening
    again with the same client key finds the same group."""
    return f"GB{first_order_no[2:]}"


async def record_group(session: AsyncSession, record: GroupRecord) -> None:
    """Upsert the group and its members from the workflow's view, unless a newer view is in."""
    view = record.view
    values = {
        "status": view.status,
        "members": view.holding,
        "paid": view.paid,
        "finished_at": view.finished_at,
        "reason": view.reason[:200],
        "version": record.version,
    }
    written = await session.execute(
        insert(GroupBuy)
        .values(
            group_no=view.group_no,
            offer_id=view.offer_id,
            opened_by=view.opened_by,
            group_size=view.size,
            opened_at=view.opened_at,
            deadline=view.deadline,
            **values,
        )
        .on_conflict_do_update(
            index_elements=[GroupBuy.group_no],
            set_=values,
            where=GroupBuy.version < record.version,
        )
        .returning(GroupBuy.group_no)
    )
    if written.first() is None or not view.members:
        return  # a newer view is in already
    records = await _records_of(session, view.members)
    rows = [
        {
            "group_no": view.group_no,
            "order_no": m.order_no,
            "customer_id": m.customer_id,
            "customer_record_id": records[m.order_no],
            "status": m.status,
            "joined_at": m.joined_at,
            "paid_at": m.paid_at,
        }
        for m in view.members
    ]
    statement = insert(GroupBuyMember).values(rows)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[GroupBuyMember.group_no, GroupBuyMember.order_no],
            set_={"status": statement.excluded.status, "paid_at": statement.excluded.paid_at},
        )
    )


async def _records_of(session: AsyncSession, members: list[GroupMember]) -> dict[str, int]:
    """{order_no: customer record} of the members: the one the join named; for a member who
    joined before joins named it, the record of its order number's storefront and its key
    (else the oldest record with that key, as migration 0056 moved such rows)."""
    found: dict[str, int] = {}
    missing: dict[str, int] = {}
    for m in members:
        if m.customer_record_id is not None:
            found[m.order_no] = m.customer_record_id
        else:
            missing[m.order_no] = m.customer_id
    if missing:
        rows = await session.execute(
            select(OrderNumber.order_no, Customer.id, Customer.customer_key)
            .join(Customer, Customer.api_key_id == OrderNumber.api_key_id)
            .where(
                OrderNumber.order_no.in_(missing),
                Customer.customer_key.in_(set(missing.values())),
            )
        )
        found.update({no: int(c) for no, c, key in rows if missing[no] == key})
    for order_no, key in missing.items():
        if order_no not in found:
            oldest = await session.scalar(
                select(func.min(Customer.id)).where(Customer.customer_key == key)
            )
            if oldest is None:
                raise LookupError(f"group member {order_no}: no customer has key {key}")
            found[order_no] = int(oldest)
    return found
