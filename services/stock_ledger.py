"""The stock ledger's write path. Every change to on_hand / reserved / in_transit goes through
here: one conditional statement per figure plus one movement row, in the caller's transaction,
so the figures can never drift from the ledger (DESIGN §5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, ScalarSelect, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models.db import Location, LocationStock, Sku, Stock, StockMovement

INBOUND_TYPES = frozenset(
    {
        "opening_balance",
        "purchase_in",
        "sample_in",
        "return_in",
        "transfer_in",
        "count_surplus",
        "adjustment_in",
    }
)
# in_transit: ordered from a supplier (+), arrived in a receipt or released at closing (−);
# a transfer shipped towards the warehouse (+), arrived there or lost on the way (−).
IN_TRANSIT_TYPES = frozenset(
    {
        "purchase_ordered",
        "purchase_arrived",
        "purchase_closed",
        "transfer_shipped",
        "transfer_arrived",
        "transfer_lost",
    }
)
OUTBOUND_TYPES = frozenset(
    {
        "transfer_out",
        "count_deficit",
        "adjustment_out",
        "sales_out",
        "purchase_return_out",
        "damage_out",
    }
)


class StockError(Exception):
    """A stock change that the rules refuse; `field` names the input at fault."""

    def __init__(self, message: str, *, field: str = "", conflict: bool = True) -> None:
        super().__init__(message)
        self.field = field
        self.conflict = conflict  # True: the state forbids it; False: the input is invalid


@dataclass(frozen=True)
class BatchRef:
    location_id: int
    batch_no: str = ""
    production_date: date | None = None
    expiry_date: date | None = None


@dataclass(frozen=True)
class Document:
    """What a movement refers to and who caused it."""

    ref_type: str
    ref_no: str
    actor: str
    reason: str = ""
    idempotency_key: str | None = None


async def _ensure_stock_row(session: AsyncSession, sku_id: int, warehouse_id: int) -> None:
    await session.execute(
        insert(Stock).values(sku_id=sku_id, warehouse_id=warehouse_id).on_conflict_do_nothing()
    )


async def _check_location(
    session: AsyncSession, sku_id: int, warehouse_id: int, batch: BatchRef
) -> Sku:
    sku = await session.get(Sku, sku_id)
    if sku is None:
        raise StockError(f"no such SKU: {sku_id}", field="sku_id", conflict=False)
    location = await session.get(Location, batch.location_id)
    if location is None or location.warehouse_id != warehouse_id:
        raise StockError(
            f"location {batch.location_id} is not in warehouse {warehouse_id}",
            field="location_id",
            conflict=False,
        )
    if sku.batch_managed and not batch.batch_no:
        raise StockError(
            f"SKU {sku.code} is batch-managed: batch_no is required",
            field="batch_no",
            conflict=False,
        )
    return sku


async def move_on_hand(
    session: AsyncSession,
    *,
    movement_type: str,
    sku_id: int,
    warehouse_id: int,
    batch: BatchRef,
    quantity: int,
    doc: Document,
) -> StockMovement:
    """Put `quantity` units on hand (inbound types) or take them off (outbound types).

    All or nothing inside the caller's transaction (a savepoint): a refusal leaves no partial
    change behind. With an idempotency key, a repeat — even a concurrent one — returns the
    movement already written instead of moving stock twice."""
    if quantity <= 0:
        raise StockError("quantity must be positive", field="quantity", conflict=False)
    if movement_type not in INBOUND_TYPES | OUTBOUND_TYPES:
        raise StockError(f"{movement_type} does not move on-hand stock", field="movement_type")
    if doc.idempotency_key is not None and (done := await _done(session, doc.idempotency_key)):
        return done
    await _check_location(session, sku_id, warehouse_id, batch)
    delta = quantity if movement_type in INBOUND_TYPES else -quantity
    try:
        async with session.begin_nested():
            return await _apply(session, movement_type, sku_id, warehouse_id, batch, delta, doc)
    except IntegrityError:
        # A concurrent request with the same key committed first: that one is the movement.
        if doc.idempotency_key is None or not (done := await _done(session, doc.idempotency_key)):
            raise
        return done


async def move_in_transit(
    session: AsyncSession,
    *,
    movement_type: str,
    sku_id: int,
    warehouse_id: int,
    delta: int,
    doc: Document,
) -> StockMovement | None:
    """Raise (+) or lower (−) in_transit by `delta`, with its ledger row; never below zero.
    Idempotent by the document's key: a repeat returns the row already written."""
    if movement_type not in IN_TRANSIT_TYPES or delta == 0:
        raise StockError(f"{movement_type} {delta:+d} does not move in-transit stock")
    if doc.idempotency_key is not None and (done := await _done(session, doc.idempotency_key)):
        return done
    await _ensure_stock_row(session, sku_id, warehouse_id)
    changed = await session.execute(
        update(Stock)
        .where(
            Stock.sku_id == sku_id,
            Stock.warehouse_id == warehouse_id,
            Stock.in_transit + delta >= 0,
        )
        .values(in_transit=Stock.in_transit + delta)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise StockError(f"in-transit of SKU {sku_id} would go negative")
    movement = StockMovement(
        movement_type=movement_type,
        sku_id=sku_id,
        warehouse_id=warehouse_id,
        in_transit_delta=delta,
        ref_type=doc.ref_type,
        ref_no=doc.ref_no,
        actor=doc.actor,
        reason=doc.reason,
        idempotency_key=doc.idempotency_key,
    )
    session.add(movement)
    await session.flush()
    return movement


async def _done(session: AsyncSession, idempotency_key: str) -> StockMovement | None:
    return await session.scalar(
        select(StockMovement).where(StockMovement.idempotency_key == idempotency_key)
    )


async def _apply(
    session: AsyncSession,
    movement_type: str,
    sku_id: int,
    warehouse_id: int,
    batch: BatchRef,
    delta: int,
    doc: Document,
) -> StockMovement:
    """The change itself: batch, warehouse figure, ledger row (always locked in that order)."""
    await _ensure_stock_row(session, sku_id, warehouse_id)
    if delta > 0:
        await add_to_batch(session, sku_id, warehouse_id, batch, delta)
    else:
        await take_from_batch(session, sku_id, batch, -delta)
    changed = await session.execute(
        update(Stock)
        .where(
            Stock.sku_id == sku_id,
            Stock.warehouse_id == warehouse_id,
            Stock.on_hand + delta >= Stock.reserved,
        )
        .values(on_hand=Stock.on_hand + delta)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise StockError("the warehouse would hold less than is reserved for orders")
    movement = StockMovement(
        movement_type=movement_type,
        sku_id=sku_id,
        warehouse_id=warehouse_id,
        location_id=batch.location_id,
        batch_no=batch.batch_no,
        on_hand_delta=delta,
        ref_type=doc.ref_type,
        ref_no=doc.ref_no,
        actor=doc.actor,
        reason=doc.reason,
        idempotency_key=doc.idempotency_key,
    )
    session.add(movement)
    await session.flush()
    return movement


async def add_to_batch(
    session: AsyncSession, sku_id: int, warehouse_id: int, batch: BatchRef, quantity: int
) -> None:
    statement = insert(LocationStock).values(
        sku_id=sku_id,
        warehouse_id=warehouse_id,
        location_id=batch.location_id,
        batch_no=batch.batch_no,
        production_date=batch.production_date,
        expiry_date=batch.expiry_date,
        quantity=quantity,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["location_id", "sku_id", "batch_no"],
            set_={"quantity": LocationStock.quantity + quantity},
        )
    )


async def take_from_batch(
    session: AsyncSession, sku_id: int, batch: BatchRef, quantity: int
) -> None:
    changed = await session.execute(
        update(LocationStock)
        .where(
            LocationStock.location_id == batch.location_id,
            LocationStock.sku_id == sku_id,
            LocationStock.batch_no == batch.batch_no,
            LocationStock.quantity - LocationStock.reserved >= quantity,
        )
        .values(quantity=LocationStock.quantity - quantity)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        available = await session.scalar(
            select(LocationStock.quantity - LocationStock.reserved).where(
                LocationStock.location_id == batch.location_id,
                LocationStock.sku_id == sku_id,
                LocationStock.batch_no == batch.batch_no,
            )
        )
        raise StockError(
            f"only {available or 0} unreserved units of that SKU/batch at location "
            f"{batch.location_id}",
            field="quantity",
        )


async def set_safety_hold(
    session: AsyncSession, *, sku_id: int, warehouse_id: int, safety_hold: int
) -> Stock:
    """Safety hold is a setting, not a movement: it changes sellable, not on_hand."""
    await _ensure_stock_row(session, sku_id, warehouse_id)
    stock = await session.get(Stock, (sku_id, warehouse_id), with_for_update=True)
    assert stock is not None
    stock.safety_hold = safety_hold
    await session.flush()
    return stock


def blocked_units() -> ScalarSelect[int]:
    """Units in disabled batches of the stock row's SKU and warehouse: on hand but not
    sellable (a batch found faulty is blocked from picking, DESIGN §5)."""
    return (
        select(func.coalesce(func.sum(LocationStock.quantity - LocationStock.reserved), 0))
        .where(
            LocationStock.sku_id == Stock.sku_id,
            LocationStock.warehouse_id == Stock.warehouse_id,
            LocationStock.disabled,
        )
        .correlate(Stock)
        .scalar_subquery()
    )


def sellable_units() -> ColumnElement[int]:
    """sellable = on_hand − reserved − safety_hold − blocked, as one SQL expression."""
    return Stock.on_hand - Stock.reserved - Stock.safety_hold - blocked_units()
