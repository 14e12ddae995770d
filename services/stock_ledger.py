"""The stock ledger's write path. Every change to on_hand / reserved / in_transit goes through
here: one conditional statement per figure plus one movement row, in the caller's transaction,
so the figures can never drift from the ledger (DESIGN §5)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, ScalarSelect, func, select, text, update
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
    location = await session.get(Location, batch.location_id)
    return _checked(sku, location, sku_id, warehouse_id, batch)


def _checked(
    sku: Sku | None, location: Location | None, sku_id: int, warehouse_id: int, batch: BatchRef
) -> Sku:
    if sku is None:
        raise StockError(f"no such SKU: {sku_id}", field="sku_id", conflict=False)
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
    unit_cost_fen: int | None = None,
) -> StockMovement:
    """Put `quantity` units on hand (inbound types) or take them off (outbound types).

    `unit_cost_fen`: what one unit cost, for units coming in at a known price; the movement's
    cost is booked with it by the database, in the same transaction (docs/architecture.md,
    "Inventory cost").

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
            return await _apply(
                session, movement_type, sku_id, warehouse_id, batch, delta, doc, unit_cost_fen
            )
    except IntegrityError:
        # A concurrent request with the same key committed first: that one is the movement.
        if doc.idempotency_key is None or not (done := await _done(session, doc.idempotency_key)):
            raise
        return done


@dataclass(frozen=True)
class Inbound:
    """One line of a set-based booking on hand (move_on_hand_many): what move_on_hand takes."""

    movement_type: str
    sku_id: int
    warehouse_id: int
    batch: BatchRef
    quantity: int
    doc: Document
    unit_cost_fen: int | None = None  # a receipt's price per unit (None: the booking chooses)


async def move_on_hand_many(session: AsyncSession, moves: Sequence[Inbound]) -> None:
    """Put several lines on hand at once (inbound types), each exactly as move_on_hand would:
    the same checks and refusals, one ledger row per line with its own idempotency key, the same
    figures. Set-based, so a 20-line receipt is a handful of statements rather than six per line:
    one look-up of the keys already booked (those lines are skipped), one of the SKUs and
    locations, then per table one statement — batches upserted, warehouse figures upserted with
    the "never below reserved" guard, ledger rows inserted. Rows are locked in a fixed order
    (batches, then warehouse figures, each sorted), so two bookings of the same SKUs wait for
    each other instead of deadlocking. All or nothing (a savepoint); when a concurrent booking
    wrote one of the keys first, the lines are booked one by one, each finding its own."""
    for move in moves:
        if move.quantity <= 0:
            raise StockError("quantity must be positive", field="quantity", conflict=False)
        if move.movement_type not in INBOUND_TYPES:
            raise StockError(f"{move.movement_type} does not put stock on hand",
                             field="movement_type")  # fmt: skip
    keys = [m.doc.idempotency_key for m in moves if m.doc.idempotency_key is not None]
    done = set(await session.scalars(
        select(StockMovement.idempotency_key).where(StockMovement.idempotency_key.in_(keys))
    )) if keys else set()  # fmt: skip
    todo = [m for m in moves if m.doc.idempotency_key is None or m.doc.idempotency_key not in done]
    if not todo:
        return
    skus = {s.id: s for s in await session.scalars(
        select(Sku).where(Sku.id.in_({m.sku_id for m in todo})))}  # fmt: skip
    locations = {loc.id: loc for loc in await session.scalars(
        select(Location).where(Location.id.in_({m.batch.location_id for m in todo})))}  # fmt: skip
    for m in todo:
        _checked(skus.get(m.sku_id), locations.get(m.batch.location_id), m.sku_id,
                 m.warehouse_id, m.batch)  # fmt: skip
    try:
        async with session.begin_nested():
            await _apply_many(session, todo)
    except IntegrityError:
        # A concurrent booking with one of these keys committed first: line by line, each
        # line's key finds its movement, the others are booked.
        for m in todo:
            await move_on_hand(session, movement_type=m.movement_type, sku_id=m.sku_id,
                               warehouse_id=m.warehouse_id, batch=m.batch, quantity=m.quantity,
                               doc=m.doc, unit_cost_fen=m.unit_cost_fen)  # fmt: skip


