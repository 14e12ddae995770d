"""Stock to count in tests: locations each holding exactly one batch (of some SKU)."""

from __future__ import annotations

from sqlalchemy import func, select

from models.db import LocationStock
from tests.support.stack import Stack


async def lone_batches(
    stack: Stack, warehouse: int, n: int, at_least: int = 1
) -> list[LocationStock]:
    """`n` locations of the warehouse each holding exactly one batch (of some SKU)."""
    async with stack.sessions() as session:
        alone = (
            select(LocationStock.location_id)
            .where(LocationStock.warehouse_id == warehouse, LocationStock.quantity > 0)
            .group_by(LocationStock.location_id)
            .having(func.count() == 1)
        )
        rows = await session.scalars(
            select(LocationStock)
            .where(
                LocationStock.location_id.in_(alone),
                LocationStock.quantity >= at_least,
                LocationStock.reserved == 0,
                ~LocationStock.disabled,
            )
            .order_by(LocationStock.id)
            .limit(n)
        )
        found = list(rows)
    assert len(found) == n
    return found
