"""Customer returns received in the warehouse (DESIGN §6.3): returned units back on hand
through the stock ledger (return_in), in the caller's transaction."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.contracts.after_sale import ReturnInbound
from models.db import Location, LocationStock, PickAllocation, Reservation
from services import putaway
from services.stock_ledger import BatchRef, Document, move_on_hand


class NoDamageLocation(Exception):
    """Damaged units came back to a warehouse without a damage location."""


async def receive_return(session: AsyncSession, inbound: ReturnInbound) -> int:
    """Sellable units into the batch and location they were picked from, damaged ones into
    the warehouse's damage location as a blocked batch (on hand, never sold). Idempotent per
    after-sale and line. Returns the units put back."""
    damage = await session.scalar(
        select(Location.id)
        .where(Location.warehouse_id == inbound.warehouse_id, Location.kind == "damage")
        .order_by(Location.id)
        .limit(1)
    )
    units = 0
    for line, sku_id in inbound.lines:
        source = await _shipped_from(session, inbound, line.line_no, sku_id)
        back = (line.line_no, sku_id)
        units += await _put_back(session, inbound, back, source, line.sellable, "sellable")
        await putaway.create_task(session, _landed(inbound, back, source, line.sellable))
        if line.damaged and damage is None:
            raise NoDamageLocation(f"warehouse {inbound.warehouse_id} has no damage location")
        place = replace(source, location_id=damage or source.location_id)
        units += await _put_back(session, inbound, back, place, line.damaged, "damaged")
    return units


def _landed(
    inbound: ReturnInbound, line: tuple[int, int], where: BatchRef, count: int
) -> putaway.Landed:
    """Sellable units restocked: a putaway task when they landed in a receiving location."""
    line_no, sku_id = line
    return putaway.Landed(
        warehouse_id=inbound.warehouse_id,
        sku_id=sku_id,
        batch_no=where.batch_no,
        location_id=where.location_id,
        quantity=count,
        source_type="after_sale",
        source_no=inbound.as_no,
        source_key=f"return:{inbound.as_no}:{line_no}",
    )


async def _put_back(
    session: AsyncSession,
    inbound: ReturnInbound,
    line: tuple[int, int],
    where: BatchRef,
    count: int,
    condition: str,
) -> int:
    """`count` units of (line, SKU) back on hand at `where`; damaged ones blocked there."""
    if not count:
        return 0
    line_no, sku_id = line
    await move_on_hand(
        session,
        movement_type="return_in",
        sku_id=sku_id,
        warehouse_id=inbound.warehouse_id,
        batch=where,
        quantity=count,
        doc=Document(
            ref_type="after_sale",
            ref_no=inbound.as_no,
            actor=f"{inbound.actor.kind}:{inbound.actor.name}",
            reason=f"return received {condition}",
            idempotency_key=f"return:{inbound.as_no}:{line_no}:{condition}",
        ),
    )
    if condition == "damaged":
        await session.execute(
            update(LocationStock)
            .where(
                LocationStock.location_id == where.location_id,
                LocationStock.sku_id == sku_id,
                LocationStock.batch_no == where.batch_no,
            )
            .values(disabled=True)
        )
    return count


async def _shipped_from(
    session: AsyncSession, inbound: ReturnInbound, line_no: int, sku_id: int
) -> BatchRef:
    """The batch and location the line's units were picked from in the receiving warehouse (the
    last one), else that warehouse's receiving location with a return batch."""
    packages = select(Reservation.package_no).where(
        Reservation.order_no == inbound.order_no, Reservation.line_no == line_no
    )
    picked = await session.scalar(
        select(LocationStock)
        .join(PickAllocation, PickAllocation.location_stock_id == LocationStock.id)
        .where(
            PickAllocation.package_no.in_(packages),
            PickAllocation.line_no == line_no,
            PickAllocation.status == "shipped",
            LocationStock.warehouse_id == inbound.warehouse_id,  # a line from two warehouses
        )
        .order_by(PickAllocation.id.desc())
        .limit(1)
    )
    if picked is not None:
        return BatchRef(
            location_id=picked.location_id,
            batch_no=picked.batch_no,
            production_date=picked.production_date,
            expiry_date=picked.expiry_date,
        )
    receiving = await session.scalar(
        select(Location.id)
        .where(Location.warehouse_id == inbound.warehouse_id, Location.kind == "receiving")
        .order_by(Location.id)
        .limit(1)
    )
    assert receiving is not None, f"warehouse {inbound.warehouse_id} has no receiving location"
    return BatchRef(location_id=receiving, batch_no=f"RET-{inbound.as_no}")
