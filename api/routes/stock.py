"""Stock routes: figures per SKU/warehouse, batches per location, adjustments, the ledger."""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

from fastapi import Depends
from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from api.crud import check_refs, get_or_404
from api.deps import Principal, Session, Writer, forbid_outside, in_scope, require, writer
from api.errors import Problem, conflict, refused
from api.pagination import Paging, fetch_page
from api.routing import Routes
from api.schemas.stock import (
    BatchStockPublic,
    BatchStocksPublic,
    BatchUpdate,
    LocationMoveCreate,
    LocationMovePublic,
    MovementPublic,
    MovementsPublic,
    SafetyHoldSet,
    StockAdjustmentCreate,
    StockAdjustmentPublic,
    StockPublic,
    StockRowPublic,
    StocksPublic,
    StockValuePublic,
    StockValuesPublic,
)
from api.schemas.types import IdParam, NoParam, TextParam
from models.contracts.inventory import MovementType
from models.db import LocationStock, Sku, Stock, StockCost, StockMovement, Warehouse
from services import putaway
from services.location_moves import LocationMove, move_between_locations
from services.stock_ledger import BatchRef, Document, StockError, move_on_hand, set_safety_hold

router = Routes(prefix="/v1/stock", tags=["stock"])
Reader = Annotated[Principal, Depends(require("stock.read"))]
Adjust = Annotated[Writer, Depends(writer("stock.adjust"))]
Move = Annotated[Writer, Depends(writer("stock.move"))]
T = TypeVar("T")
# The ledger names its own inputs; a refused adjustment is about the body's quantity_delta.
_BODY_FIELDS = {"": "quantity_delta", "quantity": "quantity_delta"}


def _stock_public(stock: Stock, blocked: int = 0) -> StockPublic:
    return StockPublic(
        sku_id=stock.sku_id,
        warehouse_id=stock.warehouse_id,
        on_hand=stock.on_hand,
        reserved=stock.reserved,
        in_transit=stock.in_transit,
        safety_hold=stock.safety_hold,
        blocked=blocked,
        sellable=max(0, stock.on_hand - stock.reserved - stock.safety_hold - blocked),
    )


async def _blocked(session: AsyncSession, rows: list[Stock]) -> dict[tuple[int, int], int]:
    """Units in disabled batches per (SKU, warehouse) of these rows: not sellable."""
    if not rows:
        return {}
    result = await session.execute(
        select(
            LocationStock.sku_id,
            LocationStock.warehouse_id,
            func.sum(LocationStock.quantity - LocationStock.reserved),
        )
        .where(
            LocationStock.disabled,
            LocationStock.sku_id.in_({r.sku_id for r in rows}),
            LocationStock.warehouse_id.in_({r.warehouse_id for r in rows}),
        )
        .group_by(LocationStock.sku_id, LocationStock.warehouse_id)
    )
    return {(sku, warehouse): int(units) for sku, warehouse, units in result}


def _scope(
    who: Principal, query: Select[T], warehouse_id: int | None, column: InstrumentedAttribute[int]
) -> Select[T]:
    """Devices and staff limited to warehouses see only theirs; anyone may filter by one."""
    return in_scope(who, query, column, warehouse_id)


@router.get("")
async def list_stock(
    session: Session,
    paging: Paging,
    who: Reader,
    sku_id: IdParam | None = None,
    warehouse_id: IdParam | None = None,
    sort: Literal["sku_id", "on_hand", "-on_hand", "reserved", "-reserved"] = "sku_id",
) -> StocksPublic:
    query = _scope(who, select(Stock), warehouse_id, Stock.warehouse_id)
    if sku_id is not None:
        query = query.where(Stock.sku_id == sku_id)
    column = getattr(Stock, sort.lstrip("-"))
    first = column.desc() if sort.startswith("-") else column.asc()
    rows, count = await fetch_page(
        session, query.order_by(first, Stock.sku_id, Stock.warehouse_id), paging
    )
    blocked = await _blocked(session, rows)
    waiting = await putaway.waiting(session, {(r.sku_id, r.warehouse_id) for r in rows})
    data = [
        StockRowPublic(
            **_stock_public(r, blocked.get((r.sku_id, r.warehouse_id), 0)).model_dump(),
            awaiting_putaway=waiting.get((r.sku_id, r.warehouse_id), 0),
        )
        for r in rows
    ]
    return StocksPublic(data=data, count=count)


