"""After-sale routes (DESIGN §6.3, issue 6): the storefront asks on behalf of its customer (never
with an amount) and may withdraw while undecided; customer service approves or rejects with a
reason; staff list them with filters, the overdue (undecided past the SLA) and the stuck (no
progress for days) first among them. Reads come from the projection AfterSaleWorkflow writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import (
    Deps,
    Principal,
    Session,
    Writer,
    actor_of,
    forbid_outside,
    require,
    visible_order,
    writer,
)
from api.errors import Problem, not_found
from api.pagination import Page, Paging, fetch_page
from api.routing import Routes
from api.schemas.types import DaysParam, Id, IdParam, LineNo, NoParam, Text, TextParam
from api.workflow_calls import AFTER_SALE, ORDER, update
from models.contracts.after_sale import (
    OPEN_STATUSES,
    WAITING_FOR,
    AfterSaleDecision,
    AfterSaleRequest,
    AfterSaleStatus,
    AfterSaleType,
    AfterSaleView,
    AfterSaleWithdrawal,
    InspectedLine,
    RefundRetry,
    ReturnInspection,
    ReturnShipment,
)
from models.db import AfterSale, AfterSaleLine, AuditEntry, Order, OrderLine, Sku, Warehouse
from models.domain.refunds import RefundRequestLine
from workflows.after_sale import AfterSaleWorkflow
from workflows.order import OrderWorkflow

router = Routes(tags=["after-sales"])
BUSINESS_TZ_DAY = timedelta(days=1)


class AfterSaleLineIn(BaseModel):
    line_no: LineNo = Field(gt=0)
    quantity: int = Field(gt=0, le=10_000)
    replacement_sku_id: Id | None = Field(
        default=None,
        gt=0,
        description="exchange only: another variant (SKU) of the same product at the same "
        "price; by default the line's own SKU",
    )


class AfterSaleIn(BaseModel):
    client_request_key: Text = Field(
        min_length=1, max_length=64, description="the same key again is the same request"
    )
    type: Literal["refund_only", "return_and_refund", "exchange"]
    lines: list[AfterSaleLineIn] = Field(min_length=1, max_length=100)
    reason: Text = Field(min_length=1, max_length=500)
    evidence_urls: list[Text] = Field(default_factory=list, max_length=9)


class ReturnShipmentIn(BaseModel):
    carrier_code: Text = Field(min_length=1, max_length=32)
    tracking_no: Text = Field(min_length=4, max_length=64)


class InspectedIn(BaseModel):
    line_no: LineNo = Field(gt=0)
    sellable: int = Field(ge=0, le=10_000)
    damaged: int = Field(ge=0, le=10_000)


class InboundIn(BaseModel):
    lines: list[InspectedIn] = Field(min_length=1, max_length=100)
    inbound_key: Text | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="made by the device: the same key again gets the after-sale as received "
        "the first time, nothing is received twice",
    )


class DecisionIn(BaseModel):
    approve: bool
    reason: Text = Field(default="", max_length=500)


class AfterSaleLinePublic(BaseModel):
    line_no: int
    sku_id: int
    quantity: int
    amount_fen: int


class AfterSalePublic(BaseModel):
    as_no: str
    order_no: str
    type: str
    status: str
    reason: str
    goods_fen: int
    freight_fen: int
    refund_fen: int
    requested_by: str
    requested_at: datetime
    sla_due_at: datetime | None
    decided_by: str | None
    decision_reason: str | None
    refund_no: str | None
    return_warehouse_id: int | None
    return_carrier: str | None
    return_tracking_no: str | None
    last_progress_at: datetime
    waiting_for: str | None  # open: what it waits for (the "stuck" list says why)
    idle_hours: int  # since its last step
    lines: list[AfterSaleLinePublic]


@router.post("/v1/orders/{order_no}/after-sales", status_code=201)
async def request_after_sale(
    order_no: NoParam,
    body: AfterSaleIn,
    deps: Deps,
    w: Annotated[Writer, Depends(writer("aftersales.request"))],
) -> AfterSaleView:
    """Opens an after-sale; 409 when the quantity exceeds what was bought minus what earlier
    requests took, when the order is not delivered yet or its after-sale window has closed."""
    await visible_order(w.session, w.principal, order_no)
    replacements = await _replacements(w.session, order_no, body)
    request = await _request(w, body, replacements)
    view = await update(
        deps,
        ORDER,
        order_no,
        OrderWorkflow.request_after_sale,
        request,
        update_id=f"after-sale-{body.client_request_key}",  # a resend gets the first answer
    )
    await w.commit("after_sale.request", "after_sale", view.as_no, body.model_dump())
    return view


async def _replacements(session: AsyncSession, order_no: str, body: AfterSaleIn) -> dict[int, int]:
    """Each exchanged line's replacement SKU, checked against the catalog: 422 unless it is an
    active variant of the same product at the same list price."""
    asked = {x.line_no: x.replacement_sku_id for x in body.lines if x.replacement_sku_id}
    if asked and body.type != "exchange":
        raise Problem(422, "only an exchange names replacement SKUs")
    bought = dict(
        (
            await session.execute(
                select(OrderLine.line_no, OrderLine.sku_id).where(OrderLine.order_no == order_no)
            )
        ).all()
    )
    for line_no, sku_id in asked.items():
        old, new = await session.get(Sku, bought.get(line_no, 0)), await session.get(Sku, sku_id)
        if old is None or new is None or not new.active or new.spu_id != old.spu_id:
            raise Problem(422, f"line {line_no}: SKU {sku_id} is no variant of what was bought")
        if new.list_price_fen != old.list_price_fen:
            raise Problem(422, f"line {line_no}: SKU {sku_id} has another price; refund instead")
    return {no: sku for no, sku in asked.items() if sku != bought.get(no)}


async def _request(w: Writer, body: AfterSaleIn, replacements: dict[int, int]) -> AfterSaleRequest:
    seq = int(await w.session.scalar(select(func.nextval("after_sale_seq"))) or 0)
    await w.session.commit()  # never hold a connection while waiting for the workflow
    return AfterSaleRequest(
        as_no=f"AS{datetime.now(UTC):%Y%m%d}{seq:06d}",
        type=body.type,
        lines=[RefundRequestLine(line_no=x.line_no, quantity=x.quantity) for x in body.lines],
        reason=body.reason,
        evidence_urls=body.evidence_urls,
        actor=actor_of(w.principal),
        replacements=replacements,
    )


@router.get("/v1/after-sales/{as_no}")
async def get_after_sale(
    as_no: NoParam, session: Session, who: Annotated[Principal, Depends(require("aftersales.read"))]
) -> AfterSalePublic:
    return await after_sale_public(session, who, as_no)


AfterSaleSort = Literal[
    "last_progress_at",
    "-last_progress_at",
    "requested_at",
    "-requested_at",
    "refund_fen",
    "-refund_fen",
]


@router.get("/v1/after-sales")
async def list_after_sales(
    session: Session,
    who: Annotated[Principal, Depends(require("aftersales.review"))],
    paging: Paging,
    status: Annotated[AfterSaleStatus | None, Query()] = None,  # a typo is a 422, not "none"
    type: Annotated[AfterSaleType | None, Query()] = None,
    order_no: Annotated[NoParam | None, Query()] = None,
    sku_id: Annotated[IdParam | None, Query()] = None,
    overdue: Annotated[bool | None, Query(description="undecided past the SLA")] = None,
    stuck_days: Annotated[DaysParam | None, Query(description="no progress for N days")] = None,
    return_tracking_no: Annotated[
        TextParam | None, Query(description="the tracking number of the parcel sent back")
    ] = None,
    sort: Annotated[
        AfterSaleSort, Query(description="column to sort by; a leading `-` sorts descending")
    ] = "last_progress_at",
) -> Page[AfterSalePublic]:
    query = _sorted(_filtered(status, type, order_no, sku_id, overdue, stuck_days), sort)
    if return_tracking_no is not None:
        query = query.where(AfterSale.return_tracking_no == return_tracking_no)
    numbers, count = await fetch_page(session, query, paging)
    return Page(data=[await after_sale_public(session, who, n) for n in numbers], count=count)


def _sorted(query: Select[str], sort: str) -> Select[str]:
    column = getattr(AfterSale, sort.removeprefix("-"))
    by = column.desc() if sort.startswith("-") else column.asc()
    return query.order_by(None).order_by(by, AfterSale.as_no)


def _filtered(
    status: str | None,
    type: str | None,
    order_no: str | None,
    sku_id: int | None,
    overdue: bool | None,
    stuck_days: int | None,
) -> Select[str]:
    now = datetime.now(UTC)
    query = select(AfterSale.as_no).order_by(AfterSale.last_progress_at, AfterSale.as_no)
    for column, value in ((AfterSale.status, status), (AfterSale.type, type)):
        if value is not None:
            query = query.where(column == value)
    if order_no is not None:
        query = query.where(AfterSale.order_no == order_no)
    if sku_id is not None:
        lines = select(AfterSaleLine.as_no).where(AfterSaleLine.sku_id == sku_id)
        query = query.where(AfterSale.as_no.in_(lines))
    if overdue is not None:
        late = (AfterSale.status == "requested") & (AfterSale.sla_due_at < now)
        query = query.where(late if overdue else ~late)
    if stuck_days is not None:
        query = query.where(
            AfterSale.status.in_(OPEN_STATUSES),
            AfterSale.last_progress_at < now - stuck_days * BUSINESS_TZ_DAY,
        )
    return query


@router.post("/v1/after-sales/{as_no}/decision")
async def decide(
    as_no: NoParam,
    body: DecisionIn,
    deps: Deps,
    w: Annotated[Writer, Depends(writer("aftersales.decide"))],
) -> AfterSalePublic:
    await after_sale_public(w.session, w.principal, as_no)
    await w.session.commit()
    decision = AfterSaleDecision(
        actor=actor_of(w.principal), approve=body.approve, reason=body.reason
    )
    await update(deps, AFTER_SALE, as_no, AfterSaleWorkflow.decide, decision)
    await w.commit("after_sale.decide", "after_sale", as_no, body.model_dump())
    return await after_sale_public(w.session, w.principal, as_no)


class RetryIn(BaseModel):
    reason: Text = Field(default="", max_length=500)


@router.post("/v1/after-sales/{as_no}/retry-refund")
async def retry_refund(
    as_no: NoParam,
    body: RetryIn,
    deps: Deps,
    w: Annotated[Writer, Depends(writer("aftersales.decide"))],
) -> AfterSalePublic:
    """A refund the provider refused, tried again (409 when none is waiting for it)."""
    await after_sale_public(w.session, w.principal, as_no)
    await w.session.commit()
    retry = RefundRetry(actor=actor_of(w.principal), reason=body.reason)
    await update(deps, AFTER_SALE, as_no, AfterSaleWorkflow.retry_refund, retry)
    await w.commit("after_sale.retry_refund", "after_sale", as_no, body.model_dump())
    return await after_sale_public(w.session, w.principal, as_no)


@router.post("/v1/after-sales/{as_no}/withdraw")
async def withdraw(
    as_no: NoParam, deps: Deps, w: Annotated[Writer, Depends(writer("aftersales.request"))]
) -> AfterSalePublic:
    await after_sale_public(w.session, w.principal, as_no)
    await w.session.commit()
    withdrawal = AfterSaleWithdrawal(actor=actor_of(w.principal))
    await update(deps, AFTER_SALE, as_no, AfterSaleWorkflow.withdraw, withdrawal)
    await w.commit("after_sale.withdraw", "after_sale", as_no)
    return await after_sale_public(w.session, w.principal, as_no)


@router.post("/v1/after-sales/{as_no}/return-shipment")
async def ship_back(
    as_no: NoParam,
    body: ReturnShipmentIn,
    deps: Deps,
    w: Annotated[Writer, Depends(writer("aftersales.request"))],
) -> AfterSalePublic:
    """The customer's parcel back to the warehouse: its carrier and tracking number."""
    await after_sale_public(w.session, w.principal, as_no)
    await w.session.commit()
    shipment = ReturnShipment(actor=actor_of(w.principal), **body.model_dump())
    await update(deps, AFTER_SALE, as_no, AfterSaleWorkflow.ship_back, shipment)
    await w.commit("after_sale.ship_back", "after_sale", as_no, body.model_dump())
    return await after_sale_public(w.session, w.principal, as_no)