async def _apply_many(session: AsyncSession, moves: Sequence[Inbound]) -> None:
    """move_on_hand's _apply for many inbound lines: batches, warehouse figures, ledger rows."""
    first: dict[tuple[int, int, str], Inbound] = {}
    units: dict[tuple[int, int, str], int] = {}
    for m in moves:  # one row per batch: a statement may not touch a row twice
        key = (m.batch.location_id, m.sku_id, m.batch.batch_no)
        first.setdefault(key, m)
        units[key] = units.get(key, 0) + m.quantity
    rows: list[dict[str, object]] = [
        {
            "sku_id": m.sku_id,
            "warehouse_id": m.warehouse_id,
            "location_id": m.batch.location_id,
            "batch_no": m.batch.batch_no,
            "production_date": m.batch.production_date,
            "expiry_date": m.batch.expiry_date,
            "quantity": units[key],
        }
        for key, m in sorted(first.items())
    ]
    await session.execute(_ADD_TO_BATCHES, _columns(rows))
    deltas: dict[tuple[int, int], int] = {}
    for m in moves:
        deltas[(m.sku_id, m.warehouse_id)] = deltas.get((m.sku_id, m.warehouse_id), 0) + m.quantity
    pairs = sorted(deltas)
    changed = await session.execute(
        _RAISE_ON_HAND,
        {"sku": [p[0] for p in pairs], "wh": [p[1] for p in pairs],
         "delta": [deltas[p] for p in pairs]},
    )  # fmt: skip
    if changed.rowcount != len(pairs):  # type: ignore[attr-defined]
        raise StockError("the warehouse would hold less than is reserved for orders")
    await session.execute(_INSERT_MOVEMENTS, _columns([_movement(m.movement_type, m.sku_id,
        m.warehouse_id, m.doc, location_id=m.batch.location_id, batch_no=m.batch.batch_no,
        on_hand=m.quantity, unit_cost_fen=m.unit_cost_fen) for m in moves]))  # fmt: skip


def _movement(
    kind: str, sku_id: int, warehouse_id: int, doc: Document, *, location_id: int | None = None,
    batch_no: str | None = None, on_hand: int = 0, in_transit: int = 0,
    unit_cost_fen: int | None = None,
) -> dict[str, object]:  # fmt: skip
    """A ledger row for _INSERT_MOVEMENTS, every column given (the model's defaults are
    Python-side)."""
    return {
        "movement_type": kind,
        "sku_id": sku_id,
        "warehouse_id": warehouse_id,
        "location_id": location_id,
        "batch_no": batch_no,
        "on_hand_delta": on_hand,
        "reserved_delta": 0,
        "in_transit_delta": in_transit,
        "ref_type": doc.ref_type,
        "ref_no": doc.ref_no,
        "actor": doc.actor,
        "reason": doc.reason,
        "idempotency_key": doc.idempotency_key,
        "unit_cost_fen": unit_cost_fen,
    }


def _columns(rows: Sequence[dict[str, object]]) -> dict[str, list[object]]:
    """Rows as one array per column, for the unnest(...) statements below."""
    return {name: [row[name] for row in rows] for name in rows[0]} if rows else {}