@router.get("/batches")
async def list_batches(
    session: Session,
    paging: Paging,
    who: Reader,
    sku_id: IdParam | None = None,
    warehouse_id: IdParam | None = None,
    location_id: IdParam | None = None,
) -> BatchStocksPublic:
    query = _scope(who, select(LocationStock), warehouse_id, LocationStock.warehouse_id)
    if sku_id is not None:
        query = query.where(LocationStock.sku_id == sku_id)
    if location_id is not None:
        query = query.where(LocationStock.location_id == location_id)
    query = query.order_by(LocationStock.sku_id, LocationStock.expiry_date, LocationStock.id)
    rows, count = await fetch_page(session, query, paging)
    return BatchStocksPublic(data=[BatchStockPublic.model_validate(r) for r in rows], count=count)


@router.get("/value")
async def stock_value(
    session: Session,
    paging: Paging,
    who: Reader,
    sku_id: IdParam | None = None,
    warehouse_id: IdParam | None = None,
    q: TextParam | None = None,
    in_stock: bool = True,
    sort: Literal["sku_id", "value_fen", "-value_fen", "on_hand", "-on_hand"] = "sku_id",
) -> StockValuesPublic:
    """Stock value by warehouse and SKU: on hand, average cost, value (in fen), and the total
    value of every matching row. `q` matches the SKU's code, name or barcode; `in_stock`
    (default) leaves out SKUs with nothing on hand (worth 0)."""
    query = _scope(who, select(StockCost), warehouse_id, StockCost.warehouse_id)
    if sku_id is not None:
        query = query.where(StockCost.sku_id == sku_id)
    if q:
        query = query.join(Sku, Sku.id == StockCost.sku_id).where(
            or_(Sku.code.icontains(q), Sku.name.icontains(q), Sku.barcode.icontains(q))
        )
    if in_stock:
        query = query.where(StockCost.units > 0)
    column = (
        StockCost.units if sort.lstrip("-") == "on_hand" else getattr(StockCost, sort.lstrip("-"))
    )
    first = column.desc() if sort.startswith("-") else column.asc()
    rows, count = await fetch_page(
        session, query.order_by(first, StockCost.sku_id, StockCost.warehouse_id), paging
    )
    matching = query.order_by(None).subquery()
    total = await session.scalar(select(func.coalesce(func.sum(matching.c.value_fen), 0)))
    data = [
        StockValuePublic(
            sku_id=r.sku_id,
            warehouse_id=r.warehouse_id,
            on_hand=r.units,
            unit_cost_fen=r.value_fen // r.units if r.units else 0,
            value_fen=r.value_fen,
        )
        for r in rows
    ]
    return StockValuesPublic(data=data, count=count, total_value_fen=int(total or 0))


async def _stock(session: AsyncSession, sku_id: int, warehouse_id: int) -> Stock:
    stock = await session.get(Stock, (sku_id, warehouse_id), populate_existing=True)
    if stock is None:
        raise Problem(404, f"no stock of SKU {sku_id} in warehouse {warehouse_id}")
    return stock


async def _move(w: Writer, body: StockAdjustmentCreate) -> StockMovement:
    """The adjustment through the ledger; its refusals as 409/422 naming the body's fields."""
    doc = Document(
        "adjustment",
        body.client_ref or "manual",
        w.actor,
        body.reason,
        idempotency_key=f"adjustment:{body.client_ref}" if body.client_ref else None,
    )
    try:
        movement = await move_on_hand(
            w.session,
            movement_type="adjustment_in" if body.quantity_delta > 0 else "adjustment_out",
            sku_id=body.sku_id,
            warehouse_id=body.warehouse_id,
            batch=BatchRef(body.location_id, body.batch_no, body.production_date, body.expiry_date),
            quantity=abs(body.quantity_delta),
            doc=doc,
        )
    except StockError as exc:
        raise refused(exc, _BODY_FIELDS.get(exc.field, exc.field)) from exc
    _check_replay(movement, body)
    return movement


def _check_replay(movement: StockMovement, body: StockAdjustmentCreate) -> None:
    """A client_ref names one adjustment: reusing it for another one is refused, not replayed."""
    done = (movement.sku_id, movement.warehouse_id, movement.location_id, movement.batch_no)
    asked = (body.sku_id, body.warehouse_id, body.location_id, body.batch_no)
    if done != asked or movement.on_hand_delta != body.quantity_delta:
        message = "client_ref was already used for a different adjustment"
        raise conflict(message, field="client_ref", message=message)