class IncomingLine(BaseModel):
    line_no: int
    sku_id: int
    quantity: int


class IncomingReturn(BaseModel):
    """An after-sale as the receiving warehouse sees it: what comes back, no amount."""

    as_no: str
    order_no: str
    type: str
    status: str
    waiting_for: str | None
    return_warehouse_id: int | None
    return_carrier: str | None
    return_tracking_no: str | None
    lines: list[IncomingLine]


@router.get("/v1/warehouses/{warehouse_id}/returns")
async def incoming_returns(
    warehouse_id: IdParam,
    session: Session,
    paging: Paging,
    who: Annotated[Principal, Depends(require("aftersales.inbound"))],
    code: Annotated[
        TextParam | None,
        Query(description="the after-sale number or the return parcel's tracking number"),
    ] = None,
    status: Annotated[AfterSaleStatus | None, Query()] = None,
) -> Page[IncomingReturn]:
    """Returns (退货) coming back to this warehouse, for the people and devices who receive
    them: found by after-sale number or by the tracking number of the parcel sent back."""
    if await session.get(Warehouse, warehouse_id) is None:
        raise not_found("warehouse", warehouse_id)
    forbid_outside(who, warehouse_id)
    query = select(AfterSale.as_no).where(AfterSale.return_warehouse_id == warehouse_id)
    if code is not None:
        query = query.where(
            (AfterSale.as_no == code.strip()) | (AfterSale.return_tracking_no == code.strip())
        )
    if status is not None:
        query = query.where(AfterSale.status == status)
    numbers, count = await fetch_page(
        session, query.order_by(AfterSale.last_progress_at.desc(), AfterSale.as_no), paging
    )
    found = [await after_sale_public(session, who, n) for n in numbers]
    return Page(data=[IncomingReturn.model_validate(x.model_dump()) for x in found], count=count)


