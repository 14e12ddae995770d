"""Flash sale routes (秒杀, DESIGN §6.8): staff create and schedule a sale, watch it live and stop
it early. The sale's window is a FlashSaleWorkflow (`flash-FS…`) that a one-shot Temporal
Schedule starts at the opening time, and a second one closes at the end (it starts
FlashCloseWorkflow, `flash-close-FS…`, which tells the sale's workflow); buyers go through
`POST /v1/orders` with `flash_sale_id`, whose gate (services/flash_gate.py `claim`) says no
before any workflow starts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Query
from sqlalchemy import select
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleCalendarSpec,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.service import RPCError, RPCStatusCode

from api.deps import Deps, Session, Writer, actor_of, require, writer
from api.errors import conflict, invalid, not_found
from api.pagination import Paging, fetch_page
from api.routing import Routes
from api.schemas.flash_sales import (
    FlashSaleCreate,
    FlashSaleDetail,
    FlashSalePublic,
    FlashSaleSort,
    FlashSalesPublic,
    FlashSaleStatus,
    FlashStopIn,
)
from api.schemas.types import IdParam
from api.workflow_calls import Process, update
from models.contracts.flash_sale import FlashSaleInput, StopFlashSale
from models.db import FlashSale, Sku, Stock, Warehouse
from services import flash_sales
from workflows.flash_close import FlashCloseWorkflow
from workflows.flash_sale import FlashSaleWorkflow

router = Routes(prefix="/v1/flash-sales", tags=["flash sales"])
Read = Depends(require("promotions.read"))
Write = Annotated[Writer, Depends(writer("promotions.write"))]
# Named by its whole workflow id: the opening schedule's run has the server's time appended.
FLASH_SALE = Process("flash sale", "")


def public(sale: FlashSale) -> FlashSalePublic:
    remaining = max(0, sale.total - sale.sold) if sale.status == "open" else 0
    return FlashSalePublic.model_validate(
        {
            **{c.key: getattr(sale, c.key) for c in FlashSale.__table__.columns},
            "remaining": remaining,
        }
    )


def schedule_id(flash_no: str) -> str:
    return f"flash-{flash_no}"


def closing_schedule_id(flash_no: str) -> str:
    return f"flash-close-{flash_no}"


def opening_schedule(sale_input: FlashSaleInput, task_queue: str) -> Schedule:
    """Once, at the opening second (UTC): start the sale's workflow (the server appends the
    time to its id)."""
    action = ScheduleActionStartWorkflow(
        FlashSaleWorkflow.run,
        sale_input,
        id=schedule_id(sale_input.flash_no),
        task_queue=task_queue,
    )
    return _once(action, sale_input.starts_at)


def closing_schedule(sale_input: FlashSaleInput, task_queue: str) -> Schedule:
    """Once, at the closing second (UTC): FlashCloseWorkflow tells the sale's workflow."""
    action = ScheduleActionStartWorkflow(
        FlashCloseWorkflow.run,
        sale_input,
        id=closing_schedule_id(sale_input.flash_no),
        task_queue=task_queue,
    )
    return _once(action, sale_input.ends_at)


def _once(action: ScheduleActionStartWorkflow, when: datetime) -> Schedule:
    """A Schedule that takes `action` once, at the second `when` (UTC)."""
    at = when.astimezone(UTC)
    return Schedule(
        action=action,
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    year=[ScheduleRange(at.year)],
                    month=[ScheduleRange(at.month)],
                    day_of_month=[ScheduleRange(at.day)],
                    hour=[ScheduleRange(at.hour)],
                    minute=[ScheduleRange(at.minute)],
                    second=[ScheduleRange(at.second)],
                )
            ],
            time_zone_name="UTC",
        ),
        state=ScheduleState(limited_actions=True, remaining_actions=1),
    )


async def _start(client: Client, sale_input: FlashSaleInput, task_queue: str) -> None:
    """The closing Schedule, then the opening one (or the sale's workflow at once)."""
    await client.create_schedule(
        closing_schedule_id(sale_input.flash_no), closing_schedule(sale_input, task_queue)
    )
    if sale_input.starts_at <= datetime.now(UTC):  # opens now: no schedule to wait for
        await client.start_workflow(
            FlashSaleWorkflow.run,
            sale_input,
            id=schedule_id(sale_input.flash_no),
            task_queue=task_queue,
        )
    else:
        await client.create_schedule(
            schedule_id(sale_input.flash_no), opening_schedule(sale_input, task_queue)
        )


@router.get("", dependencies=[Read])
async def list_flash_sales(
    session: Session,
    paging: Paging,
    status: FlashSaleStatus | None = None,
    sku_id: IdParam | None = None,
    sort: Annotated[
        FlashSaleSort, Query(description="column to sort by; a leading `-` sorts descending")
    ] = "-starts_at",
) -> FlashSalesPublic:
    by = FlashSale.id if sort.endswith("id") else FlashSale.starts_at
    query = select(FlashSale).order_by(
        *((by.desc(), FlashSale.id.desc()) if sort.startswith("-") else (by, FlashSale.id))
    )
    if status is not None:
        query = query.where(FlashSale.status == status)
    if sku_id is not None:
        query = query.where(FlashSale.sku_id == sku_id)
    rows, count = await fetch_page(session, query, paging)
    return FlashSalesPublic(data=[public(r) for r in rows], count=count)


