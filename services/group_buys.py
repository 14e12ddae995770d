"""Group buys on the database side (DESIGN §6.8): the projection a group's workflow writes (the
group row and its members, newer views winning), the group number, and what the API reads to
decide whether an offer may open a group now."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.contracts.group_buy import GroupRecord
from models.db import GroupBuy, GroupBuyMember, GroupBuyOffer


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
    rows = [
        {
            "group_no": view.group_no,
            "order_no": m.order_no,
            "customer_id": m.customer_id,
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
