"""Location moves (移库, DESIGN §6.9): units of one SKU batch go from one location to another of
the same warehouse. Through the stock ledger: one `move_out` row at the source and one `move_in`
row at the destination, both referring to the move, so the warehouse's on_hand never changes
and Σ location quantities stays equal to it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models.db import Location, LocationStock, Sku, StockMovement
from services.stock_ledger import BatchRef, StockError, add_to_batch, take_from_batch

REF_TYPE = "location_move"


@dataclass(frozen=True)
class LocationMove:
    move_id: str
    sku_id: int
    warehouse_id: int
    from_location_id: int
    to_location_id: int
    quantity: int
    batch_no: str = ""
    # What the ledger rows refer to: the move itself, or the document it is part of (a
    # putaway task, whose puts are moves).
    ref_type: str = REF_TYPE
    ref_no: str = ""


@dataclass(frozen=True)
class MoveDone:
    out: StockMovement
    into: StockMovement
    replayed: bool


def _keys(move_id: str) -> tuple[str, str]:
    return f"move:{move_id}:out", f"move:{move_id}:in"


async def _done(session: AsyncSession, move_id: str) -> MoveDone | None:
    out_key, in_key = _keys(move_id)
    rows = {
        m.idempotency_key: m
        for m in await session.scalars(
            select(StockMovement).where(StockMovement.idempotency_key.in_((out_key, in_key)))
        )
    }
    if out_key in rows and in_key in rows:
        return MoveDone(rows[out_key], rows[in_key], replayed=True)
    return None


async def _location(session: AsyncSession, location_id: int, warehouse_id: int, field: str) -> None:
    location = await session.get(Location, location_id)
    if location is None or location.warehouse_id != warehouse_id:
        raise StockError(
            f"location {location_id} is not in warehouse {warehouse_id}",
            field=field,
            conflict=False,
        )
    if not location.active:
        raise StockError(f"location {location.code} is disabled", field=field)


def _same(done: MoveDone, move: LocationMove) -> bool:
    out, into = done.out, done.into
    return (
        out.sku_id == move.sku_id
        and out.warehouse_id == move.warehouse_id
        and out.location_id == move.from_location_id
        and into.location_id == move.to_location_id
        and (out.batch_no or "") == move.batch_no
        and -out.on_hand_delta == move.quantity
    )


async def move_between_locations(session: AsyncSession, move: LocationMove, actor: str) -> MoveDone:
    """Move the units, all or nothing, in the caller's transaction. A repeat of the same move id
    returns the rows already written; the same id for a different move is refused."""
    if move.quantity <= 0:
        raise StockError("quantity must be positive", field="quantity", conflict=False)
    if (done := await _done(session, move.move_id)) is not None:
        if not _same(done, move):
            raise StockError("move_id was already used for a different move", field="move_id")
        return done
    if move.from_location_id == move.to_location_id:
        raise StockError(
            "from and to are the same location", field="to_location_id", conflict=False
        )
    if await session.get(Sku, move.sku_id) is None:
        raise StockError(f"no such SKU: {move.sku_id}", field="sku_id", conflict=False)
    await _location(session, move.from_location_id, move.warehouse_id, "from_location_id")
    await _location(session, move.to_location_id, move.warehouse_id, "to_location_id")
    try:
        async with session.begin_nested():
            return await _apply(session, move, actor)
    except IntegrityError:
        # A concurrent request with the same move id committed first: that one is the move.
        if (done := await _done(session, move.move_id)) is None:
            raise
        return done


async def _apply(session: AsyncSession, move: LocationMove, actor: str) -> MoveDone:
    source = await session.scalar(
        select(LocationStock)
        .where(
            LocationStock.location_id == move.from_location_id,
            LocationStock.sku_id == move.sku_id,
            LocationStock.batch_no == move.batch_no,
        )
        .with_for_update()
    )
    if source is None:
        raise StockError(
            "none of that SKU/batch at the source location", field="quantity", conflict=True
        )
    if source.disabled:
        raise StockError("that batch is disabled: it cannot be moved", field="batch_no")
    await take_from_batch(
        session, move.sku_id, BatchRef(move.from_location_id, move.batch_no), move.quantity
    )
    target = BatchRef(
        move.to_location_id, move.batch_no, source.production_date, source.expiry_date
    )
    await add_to_batch(session, move.sku_id, move.warehouse_id, target, move.quantity)
    # The destination batch may have been disabled: moving units into it would block them.
    disabled = await session.scalar(
        select(LocationStock.disabled).where(
            LocationStock.location_id == move.to_location_id,
            LocationStock.sku_id == move.sku_id,
            LocationStock.batch_no == move.batch_no,
        )
    )
    if disabled:
        raise StockError("that batch is disabled at the destination", field="to_location_id")
    out_key, in_key = _keys(move.move_id)
    rows = []
    for kind, location_id, delta, key in (
        ("move_out", move.from_location_id, -move.quantity, out_key),
        ("move_in", move.to_location_id, move.quantity, in_key),
    ):
        row = StockMovement(
            movement_type=kind,
            sku_id=move.sku_id,
            warehouse_id=move.warehouse_id,
            location_id=location_id,
            batch_no=move.batch_no,
            on_hand_delta=delta,
            ref_type=move.ref_type,
            ref_no=move.ref_no or move.move_id,
            actor=actor,
            idempotency_key=key,
        )
        session.add(row)
        rows.append(row)
    await session.flush()
    return MoveDone(rows[0], rows[1], replayed=False)


__all__ = ["LocationMove", "MoveDone", "move_between_locations"]