@router.post("", status_code=201)
async def create_flash_sale(body: FlashSaleCreate, deps: Deps, w: Write) -> FlashSaleDetail:
    """Create the sale and schedule its window; its units are carved when it opens."""
    if body.ends_at <= body.starts_at:
        raise invalid("ends_at", "must be after starts_at", "not_after_start")
    if body.ends_at <= datetime.now(UTC):
        raise invalid("ends_at", "must be in the future", "not_in_future")
    if body.per_customer_limit > body.quantity:
        raise invalid("per_customer_limit", "must not exceed quantity", "limit_over_quantity")
    sku = await w.session.get(Sku, body.sku_id)
    if sku is None or not sku.active:
        raise invalid(
            "sku_id", f"no such active SKU: {body.sku_id}", "unknown_sku", sku_id=body.sku_id
        )
    if body.price_fen >= sku.list_price_fen:
        raise invalid(
            "price_fen",
            f"must be below the list price ({sku.list_price_fen} fen)",
            "not_below_list_price",
            list_price_fen=sku.list_price_fen,
        )
    warehouse = await w.session.get(Warehouse, body.warehouse_id)
    if warehouse is None or not warehouse.active:
        raise invalid(
            "warehouse_id",
            f"no such active warehouse: {body.warehouse_id}",
            "unknown_warehouse",
            warehouse_id=body.warehouse_id,
        )
    stocked = await w.session.scalar(
        select(Stock.sku_id).where(Stock.sku_id == sku.id, Stock.warehouse_id == warehouse.id)
    )
    if stocked is None:
        raise invalid(
            "sku_id",
            f"SKU {sku.id} has no stock in warehouse {warehouse.code}",
            "no_stock_in_warehouse",
            warehouse=warehouse.code,
        )
    client = deps.require_temporal()
    sale = FlashSale(
        flash_no=await flash_sales.flash_number(w.session),
        name=body.name,
        sku_id=body.sku_id,
        warehouse_id=body.warehouse_id,
        price_fen=body.price_fen,
        planned=body.quantity,
        per_customer_limit=body.per_customer_limit,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        status="scheduled",
        created_by=w.principal.name[:100],
    )
    w.session.add(sale)
    await w.session.flush()
    sale_input = FlashSaleInput(
        flash_sale_id=sale.id,
        flash_no=sale.flash_no,
        starts_at=sale.starts_at,
        ends_at=sale.ends_at,
    )
    await w.commit("flash_sale.create", "flash_sale", sale.id, {"flash_no": sale.flash_no})
    await _start(client, sale_input, deps.task_queue)
    return await _detail(w.session, sale.id)


async def _detail(session: Session, flash_sale_id: int) -> FlashSaleDetail:
    sale = await session.get(FlashSale, flash_sale_id, populate_existing=True)
    if sale is None:
        raise not_found("flash sale", flash_sale_id)
    live = await flash_sales.live_figures(session, sale)
    return FlashSaleDetail.model_validate(
        {
            **public(sale).model_dump(),
            "paid_orders": live.paid_orders,
            "paid_units": live.paid_units,
            "unpaid_orders": live.unpaid_orders,
            "unpaid_units": live.unpaid_units,
            "released_orders": live.released_orders,
            "released_units": live.released_units,
        }
    )


@router.get("/{flash_sale_id}", dependencies=[Read])
async def get_flash_sale(flash_sale_id: IdParam, session: Session) -> FlashSaleDetail:
    """Live: sold, remaining, paid against unpaid orders, released units."""
    return await _detail(session, flash_sale_id)


@router.post("/{flash_sale_id}/stop")
async def stop_flash_sale(
    flash_sale_id: IdParam, body: FlashStopIn, deps: Deps, w: Write
) -> FlashSaleDetail:
    """Stop the sale now: its unsold units go back to sellable stock (409 once closed)."""
    sale = await w.session.get(FlashSale, flash_sale_id)
    if sale is None:
        raise not_found("flash sale", flash_sale_id)
    if sale.status == "closed":
        raise conflict(
            f"flash sale {sale.flash_no} is closed", reason="sale_closed", sale=sale.name
        )
    actor = actor_of(w.principal)
    client = deps.require_temporal()
    if sale.status == "scheduled":  # not opened: no schedule fires, nothing was carved
        await _delete_schedule(client, schedule_id(sale.flash_no))
        await flash_sales.close_sale(w.session, sale.id, f"{actor.kind}:{actor.name}", body.reason)
    else:
        workflow_id = sale.workflow_id or schedule_id(sale.flash_no)
        await w.session.commit()  # never hold a connection while waiting for the workflow
        stop = StopFlashSale(actor=actor, reason=body.reason)
        await update(deps, FLASH_SALE, workflow_id, FlashSaleWorkflow.stop, stop)
    await w.commit("flash_sale.stop", "flash_sale", flash_sale_id, {"reason": body.reason})
    await _delete_schedule(client, closing_schedule_id(sale.flash_no))  # nothing left to close
    return await _detail(w.session, flash_sale_id)


async def _delete_schedule(client: Client, schedule: str) -> None:
    """Gone already (fired, or deleted by a stop before) is as good as deleted."""
    try:
        await client.get_schedule_handle(schedule).delete()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