@router.post("/adjustments", status_code=201)
async def adjust_stock(body: StockAdjustmentCreate, w: Adjust) -> StockAdjustmentPublic:
    await check_refs(
        w.session, {"sku_id": (Sku, body.sku_id), "warehouse_id": (Warehouse, body.warehouse_id)}
    )
    forbid_outside(w.principal, body.warehouse_id)
    movement = await _move(w, body)
    stock = await _stock(w.session, body.sku_id, body.warehouse_id)
    detail = {
        "sku_id": body.sku_id,
        "warehouse_id": body.warehouse_id,
        "quantity_delta": body.quantity_delta,
        "reason": body.reason,
    }
    await w.commit(f"stock.{movement.movement_type}", "stock_movement", movement.id, detail)
    return StockAdjustmentPublic(
        movement=MovementPublic.model_validate(movement), stock=_stock_public(stock)
    )


@router.post("/moves", status_code=201)
async def move_stock(body: LocationMoveCreate, w: Move) -> LocationMovePublic:
    """Units of one SKU batch from one location to another of the same warehouse (移库): two
    ledger rows, on_hand unchanged. A repeated move_id returns the move already made."""
    await check_refs(
        w.session, {"sku_id": (Sku, body.sku_id), "warehouse_id": (Warehouse, body.warehouse_id)}
    )
    forbid_outside(w.principal, body.warehouse_id)
    move = LocationMove(
        move_id=body.move_id,
        sku_id=body.sku_id,
        warehouse_id=body.warehouse_id,
        from_location_id=body.from_location_id,
        to_location_id=body.to_location_id,
        quantity=body.quantity,
        batch_no=body.batch_no,
    )
    try:
        done = await move_between_locations(w.session, move, w.actor)
    except StockError as exc:
        raise refused(exc) from exc
    detail = body.model_dump(exclude={"move_id"}) | {"replayed": done.replayed}
    await w.commit("stock.location_move", "location_move", body.move_id, detail)
    return LocationMovePublic(
        move_id=body.move_id,
        out=MovementPublic.model_validate(done.out),
        into=MovementPublic.model_validate(done.into),
        replayed=done.replayed,
    )


@router.put("/{sku_id}/{warehouse_id}/safety-hold")
async def put_safety_hold(
    sku_id: IdParam, warehouse_id: IdParam, body: SafetyHoldSet, w: Adjust
) -> StockPublic:
    await get_or_404(w.session, Sku, sku_id, "sku")
    await get_or_404(w.session, Warehouse, warehouse_id, "warehouse")
    forbid_outside(w.principal, warehouse_id)
    stock = await set_safety_hold(
        w.session, sku_id=sku_id, warehouse_id=warehouse_id, safety_hold=body.safety_hold
    )
    await w.commit("stock.safety_hold", "stock", f"{sku_id}/{warehouse_id}", body.model_dump())
    return _stock_public(stock)


@router.patch("/batches/{batch_id}")
async def update_batch(batch_id: IdParam, body: BatchUpdate, w: Adjust) -> BatchStockPublic:
    batch = await get_or_404(w.session, LocationStock, batch_id, "batch")
    forbid_outside(w.principal, batch.warehouse_id)
    batch.disabled = body.disabled
    await w.commit(
        "stock.batch_disabled" if body.disabled else "stock.batch_enabled",
        "batch",
        batch.id,
        body.model_dump(),
    )
    return BatchStockPublic.model_validate(batch)


@router.get("/movements")
async def list_movements(
    session: Session,
    paging: Paging,
    who: Reader,
    sku_id: IdParam | None = None,
    warehouse_id: IdParam | None = None,
    ref_no: NoParam | None = None,
    movement_type: MovementType | None = None,
) -> MovementsPublic:
    query = _scope(who, select(StockMovement), warehouse_id, StockMovement.warehouse_id)
    if sku_id is not None:
        query = query.where(StockMovement.sku_id == sku_id)
    if ref_no:
        query = query.where(StockMovement.ref_no == ref_no)
    if movement_type:
        query = query.where(StockMovement.movement_type == movement_type)
    rows, count = await fetch_page(session, query.order_by(StockMovement.id.desc()), paging)
    return MovementsPublic(data=[MovementPublic.model_validate(r) for r in rows], count=count)
