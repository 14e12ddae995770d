"""Order numbers: the storefront's own key for an order (`client_order_key`) maps to one order
number for ever, so placing the same order again finds the same order and workflow."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.db import OrderNumber


async def order_number(
    session: AsyncSession, *, api_key_id: int, client_key: str, today: date
) -> str:
    """The number of this storefront's key, given now (`SO<business day><sequence>`) if the key
    is new, in the caller's transaction. Two requests with the same new key get the same number:
    the second one's insert waits for the first transaction and does nothing, then (a new
    statement, READ COMMITTED) reads the first one's row."""
    query = select(OrderNumber.order_no).where(
        OrderNumber.api_key_id == api_key_id, OrderNumber.client_order_key == client_key
    )
    found = await session.scalar(query)
    if found is None:
        seq = int(await session.scalar(select(func.nextval("order_no_seq"))) or 0)
        await session.execute(
            insert(OrderNumber)
            .values(
                order_no=f"SO{today:%Y%m%d}{seq:06d}",
                api_key_id=api_key_id,
                client_order_key=client_key,
            )
            .on_conflict_do_nothing(index_elements=["api_key_id", "client_order_key"])
        )
        found = await session.scalar(query)
    assert found is not None
    return found
