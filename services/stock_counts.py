"""Stock counts (盘点), booked in the caller's (the API's) transaction: open a count over some
locations of a warehouse (they are not picked from meanwhile), take counted entries (a device's
entry key makes a resent scan count once), show the differences against the book, and on a
warehouse manager's approval book each as a count_surplus / count_deficit ledger movement."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Exists, exists, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from models.db import Location, LocationStock, StockCount, StockCountEntry, StockCountLocation
from models.domain.purchasing import CountDifference, CountEntry, count_differences
from services.stock_ledger import BatchRef, Document, StockError, move_on_hand


@dataclass(frozen=True)
class Counted:
    entry_key: str
    location_id: int
    sku_id: int
    quantity: int
    batch_no: str = ""


def under_open_count(location_id: ColumnElement[int] | InstrumentedAttribute[int]) -> Exists:
    """SQL: the location is part of a count still being counted (not to be picked from)."""
    return exists().where(
        StockCountLocation.location_id == location_id,
        StockCountLocation.count_no == StockCount.count_no,
        StockCount.status == "counting",
    )


async def open_count(
    session: AsyncSession, *, warehouse_id: int, location_ids: list[int], actor: str
) -> str:
    wanted = sorted(set(location_ids))
    found = set(
        await session.scalars(
            select(Location.id).where(
                Location.id.in_(wanted), Location.warehouse_id == warehouse_id
            )
        )
    )
    if missing := [loc for loc in wanted if loc not in found]:
        raise StockError(f"locations {missing} are not in warehouse {warehouse_id}",
                         field="location_ids", conflict=False)  # fmt: skip
    busy = list(
        await session.scalars(
            select(StockCountLocation.location_id)
            .join(StockCount, StockCount.count_no == StockCountLocation.count_no)
            .where(StockCountLocation.location_id.in_(wanted), StockCount.status == "counting")
        )
    )
    if busy:
        raise StockError(f"locations {sorted(busy)} are already being counted",
                         field="location_ids")  # fmt: skip
    seq = int(await session.scalar(select(func.nextval("stock_count_seq"))) or 0)
    count_no = f"SC{datetime.now(UTC):%Y%m%d}{seq:06d}"
    session.add(StockCount(count_no=count_no, warehouse_id=warehouse_id, created_by=actor))
    await session.flush()
    session.add_all(StockCountLocation(count_no=count_no, location_id=loc) for loc in wanted)
    await session.flush()
    return count_no


async def _counting(session: AsyncSession, count_no: str) -> StockCount:
    count = await session.get(StockCount, count_no, with_for_update=True)
    if count is None:
        raise StockError(f"no stock count {count_no}", field="count_no", conflict=False)
    if count.status != "counting":
        raise StockError(f"stock count {count_no} is {count.status}")
    return count


async def add_entries(
    session: AsyncSession, *, count_no: str, entries: list[Counted], actor: str
) -> int:
    """Entries for locations of the count; returns how many were new."""
    await _counting(session, count_no)
    locations = set(
        await session.scalars(
            select(StockCountLocation.location_id).where(StockCountLocation.count_no == count_no)
        )
    )
    added = 0
    for n, entry in enumerate(entries):
        if entry.location_id not in locations:
            raise StockError(f"location {entry.location_id} is not part of {count_no}",
                             field=f"entries.{n}.location_id", conflict=False)  # fmt: skip
        result = await session.execute(
            insert(StockCountEntry)
            .values(count_no=count_no, counted_by=actor, **entry.__dict__)
            .on_conflict_do_nothing(index_elements=["count_no", "entry_key"])
        )
        added += result.rowcount or 0  # type: ignore[attr-defined]
    return added


async def differences(session: AsyncSession, count_no: str) -> list[CountDifference]:
    """Counted against the book as it stands now (picking is kept off these locations)."""
    locations = select(StockCountLocation.location_id).where(
        StockCountLocation.count_no == count_no
    )
    book = [
        CountEntry(
            location_id=r.location_id, sku_id=r.sku_id, batch_no=r.batch_no, quantity=r.quantity
        )
        for r in await session.scalars(
            select(LocationStock).where(
                LocationStock.location_id.in_(locations), LocationStock.quantity > 0
            )
        )
    ]
    counted = [
        CountEntry(
            location_id=e.location_id, sku_id=e.sku_id, batch_no=e.batch_no, quantity=e.quantity
        )
        for e in await session.scalars(
            select(StockCountEntry).where(StockCountEntry.count_no == count_no)
        )
    ]
    return count_differences(book, counted)


async def approve_count(
    session: AsyncSession, *, count_no: str, actor: str
) -> list[CountDifference]:
    count = await _counting(session, count_no)
    found = await differences(session, count_no)
    for n, diff in enumerate(found):
        await move_on_hand(
            session,
            movement_type="count_surplus" if diff.kind == "surplus" else "count_deficit",
            sku_id=diff.sku_id,
            warehouse_id=count.warehouse_id,
            batch=BatchRef(diff.location_id, diff.batch_no),
            quantity=abs(diff.difference),
            doc=Document("stock_count", count_no, actor, f"盘点 {diff.kind}", f"{count_no}:{n}"),
        )
    count.status, count.decided_by, count.decided_at = "approved", actor, datetime.now(UTC)
    await session.flush()
    return found


async def cancel_count(session: AsyncSession, *, count_no: str, actor: str) -> None:
    count = await _counting(session, count_no)
    count.status, count.decided_by, count.decided_at = "cancelled", actor, datetime.now(UTC)
    await session.flush()
