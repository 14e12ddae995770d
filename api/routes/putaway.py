"""Putaway tasks (上架, DESIGN §6.9; services/putaway.py): the tasks of the warehouses one may
see, one task with its puts, the put itself (two scans on the handheld: the task's SKU or
from-location, then the destination; any quantity up to what is left), the handheld's next
task, and the putaway list of a warehouse's open tasks as a PDF with Code 128 barcodes.

Permissions like location moves (stock.move: warehouse managers, admins, the warehouse's own
devices with a worker signed in); every put is audited like a move."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Depends, Response
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from api.deps import Principal, Session, Writer, forbid_outside, in_scope, require, writer
from api.errors import Problem, conflict, invalid, not_found, refused
from api.pagination import Paging, fetch_page
from api.routes.printing import PDF, PdfResponse
from api.routing import Routes
from api.schemas.putaway import (
    PutawayAnswer,
    PutawayPutIn,
    PutawayPutPublic,
    PutawayStatus,
    PutawayTaskPublic,
    PutawayTasksPublic,
)
from api.schemas.types import IdParam, NoParam
from models.db import Location, PutawayPut, PutawayTask, Sku, Warehouse
from models.documents import PutawayLine, PutawayList, putaway_list_pdf
from services.putaway import put_away
from services.stock_ledger import StockError

router = Routes(tags=["putaway"])
Reader = Annotated[Principal, Depends(require("stock.move"))]
Mover = Annotated[Writer, Depends(writer("stock.move"))]
NEXT: dict[int | str, dict[str, Any]] = {204: {"description": "nothing to put away"}}

From = aliased(Location)
Suggested = aliased(Location)


def _joined() -> Select[PutawayTask, Sku, Location, Location]:
    return (
        select(PutawayTask, Sku, From, Suggested)
        .join(Sku, Sku.id == PutawayTask.sku_id)
        .join(From, From.id == PutawayTask.from_location_id)
        .outerjoin(Suggested, Suggested.id == PutawayTask.suggested_location_id)
    )


def _view(
    task: PutawayTask,
    sku: Sku,
    source: Location,
    suggested: Location | None,
    puts: Sequence[PutawayPutPublic] = (),
) -> PutawayTaskPublic:
    return PutawayTaskPublic(
        task_no=task.task_no,
        warehouse_id=task.warehouse_id,
        sku_id=sku.id,
        sku_code=sku.code,
        sku_name=sku.name,
        sku_barcode=sku.barcode,
        batch_no=task.batch_no,
        from_location_id=source.id,
        from_location_code=source.code,
        from_location_barcode=source.barcode,
        quantity=task.quantity,
        put=task.put,
        remaining=task.quantity - task.put,
        suggested_location_id=suggested.id if suggested else None,
        suggested_location_code=suggested.code if suggested else None,
        suggested_location_barcode=suggested.barcode if suggested else None,
        status=task.status,
        source_type=task.source_type,
        source_no=task.source_no,
        created_at=task.created_at,
        done_by=task.done_by,
        done_at=task.done_at,
        puts=list(puts),
    )


async def _views(session: AsyncSession, task_nos: list[str]) -> list[PutawayTaskPublic]:
    rows = await session.execute(_joined().where(PutawayTask.task_no.in_(task_nos)))
    found = {task.task_no: _view(task, sku, src, sug) for task, sku, src, sug in rows}
    return [found[n] for n in task_nos if n in found]


async def task_view(session: AsyncSession, task_no: str) -> PutawayTaskPublic:
    row = (await session.execute(_joined().where(PutawayTask.task_no == task_no))).first()
    if row is None:
        raise not_found("putaway task", task_no)
    puts = await session.execute(
        select(PutawayPut, Location.code)
        .join(Location, Location.id == PutawayPut.to_location_id)
        .where(PutawayPut.task_no == task_no)
        .order_by(PutawayPut.at, PutawayPut.action_id)
    )
    shown = [
        PutawayPutPublic(
            action_id=put.action_id,
            to_location_id=put.to_location_id,
            to_location_code=code,
            quantity=put.quantity,
            actor=put.actor,
            at=put.at,
        )
        for put, code in puts
    ]
    task, sku, source, suggested = row
    return _view(task, sku, source, suggested, shown)


async def _visible(session: AsyncSession, who: Principal, task_no: str) -> PutawayTask:
    task = await session.get(PutawayTask, task_no)
    if task is None or not who.can_see_warehouse(task.warehouse_id):
        raise not_found("putaway task", task_no)
    return task


@router.get("/v1/putaway-tasks")
async def list_tasks(
    session: Session,
    paging: Paging,
    who: Reader,
    warehouse_id: IdParam | None = None,
    status: PutawayStatus | None = None,
    sku_id: IdParam | None = None,
    source_no: NoParam | None = None,
) -> PutawayTasksPublic:
    """Newest first; open ones are the units waiting in receiving (待上架)."""
    query = in_scope(who, select(PutawayTask.task_no), PutawayTask.warehouse_id, warehouse_id)
    if status is not None:
        query = query.where(PutawayTask.status == status)
    if sku_id is not None:
        query = query.where(PutawayTask.sku_id == sku_id)
    if source_no:
        query = query.where(PutawayTask.source_no == source_no)
    numbers, count = await fetch_page(session, query.order_by(PutawayTask.task_no.desc()), paging)
    return PutawayTasksPublic(data=await _views(session, numbers), count=count)


@router.get("/v1/putaway-tasks/{task_no}")
async def get_task(task_no: NoParam, session: Session, who: Reader) -> PutawayTaskPublic:
    await _visible(session, who, task_no)
    return await task_view(session, task_no)


@router.get("/v1/devices/me/next-putaway", response_model=PutawayTaskPublic, responses=NEXT)
async def next_putaway(session: Session, who: Reader) -> Any:
    """The device's warehouse's oldest open task (204: nothing waits in receiving)."""
    if who.warehouse_id is None:
        raise Problem(403, "this key is not bound to a warehouse", type_="/problems/forbidden")
    task_no = await session.scalar(
        select(PutawayTask.task_no)
        .where(PutawayTask.warehouse_id == who.warehouse_id, PutawayTask.status == "open")
        .order_by(PutawayTask.task_no)
        .limit(1)
    )
    if task_no is None:
        return Response(status_code=204)
    return await task_view(session, task_no)


async def _destination(session: AsyncSession, task: PutawayTask, body: PutawayPutIn) -> int:
    if body.location_id is not None:
        return body.location_id
    found = await session.scalar(
        select(Location.id).where(
            Location.warehouse_id == task.warehouse_id,
            Location.barcode == body.location_barcode,
        )
    )
    if found is None:
        raise invalid(
            "location_barcode",
            "no location of this warehouse has that barcode",
            "unknown_location_barcode",
        )
    return int(found)


async def _check_scan(session: AsyncSession, task: PutawayTask, scanned: str | None) -> None:
    """The first scan names the task: its SKU's barcode or its from-location's."""
    if scanned is None:
        return
    sku = await session.get(Sku, task.sku_id)
    source = await session.get(Location, task.from_location_id)
    if scanned not in {sku.barcode if sku else None, source.barcode if source else None}:
        message = "scan the task's SKU or its receiving location first"
        raise conflict(message, field="scanned", message=message)


@router.post("/v1/putaway-tasks/{task_no}/put")
async def put(task_no: NoParam, body: PutawayPutIn, w: Mover) -> PutawayAnswer:
    """Put units of the task at a storage location: a location move from the receiving location
    (both ledger rows name the task), batch kept. Partial puts leave the rest open; the same
    action id again answers the same and moves nothing twice."""
    task = await _visible(w.session, w.principal, task_no)
    forbid_outside(w.principal, task.warehouse_id)
    await _check_scan(w.session, task, body.scanned)
    to_location_id = await _destination(w.session, task, body)
    actor = f"{w.actor} / {w.principal.worker}"[:120] if w.principal.worker else w.actor
    try:
        done = await put_away(
            w.session,
            task_no=task_no,
            action_id=body.action_id,
            to_location_id=to_location_id,
            quantity=body.quantity,
            actor=actor,
        )
    except LookupError as exc:
        raise not_found("putaway task", task_no) from exc
    except StockError as exc:
        raise refused(exc) from exc
    view = await task_view(w.session, task_no)
    detail = {
        "action_id": body.action_id,
        "to_location_id": to_location_id,
        "quantity": body.quantity,
        "replayed": done.replayed,
        "status": view.status,
    }
    await w.commit("putaway.put", "putaway_task", task_no, detail)
    return PutawayAnswer(action_id=body.action_id, replayed=done.replayed, task=view)


@router.get(
    "/v1/warehouses/{warehouse_id}/putaway-list.pdf", responses=PDF, response_class=PdfResponse
)
async def putaway_list(warehouse_id: IdParam, session: Session, who: Reader) -> Response:
    """The warehouse's open tasks, oldest first: task, from, SKU, batch, units left and the
    suggested location, each with its Code 128 to scan."""
    warehouse = await session.get(Warehouse, warehouse_id)
    if warehouse is None:
        raise not_found("warehouse", warehouse_id)
    forbid_outside(who, warehouse_id)
    rows = await session.execute(
        _joined()
        .where(PutawayTask.warehouse_id == warehouse_id, PutawayTask.status == "open")
        .order_by(PutawayTask.task_no)
        .limit(500)
    )
    lines = tuple(
        PutawayLine(
            task_no=task.task_no,
            from_location_code=source.code,
            sku_code=sku.code,
            sku_name=sku.name,
            batch_no=task.batch_no or None,
            quantity=task.quantity - task.put,
            suggested_location_code=suggested.code if suggested else None,
        )
        for task, sku, source, suggested in rows
    )
    if not lines:
        raise conflict(f"nothing waits for putaway in warehouse {warehouse.code}")
    document = PutawayList(
        warehouse_code=warehouse.code, warehouse_name=warehouse.name, lines=lines
    )
    name = f"putaway-{warehouse.code}"
    return PdfResponse(
        putaway_list_pdf(document),
        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
    )
