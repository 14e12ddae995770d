"""Putaway (上架, DESIGN §6.9): accepted receipt lines and restocked returns that land in a
location of kind `receiving` are on hand there but not pickable (picking takes only from storage
locations, services/pick_stock.py). Each such landing makes one putaway task; a worker puts it
away with two scans (the task's SKU or from-location, then the destination), in one go or in
several (the rest stays open). Each put is a location move (services/location_moves.py): a
`move_out` row at the receiving location and a `move_in` row at the destination, both referring
to the task, the batch kept, on_hand unchanged. A put is keyed by the device-made action id: sent
again, it answers what it did and moves nothing twice.

The suggested location, chosen when the task is made (DESIGN "same SKU and batch, else an empty
location of its zone"), is the first of:
1. an active storage location of the warehouse holding units of the same SKU and batch (the one
   holding most; then the lowest code), not under an open stock count;
2. the location an open task of the same SKU and batch was already told (the units meet there);
3. an empty active storage location of the warehouse (no units of anything, not under an open
   count, not suggested to another open task), in the receiving location's zone first, then the
   nearest to the receiving location by walk distance (|Δx| + |Δy|), then by code.
None when the warehouse has no such location: the worker picks any storage location. Any active
storage location of the warehouse is accepted as the destination; the suggestion is advice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, case, func, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models.contracts.purchasing import ReceiveGoodsRequest
from models.db import Location, LocationStock, PutawayPut, PutawayTask
from models.db.putaway import PUTAWAY_SEQUENCE
from services.location_moves import LocationMove, move_between_locations
from services.stock_counts import under_open_count
from services.stock_ledger import StockError

REF_TYPE = "putaway"
RECEIVING = "receiving"


@dataclass(frozen=True)
class Landed:
    """Units of one SKU batch that landed at a location, and what brought them there."""

    warehouse_id: int
    sku_id: int
    batch_no: str
    location_id: int
    quantity: int
    source_type: str  # purchase_receipt / after_sale
    source_no: str
    source_key: str  # one task per key, ever


@dataclass(frozen=True)
class PutDone:
    task: PutawayTask
    put: PutawayPut
    replayed: bool


async def create_task(session: AsyncSession, landed: Landed) -> PutawayTask | None:
    """The task for units that landed in a receiving location (None for any other location, or
    no units), in the caller's transaction; the same source key answers the task it made."""
    if landed.quantity <= 0:
        return None
    location = await session.get(Location, landed.location_id)
    if location is None or location.kind != RECEIVING:
        return None
    made = await session.scalar(
        select(PutawayTask).where(PutawayTask.source_key == landed.source_key)
    )
    if made is not None:
        return made
    seq = int(await session.scalar(select(PUTAWAY_SEQUENCE.next_value())) or 0)
    task = PutawayTask(
        task_no=f"PA{seq:08d}",
        warehouse_id=landed.warehouse_id,
        sku_id=landed.sku_id,
        batch_no=landed.batch_no,
        from_location_id=landed.location_id,
        quantity=landed.quantity,
        put=0,
        suggested_location_id=await suggest(
            session, landed.warehouse_id, landed.sku_id, landed.batch_no, location
        ),
        status="open",
        source_type=landed.source_type,
        source_no=landed.source_no,
        source_key=landed.source_key,
    )
    session.add(task)
    await session.flush()
    return task


async def tasks_for_receipt(
    session: AsyncSession, request: ReceiveGoodsRequest
) -> list[PutawayTask]:
    """One task per accepted line and per sample/gift of a receipt booked into a receiving
    location (nothing when it was booked straight into another location)."""
    receive, receipt_no = request.request, request.receipt_no
    landed = [
        (f"{receipt_no}:in:{n}", line.sku_id, line.batch_no, line.accepted)
        for n, line in enumerate(receive.receipt.lines)
    ] + [
        (f"{receipt_no}:extra:{n}", extra.sku_id, extra.batch_no, extra.quantity)
        for n, extra in enumerate(receive.receipt.extras)
    ]
    tasks = []
    for key, sku_id, batch_no, quantity in landed:
        task = await create_task(
            session,
            Landed(
                warehouse_id=receive.warehouse_id,
                sku_id=sku_id,
                batch_no=batch_no,
                location_id=receive.location_id,
                quantity=quantity,
                source_type="purchase_receipt",
                source_no=receipt_no,
                source_key=key,
            ),
        )
        if task is not None:
            tasks.append(task)
    return tasks


def _storage(warehouse_id: int) -> tuple[ColumnElement[bool], ...]:
    return (
        Location.warehouse_id == warehouse_id,
        Location.kind == "storage",
        Location.active.is_(True),
        ~under_open_count(Location.id),
    )


