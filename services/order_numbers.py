"""Order numbers: the storefront's own key for an order (`client_order_key`) maps to one order
number for ever, so placing the same order again finds the same order and workflow."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from models.db import OrderNumber

# A new key's number in one statement (the usual case, one round trip): the next number unless
# the key has one. `SO<day>` then the sequence, at least 6 digits (as f"{seq:06d}"); the
# sequence is drawn only when the key is new.
_NEW = text(
    """INSERT INTO order_numbers (order_no, api_key_id, client_order_key)
    SELECT :prefix || lpad(n::text, greatest(6, length(n::text)), '0'), :api_key_id, :client_key
    FROM (SELECT nextval('order_no_seq') AS n WHERE NOT EXISTS (SELECT 1 FROM order_numbers
          WHERE api_key_id = :api_key_id AND client_order_key = :client_key)) AS next
    ON CONFLICT (api_key_id, client_order_key) DO NOTHING
    RETURNING order_no"""
)


async def order_number(
    session: AsyncSession, *, api_key_id: int, client_key: str, today: date
) -> str:
    """The number of this storefront's key, given now (`SO<business day><sequence>`) if the key
    is new, in the caller's transaction. Two requests with the same new key get the same number:
    the second one's insert waits for the first transaction and does nothing, then (a new
    statement, READ COMMITTED) reads the first one's row — as does a key placed before."""
    params = {"prefix": f"SO{today:%Y%m%d}", "api_key_id": api_key_id, "client_key": client_key}
    found = await session.scalar(_NEW, params)
    if found is None:
        found = await session.scalar(
            select(OrderNumber.order_no).where(
                OrderNumber.api_key_id == api_key_id, OrderNumber.client_order_key == client_key
            )
        )
    assert found is not None
    return str(found)
