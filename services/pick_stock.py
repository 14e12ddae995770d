"""What picking does to stock (DESIGN §5, issue 4 items 1 and 6), always through the ledger.

- An allocation holds `location_stocks.reserved` of its batch; the order's reservation keeps
  holding `stocks.reserved` of the warehouse. Picked units stay on the books at their location
  (still reserved there) until the package is handed over: then `ship` takes them out of exactly
  the batches picked (sales out).
- A short pick writes off what the picker did not find at that location (`pick_short`), after
  re-allocating what other locations can give. Re-allocation never takes units promised to
  another order nor units held back as safety stock: it is capped by the warehouse's sellable
  units, and never takes a batch the line already holds again. What cannot be re-allocated
  is no longer reserved for the package (`release`), and the order's policy decides.
- Cancelling a package's picks frees every allocation it holds; units already picked go back
  to their location (they never left it on the books).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.db import Location, LocationStock, PickAllocation, Reservation, Stock, StockMovement
from models.domain.allocation import BatchStock, allocate
from services.stock_counts import under_open_count
from services.stock_ledger import Document, sellable_units


def batch_of(row: LocationStock) -> BatchStock:
    return BatchStock(
        id=row.id,
        location_id=row.location_id,
        batch_no=row.batch_no,
        quantity=row.quantity,
        reserved=row.reserved,
        production_date=row.production_date,
        expiry_date=row.expiry_date,
        received_at=row.received_at,
        disabled=row.disabled,
    )


def pickable() -> tuple[ColumnElement[bool], ...]:
    """Batches (joined with their location) a wave may take units from: units left over what
    is held there, at an active storage location that is not being counted (盘点)."""
    return (
        LocationStock.quantity > LocationStock.reserved,
        Location.kind == "storage",
        Location.active.is_(True),
        ~under_open_count(LocationStock.location_id),
    )


async def unreserve(
    session: AsyncSession,
    package_no: str,
    line_no: int,
    units: int,
    reason: str,
    doc: Document | None = None,
) -> None:
    """The package no longer holds `units` of this line in its warehouse (by default a wave's
    write-off; `doc` names another cause, with its own idempotency key)."""
    held = await session.get(Reservation, (package_no, line_no), with_for_update=True)
    if held is None or held.status != "held" or units <= 0:
        return
    units = min(units, held.quantity)
    await session.execute(
        update(Stock)
        .where(Stock.sku_id == held.sku_id, Stock.warehouse_id == held.warehouse_id)
        .values(reserved=Stock.reserved - units)
    )
    left = held.quantity - units
    if left == 0:
        held.status = "released"
    else:
        held.quantity = left
    doc = doc or Document(
        ref_type="package",
        ref_no=package_no,
        actor="system:wave",
        idempotency_key=f"short:{package_no}:{line_no}:{left}",
    )
    session.add(
        StockMovement(
            movement_type="release",
            sku_id=held.sku_id,
            warehouse_id=held.warehouse_id,
            reserved_delta=-units,
            ref_type=doc.ref_type,
            ref_no=doc.ref_no,
            actor=doc.actor,
            reason=reason[:500],
            idempotency_key=doc.idempotency_key,
        )
    )
    await session.flush()


async def short(
    session: AsyncSession,
    allocation: PickAllocation,
    missing: int,
    *,
    today: date,
    actor: str,
) -> list[PickAllocation]:
    """`missing` units of the allocation were not at its location. Returns the allocations that
    replace them elsewhere (maybe none); the rest is released from the package."""
    if missing <= 0:  # a write-off of nothing is never a ledger row
        raise ValueError(f"allocation {allocation.id}: {missing} units short")
    wanted = min(missing, await _room(session, allocation))
    found = allocate(wanted, await _candidates(session, allocation), today) if wanted else None
    replacements: list[PickAllocation] = []
    for take in found.takes if found else ():
        await session.execute(
            update(LocationStock)
            .where(LocationStock.id == take.batch.id)
            .values(reserved=LocationStock.reserved + take.quantity)
        )
        replacement = PickAllocation(
            wave_no=allocation.wave_no,
            package_no=allocation.package_no,
            line_no=allocation.line_no,
            sku_id=allocation.sku_id,
            warehouse_id=allocation.warehouse_id,
            location_stock_id=take.batch.id,
            location_id=take.batch.location_id,
            batch_no=take.batch.batch_no,
            quantity=take.quantity,
        )
        session.add(replacement)
        replacements.append(replacement)
    moved = sum(r.quantity for r in replacements)
    # Release before writing off: the warehouse never shows more reserved than on hand.
    await unreserve(
        session,
        allocation.package_no,
        allocation.line_no,
        missing - moved,
        f"short pick at location {allocation.location_id}",
    )
    await _write_off(session, allocation, missing, actor)
    await session.flush()
    return replacements


async def _room(session: AsyncSession, allocation: PickAllocation) -> int:
    """Units of the warehouse promised to nobody and not held back: its sellable units
    (on hand − reserved − safety hold − disabled batches). The missing units are still on hand
    and still reserved for the package here, so they count neither way."""
    await session.get(Stock, (allocation.sku_id, allocation.warehouse_id), with_for_update=True)
    sellable = await session.scalar(
        select(sellable_units()).where(
            Stock.sku_id == allocation.sku_id, Stock.warehouse_id == allocation.warehouse_id
        )
    )
    return max(0, int(sellable or 0))


async def _candidates(session: AsyncSession, allocation: PickAllocation) -> list[BatchStock]:
    """Other pickable batches of the SKU in the warehouse, locked. A batch the line already
    holds an allocation on is never offered again (one allocation per line and batch): its
    spare units, if any, stay for other lines."""
    held = select(PickAllocation.location_stock_id).where(
        PickAllocation.package_no == allocation.package_no,
        PickAllocation.line_no == allocation.line_no,
    )
    others = await session.scalars(
        select(LocationStock)
        .join(Location, Location.id == LocationStock.location_id)
        .where(
            LocationStock.sku_id == allocation.sku_id,
            LocationStock.warehouse_id == allocation.warehouse_id,
            LocationStock.id != allocation.location_stock_id,
            LocationStock.id.not_in(held),
            *pickable(),
        )
        .order_by(LocationStock.id)
        .with_for_update(of=LocationStock)
    )
    return [batch_of(b) for b in others]


async def _write_off(
    session: AsyncSession, allocation: PickAllocation, missing: int, actor: str
) -> None:
    await session.execute(
        update(LocationStock)
        .where(LocationStock.id == allocation.location_stock_id)
        .values(
            quantity=LocationStock.quantity - missing,
            reserved=LocationStock.reserved - missing,
        )
    )
    await session.execute(
        update(Stock)
        .where(Stock.sku_id == allocation.sku_id, Stock.warehouse_id == allocation.warehouse_id)
        .values(on_hand=Stock.on_hand - missing)
    )
    session.add(
        StockMovement(
            movement_type="pick_short",
            sku_id=allocation.sku_id,
            warehouse_id=allocation.warehouse_id,
            location_id=allocation.location_id,
            batch_no=allocation.batch_no,
            on_hand_delta=-missing,
            ref_type="package",
            ref_no=allocation.package_no,
            actor=actor,
            reason="not found at the location when picking",
            idempotency_key=f"pick_short:{allocation.id}",
        )
    )


def held_at_location(allocation: PickAllocation) -> int:
    """Units the allocation holds at its batch: all of them until it is found short, then
    only those picked (the missing ones were written off)."""
    return allocation.picked if allocation.status == "short" else allocation.quantity


async def free_allocations(session: AsyncSession, package_no: str) -> int:
    """Cancel what the package holds at locations; returns the picked units put back."""
    held = await session.scalars(
        select(PickAllocation)
        .where(
            PickAllocation.package_no == package_no,
            PickAllocation.status.in_(("open", "picked", "short")),
        )
        .order_by(PickAllocation.location_stock_id)
        .with_for_update()
    )
    returned = 0
    for allocation in held:
        await session.execute(
            update(LocationStock)
            .where(LocationStock.id == allocation.location_stock_id)
            .values(reserved=LocationStock.reserved - held_at_location(allocation))
        )
        returned += allocation.picked
        allocation.status = "cancelled"
    await session.flush()
    return returned


async def picked_allocations(
    session: AsyncSession, package_no: str, line_no: int
) -> list[PickAllocation]:
    """The allocations of an outbound order's line a wave picked units from, locked, in
    allocation order (a package's or a transfer's)."""
    rows = await session.scalars(
        select(PickAllocation)
        .where(
            PickAllocation.package_no == package_no,
            PickAllocation.line_no == line_no,
            PickAllocation.status.in_(("picked", "short")),
            PickAllocation.picked > 0,
        )
        .order_by(PickAllocation.id)
        .with_for_update()
    )
    return list(rows)


async def ship_picked(
    session: AsyncSession, held: Reservation, package_no: str, actor: str
) -> bool:
    """Sales out of the units picked for this reservation, from exactly their batches. False
    when the package was not picked through a wave (the caller ships by batch order)."""
    picked = await picked_allocations(session, package_no, held.line_no)
    if not picked:
        return False
    total = sum(a.picked for a in picked)
    if total != held.quantity:
        raise AssertionError(
            f"package {package_no} line {held.line_no}: {total} picked, {held.quantity} held"
        )
    for allocation in picked:
        await session.execute(
            update(LocationStock)
            .where(LocationStock.id == allocation.location_stock_id)
            .values(
                quantity=LocationStock.quantity - allocation.picked,
                reserved=LocationStock.reserved - allocation.picked,
            )
        )
        allocation.status = "shipped"
        session.add(
            StockMovement(
                movement_type="sales_out",
                sku_id=held.sku_id,
                warehouse_id=held.warehouse_id,
                location_id=allocation.location_id,
                batch_no=allocation.batch_no,
                on_hand_delta=-allocation.picked,
                reserved_delta=-allocation.picked,
                ref_type="package",
                ref_no=package_no,
                actor=actor,
                idempotency_key=f"ship:{package_no}:{held.line_no}:a{allocation.id}",
            )
        )
    await session.execute(
        update(Stock)
        .where(Stock.sku_id == held.sku_id, Stock.warehouse_id == held.warehouse_id)
        .values(on_hand=Stock.on_hand - total, reserved=Stock.reserved - total)
    )
    return True