async def _received_by_key(w: Writer, as_no: str, key: str) -> bool:
    """Whether this after-sale was already received with the device's key (its audit row)."""
    row = await w.session.scalar(
        select(AuditEntry.id).where(
            AuditEntry.action == "after_sale.inbound",
            AuditEntry.object_type == "after_sale",
            AuditEntry.object_id == as_no,
            AuditEntry.status_code < 300,
            AuditEntry.detail["inbound_key"].astext == key,
        )
    )
    return row is not None


@router.post("/v1/after-sales/{as_no}/inbound")
async def receive_return(
    as_no: NoParam,
    body: InboundIn,
    deps: Deps,
    w: Annotated[Writer, Depends(writer("aftersales.inbound"))],
) -> AfterSalePublic:
    """退货入库: every returned unit inspected — sellable back on the shelf, or damaged. With
    an `inbound_key` a resend (a lost answer) answers the after-sale and receives nothing twice."""
    shown = await after_sale_public(w.session, w.principal, as_no)
    if shown.return_warehouse_id is not None and not w.principal.can_see_warehouse(
        shown.return_warehouse_id
    ):
        raise Problem(403, "devices act only in their own warehouse", type_="/problems/forbidden")
    if body.inbound_key is not None and await _received_by_key(w, as_no, body.inbound_key):
        return shown
    await w.session.commit()
    inspection = ReturnInspection(
        actor=actor_of(w.principal),
        lines=[InspectedLine(**line.model_dump()) for line in body.lines],
    )
    key = None if body.inbound_key is None else f"inbound-{as_no}-{body.inbound_key}"
    await update(deps, AFTER_SALE, as_no, AfterSaleWorkflow.inspect, inspection, update_id=key)
    await w.commit("after_sale.inbound", "after_sale", as_no, body.model_dump())
    return await after_sale_public(w.session, w.principal, as_no)


async def after_sale_public(session: AsyncSession, who: Principal, as_no: str) -> AfterSalePublic:
    """Storefronts see only their own orders' after-sales (others' are 404)."""
    row = await session.get(AfterSale, as_no, populate_existing=True)
    if row is None:
        raise not_found("after-sale", as_no)
    if "storefront" in who.roles:
        owner = await session.scalar(select(Order.api_key_id).where(Order.order_no == row.order_no))
        if owner != who.id:
            raise not_found("after-sale", as_no)
    lines = await session.scalars(
        select(AfterSaleLine).where(AfterSaleLine.as_no == as_no).order_by(AfterSaleLine.line_no)
    )
    derived = ("lines", "waiting_for", "idle_hours")
    return AfterSalePublic(
        **{k: getattr(row, k) for k in AfterSalePublic.model_fields if k not in derived},
        waiting_for=WAITING_FOR.get(row.status),
        idle_hours=int((datetime.now(UTC) - row.last_progress_at).total_seconds() // 3600),
        lines=[AfterSaleLinePublic.model_validate(x, from_attributes=True) for x in lines],
    )