async def suggest(
    session: AsyncSession, warehouse_id: int, sku_id: int, batch_no: str, receiving: Location
) -> int | None:
    """Where the units should go (the rule is in the module's docstring)."""
    same = await session.scalar(
        select(Location.id)
        .join(LocationStock, LocationStock.location_id == Location.id)
        .where(
            *_storage(warehouse_id),
            LocationStock.sku_id == sku_id,
            LocationStock.batch_no == batch_no,
            LocationStock.quantity > 0,
            LocationStock.disabled.is_(False),
        )
        .order_by(LocationStock.quantity.desc(), Location.code)
        .limit(1)
    )
    if same is not None:
        return int(same)
    told = await session.scalar(
        select(PutawayTask.suggested_location_id)
        .join(Location, Location.id == PutawayTask.suggested_location_id)
        .where(
            *_storage(warehouse_id),
            PutawayTask.status == "open",
            PutawayTask.sku_id == sku_id,
            PutawayTask.batch_no == batch_no,
        )
        .order_by(PutawayTask.task_no)
        .limit(1)
    )
    if told is not None:
        return int(told)
    occupied = select(LocationStock.location_id).where(LocationStock.quantity > 0)
    promised = select(PutawayTask.suggested_location_id).where(
        PutawayTask.status == "open", PutawayTask.suggested_location_id.is_not(None)
    )
    other_zone = case((Location.zone == receiving.zone, literal(0)), else_=literal(1))
    distance = func.abs(Location.x_cm - receiving.x_cm) + func.abs(Location.y_cm - receiving.y_cm)
    empty = await session.scalar(
        select(Location.id)
        .where(
            *_storage(warehouse_id),
            Location.id.not_in(occupied),
            Location.id.not_in(promised),
        )
        .order_by(other_zone, distance, Location.code)
        .limit(1)
    )
    return int(empty) if empty is not None else None


def _same(done: PutawayPut, task_no: str, to_location_id: int, quantity: int) -> bool:
    return (done.task_no, done.to_location_id, done.quantity) == (
        task_no,
        to_location_id,
        quantity,
    )


async def put_away(
    session: AsyncSession,
    *,
    task_no: str,
    action_id: str,
    to_location_id: int,
    quantity: int,
    actor: str,
) -> PutDone:
    """Put `quantity` units of the task at `to_location_id` (an active storage location of its
    warehouse), in the caller's transaction. Raises LookupError for no such task, StockError
    when the put is refused (nothing is moved)."""
    task = await session.get(PutawayTask, task_no, with_for_update=True, populate_existing=True)
    if task is None:
        raise LookupError(task_no)
    done = await session.get(PutawayPut, action_id)
    if done is not None:
        if not _same(done, task_no, to_location_id, quantity):
            raise StockError("action_id was already used for a different put", field="action_id")
        return PutDone(task, done, replayed=True)
    if task.status != "open":
        raise StockError(f"putaway task {task_no} is {task.status}", field="task_no")
    if quantity <= 0:
        raise StockError("quantity must be positive", field="quantity", conflict=False)
    left = task.quantity - task.put
    if quantity > left:
        raise StockError(f"only {left} units are left to put away", field="quantity")
    target = await session.get(Location, to_location_id)
    if target is None or target.warehouse_id != task.warehouse_id:
        raise StockError(
            "that location is not in the task's warehouse", field="location", conflict=False
        )
    if target.kind != "storage" or not target.active:
        raise StockError(
            f"location {target.code} is not an active storage location",
            field="location",
            conflict=False,
        )
    move = LocationMove(
        move_id=action_id,
        sku_id=task.sku_id,
        warehouse_id=task.warehouse_id,
        from_location_id=task.from_location_id,
        to_location_id=to_location_id,
        quantity=quantity,
        batch_no=task.batch_no,
        ref_type=REF_TYPE,
        ref_no=task_no,
    )
    await move_between_locations(session, move, actor)
    row = PutawayPut(
        action_id=action_id,
        task_no=task_no,
        to_location_id=to_location_id,
        quantity=quantity,
        actor=actor[:120],
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError as exc:  # the id of another task's put, committed meanwhile
        raise StockError(
            "action_id was already used for a different put", field="action_id"
        ) from exc
    task.put += quantity
    if task.put == task.quantity:
        task.status, task.done_by, task.done_at = "done", actor[:120], datetime.now(UTC)
    await session.flush()
    return PutDone(task, row, replayed=False)


async def waiting(session: AsyncSession, pairs: set[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """Units still to put away per (SKU, warehouse) of these pairs (待上架)."""
    if not pairs:
        return {}
    result = await session.execute(
        select(
            PutawayTask.sku_id,
            PutawayTask.warehouse_id,
            func.sum(PutawayTask.quantity - PutawayTask.put),
        )
        .where(
            PutawayTask.status == "open",
            PutawayTask.sku_id.in_({sku for sku, _ in pairs}),
            PutawayTask.warehouse_id.in_({wh for _, wh in pairs}),
        )
        .group_by(PutawayTask.sku_id, PutawayTask.warehouse_id)
    )
    return {(sku, wh): int(units) for sku, wh, units in result}


__all__ = [
    "Landed",
    "PutDone",
    "create_task",
    "put_away",
    "suggest",
    "tasks_for_receipt",
    "waiting",
]
