"""Stock count (盘点) routes: a warehouse manager opens a count over some locations, devices of
that warehouse (or the manager) send counted quantities, everyone with stock access sees the
differences, and the manager approves (surplus/deficit booked through the ledger) or cancels."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Depends
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Principal, Session, Writer, forbid_outside, require, writer
from api.errors import Problem, not_found, refused
from api.pagination import Page, Paging, fetch_page
from api.routing import Routes
from api.schemas.counts import (
    CountCreate,
    CountedPublic,
    CountEntriesIn,
    CountPublic,
    DifferencePublic,
)
from api.schemas.types import IdParam, NoParam
from models.db import StockCount, StockCountEntry, StockCountLocation, Warehouse
from models.domain.purchasing import CountDifference
from services.stock_counts import (
    Counted,
    add_entries,
    approve_count,
    cancel_count,
    differences,
    open_count,
)
from services.stock_ledger import StockError

router = Routes(tags=["stock counts"])


def _problem(exc: StockError) -> Problem:
    return not_found("stock count", str(exc)) if exc.field == "count_no" else refused(exc)


async def count_public(
    session: AsyncSession,
    count_no: str,
    booked: list[CountDifference] | None = None,
    *,
    blind: bool = False,
) -> CountPublic:
    """The count; `blind` (the caller may not approve counts) leaves out every book figure."""
    count = await session.get(StockCount, count_no, populate_existing=True)
    if count is None:
        raise not_found("stock count", count_no)
    locations = list(
        await session.scalars(
            select(StockCountLocation.location_id)
            .where(StockCountLocation.count_no == count_no)
            .order_by(StockCountLocation.location_id)
        )
    )
    entries = await session.scalar(
        select(func.count())
        .select_from(StockCountEntry)
        .where(StockCountEntry.count_no == count_no)
    )
    shown = booked if booked is not None else (
        await differences(session, count_no) if count.status == "counting" and not blind else []
    )  # fmt: skip
    counted = await session.execute(
        select(
            StockCountEntry.location_id,
            StockCountEntry.sku_id,
            StockCountEntry.batch_no,
            func.sum(StockCountEntry.quantity),
        )
        .where(StockCountEntry.count_no == count_no)
        .group_by(StockCountEntry.location_id, StockCountEntry.sku_id, StockCountEntry.batch_no)
        .order_by(StockCountEntry.location_id, StockCountEntry.sku_id, StockCountEntry.batch_no)
    )
    return CountPublic(
        count_no=count.count_no,
        warehouse_id=count.warehouse_id,
        status=count.status,
        created_by=count.created_by,
        decided_by=count.decided_by,
        created_at=count.created_at,
        decided_at=count.decided_at,
        location_ids=locations,
        entries=int(entries or 0),
        differences=[]
        if blind
        else [DifferencePublic.model_validate(d.model_dump()) for d in shown],
        blind=blind,
        counted=[
            CountedPublic(location_id=loc, sku_id=sku, batch_no=batch, quantity=int(n))
            for loc, sku, batch, n in counted
        ],
    )


def is_blind(who: Principal) -> bool:
    """Who may not approve a count counts blind: no book (expected) figure is shown to them."""
    return not who.may("stock.count")


async def _own(session: AsyncSession, who: Principal, count_no: str) -> StockCount:
    count = await session.get(StockCount, count_no)
    if count is None:
        raise not_found("stock count", count_no)
    if not who.can_see_warehouse(count.warehouse_id):
        raise Problem(403, "devices count only in their own warehouse", type_="/problems/forbidden")
    return count


@router.post("/v1/warehouses/{warehouse_id}/counts", status_code=201)
async def create_count(
    warehouse_id: IdParam, body: CountCreate, w: Annotated[Writer, Depends(writer("stock.count"))]
) -> CountPublic:
    if await w.session.get(Warehouse, warehouse_id) is None:
        raise not_found("warehouse", warehouse_id)
    forbid_outside(w.principal, warehouse_id)
    try:
        count_no = await open_count(
            w.session, warehouse_id=warehouse_id, location_ids=body.location_ids, actor=w.actor
        )
    except StockError as exc:
        await w.session.rollback()
        raise _problem(exc) from exc
    await w.commit("stock_count.open", "stock_count", count_no, body.model_dump())
    return await count_public(w.session, count_no)


class CountRow(BaseModel):
    count_no: str
    warehouse_id: int
    status: str
    created_by: str
    decided_by: str | None
    created_at: datetime
    decided_at: datetime | None


@router.get("/v1/warehouses/{warehouse_id}/counts")
async def list_counts(
    warehouse_id: IdParam,
    session: Session,
    paging: Paging,
    who: Annotated[Principal, Depends(require("stock.read"))],
    status: Literal["counting", "approved", "cancelled"] | None = None,
) -> Page[CountRow]:
    """The warehouse's stock counts, newest first."""
    if await session.get(Warehouse, warehouse_id) is None:
        raise not_found("warehouse", warehouse_id)
    forbid_outside(who, warehouse_id)
    query = select(StockCount).where(StockCount.warehouse_id == warehouse_id)
    if status is not None:
        query = query.where(StockCount.status == status)
    query = query.order_by(StockCount.created_at.desc(), StockCount.count_no.desc())
    rows, count = await fetch_page(session, query, paging)
    return Page(data=[CountRow.model_validate(r, from_attributes=True) for r in rows], count=count)


@router.get("/v1/counts/{count_no}")
async def get_count(
    count_no: NoParam, session: Session, who: Annotated[Principal, Depends(require("stock.read"))]
) -> CountPublic:
    """The count; blind (no book figure, no difference) for whoever may not approve it."""
    await _own(session, who, count_no)
    return await count_public(session, count_no, blind=is_blind(who))


@router.post("/v1/counts/{count_no}/entries")
async def count_entries(
    count_no: NoParam,
    body: CountEntriesIn,
    w: Annotated[Writer, Depends(writer("stock.count_entry"))],
) -> CountPublic:
    await _own(w.session, w.principal, count_no)
    try:
        added = await add_entries(
            w.session,
            count_no=count_no,
            entries=[Counted(**entry.model_dump()) for entry in body.entries],
            actor=w.actor,
        )
    except StockError as exc:
        await w.session.rollback()
        raise _problem(exc) from exc
    await w.commit("stock_count.entries", "stock_count", count_no, {"added": added})
    return await count_public(w.session, count_no, blind=is_blind(w.principal))


@router.post("/v1/counts/{count_no}/approve")
async def approve(
    count_no: NoParam, w: Annotated[Writer, Depends(writer("stock.count"))]
) -> CountPublic:
    try:
        booked = await approve_count(w.session, count_no=count_no, actor=w.actor)
    except StockError as exc:
        await w.session.rollback()
        raise _problem(exc) from exc
    await w.commit("stock_count.approve", "stock_count", count_no, {"lines": len(booked)})
    return await count_public(w.session, count_no, booked)


@router.post("/v1/counts/{count_no}/cancel")
async def cancel(
    count_no: NoParam, w: Annotated[Writer, Depends(writer("stock.count"))]
) -> CountPublic:
    try:
        await cancel_count(w.session, count_no=count_no, actor=w.actor)
    except StockError as exc:
        await w.session.rollback()
        raise _problem(exc) from exc
    await w.commit("stock_count.cancel", "stock_count", count_no)
    return await count_public(w.session, count_no)