# The set-based statements: constant SQL over unnest(arrays), so each is prepared and compiled
# once however many lines it books, and rows are taken in array order (sorted by the callers).
_ADD_TO_BATCHES = text(
    "INSERT INTO location_stocks (sku_id, warehouse_id, location_id, batch_no, production_date,"
    " expiry_date, quantity, reserved, disabled)"
    " SELECT sku_id, warehouse_id, location_id, batch_no, production_date, expiry_date,"
    " quantity, 0, false"
    " FROM unnest(CAST(:sku_id AS integer[]), CAST(:warehouse_id AS integer[]),"
    " CAST(:location_id AS integer[]), CAST(:batch_no AS text[]),"
    " CAST(:production_date AS date[]), CAST(:expiry_date AS date[]),"
    " CAST(:quantity AS integer[]))"
    " AS v(sku_id, warehouse_id, location_id, batch_no, production_date, expiry_date, quantity)"
    " ON CONFLICT (location_id, sku_id, batch_no)"
    " DO UPDATE SET quantity = location_stocks.quantity + excluded.quantity"
)
# The row made if missing (on_hand 0 + delta), else raised, with _apply's guard.
_RAISE_ON_HAND = text(
    "INSERT INTO stocks (sku_id, warehouse_id, on_hand, reserved, in_transit, safety_hold)"
    " SELECT sku, wh, delta, 0, 0, 0"
    " FROM unnest(CAST(:sku AS integer[]), CAST(:wh AS integer[]), CAST(:delta AS integer[]))"
    " AS v(sku, wh, delta)"
    " ON CONFLICT (sku_id, warehouse_id) DO UPDATE"
    " SET on_hand = stocks.on_hand + excluded.on_hand, updated_at = now()"
    " WHERE stocks.on_hand + excluded.on_hand >= stocks.reserved"
)
_ENSURE_STOCKS = text(
    "INSERT INTO stocks (sku_id, warehouse_id, on_hand, reserved, in_transit, safety_hold)"
    " SELECT sku, wh, 0, 0, 0, 0"
    " FROM unnest(CAST(:sku AS integer[]), CAST(:wh AS integer[])) AS v(sku, wh)"
    " ON CONFLICT DO NOTHING"
)
_MOVE_IN_TRANSIT = text(
    "UPDATE stocks SET in_transit = stocks.in_transit + v.delta, updated_at = now()"
    " FROM unnest(CAST(:sku AS integer[]), CAST(:wh AS integer[]), CAST(:delta AS integer[]))"
    " AS v(sku, wh, delta)"
    " WHERE stocks.sku_id = v.sku AND stocks.warehouse_id = v.wh"
    " AND stocks.in_transit + v.delta >= 0"
    " RETURNING stocks.sku_id, stocks.warehouse_id"
)
_INSERT_MOVEMENTS = text(
    "INSERT INTO stock_movements (movement_type, sku_id, warehouse_id, location_id, batch_no,"
    " on_hand_delta, reserved_delta, in_transit_delta, ref_type, ref_no, actor, reason,"
    " idempotency_key, unit_cost_fen)"
    " SELECT * FROM unnest(CAST(:movement_type AS text[]), CAST(:sku_id AS integer[]),"
    " CAST(:warehouse_id AS integer[]), CAST(:location_id AS integer[]),"
    " CAST(:batch_no AS text[]), CAST(:on_hand_delta AS integer[]),"
    " CAST(:reserved_delta AS integer[]), CAST(:in_transit_delta AS integer[]),"
    " CAST(:ref_type AS text[]), CAST(:ref_no AS text[]), CAST(:actor AS text[]),"
    " CAST(:reason AS text[]), CAST(:idempotency_key AS text[]),"
    " CAST(:unit_cost_fen AS bigint[]))"
)


@dataclass(frozen=True)
class InTransit:
    """One line of move_in_transit_many: what move_in_transit takes."""

    movement_type: str
    sku_id: int
    warehouse_id: int
    delta: int
    doc: Document


async def move_in_transit_many(session: AsyncSession, moves: Sequence[InTransit]) -> None:
    """Several in-transit changes at once, each exactly as move_in_transit would (its ledger row
    and key; a key already booked is skipped; never below zero), in one statement per table.
    Deltas of one SKU and warehouse are summed before the guard, so mix no signs for one pair."""
    for move in moves:
        if move.movement_type not in IN_TRANSIT_TYPES or move.delta == 0:
            raise StockError(f"{move.movement_type} {move.delta:+d} does not move in-transit stock")
    keys = [m.doc.idempotency_key for m in moves if m.doc.idempotency_key is not None]
    done = set(await session.scalars(
        select(StockMovement.idempotency_key).where(StockMovement.idempotency_key.in_(keys))
    )) if keys else set()  # fmt: skip
    todo = [m for m in moves if m.doc.idempotency_key is None or m.doc.idempotency_key not in done]
    if not todo:
        return
    deltas: dict[tuple[int, int], int] = {}
    for m in todo:
        deltas[(m.sku_id, m.warehouse_id)] = deltas.get((m.sku_id, m.warehouse_id), 0) + m.delta
    pairs = sorted(deltas)
    await session.execute(
        _ENSURE_STOCKS, {"sku": [p[0] for p in pairs], "wh": [p[1] for p in pairs]}
    )
    async with session.begin_nested():  # all or nothing, like one line's refusal
        changed = await session.execute(
            _MOVE_IN_TRANSIT,
            {"sku": [p[0] for p in pairs], "wh": [p[1] for p in pairs],
             "delta": [deltas[p] for p in pairs]},
        )  # fmt: skip
        moved = {(sku, warehouse) for sku, warehouse in changed.all()}
        if len(moved) != len(pairs):
            sku = next(m.sku_id for m in todo if (m.sku_id, m.warehouse_id) not in moved)
            raise StockError(f"in-transit of SKU {sku} would go negative")
        await session.execute(_INSERT_MOVEMENTS, _columns([_movement(m.movement_type, m.sku_id,
            m.warehouse_id, m.doc, in_transit=m.delta) for m in todo]))  # fmt: skip


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
    unit_cost_fen: int | None = None,
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
        unit_cost_fen=unit_cost_fen,
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
