"""Wave routes (DESIGN §6.4, issue 4 items 2 and 10): staff "plan now" for a warehouse, and
waves with their progress (tasks done / short / open, units picked), escalated ones flagged."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import bindparam, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import (
    AppDeps,
    Deps,
    Principal,
    Session,
    Writer,
    forbid_outside,
    in_scope,
    require,
    writer,
)
from api.errors import Problem, not_found
from api.pagination import Page, Paging, fetch_page
from api.routes.picking import own_task
from api.routing import Routes
from api.schemas.picking import PickTaskView
from api.schemas.types import IdParam, NoParam, TextParam
from api.workflow_calls import answer
from models.contracts.waves import PlannerInput
from models.db import OutboundOrder, PickAllocation, PickTask, PutWallSlot, Warehouse, Wave
from services import picking
from workflows.visibility import at_start
from workflows.waves import WavePlannerWorkflow

router = Routes(tags=["waves"])
Reader = Annotated[Principal, Depends(require("waves.read"))]


class Progress(BaseModel):
    tasks_done: int
    tasks_short: int
    tasks_open: int
    tasks_cancelled: int
    units_allocated: int
    units_picked: int


class WavePublic(BaseModel):
    wave_no: str
    warehouse_id: int
    carrier_code: str
    cutoff_at: datetime
    profile: str
    zone: str
    release_reason: str
    status: str
    orders: int
    lines: int
    units: int
    built: bool  # its locations are allocated and its pick tasks routed
    escalated: bool
    escalation_reason: str | None
    created_at: datetime
    finished_at: datetime | None
    progress: Progress


class WaveDetail(WavePublic):
    tasks: list[dict[str, object]]
    packages: list[dict[str, object]]
    slots: list[dict[str, object]]


class Planned(BaseModel):
    warehouse_id: int
    waves: list[WavePublic]


@router.post("/v1/warehouses/{warehouse_id}/waves/plan")
async def plan_now(
    warehouse_id: IdParam, deps: Deps, w: Annotated[Writer, Depends(writer("waves.plan"))]
) -> Planned:
    """Plan the warehouse's waiting outbound orders now (as its Schedule does every few
    minutes); answers with the waves released by this run (none at once when none waits)."""
    found = (await w.session.execute(_WAITING, {"warehouse_id": warehouse_id})).first()
    if found is None:
        raise not_found("warehouse", warehouse_id)
    forbid_outside(w.principal, warehouse_id)
    code, waiting = found
    made: list[str] = []
    if waiting:  # else (most presses) the audit row goes in the transaction of the look
        await w.session.commit()  # never hold a connection while waiting for the workflow
        made = await _planning_run(deps, warehouse_id, code)
    await w.commit("warehouse.plan_waves", "warehouse", warehouse_id, {"waves": made})
    waves = [await wave_public(w.session, no) for no in made]
    return Planned(warehouse_id=warehouse_id, waves=waves)


# The warehouse's code and whether any outbound order waits to be planned: one statement.
_warehouses, _outbound = Warehouse.__table__.c, OutboundOrder.__table__.c
_WAITING = select(
    _warehouses.code,
    select(_outbound.package_no)
    .where(_outbound.warehouse_id == _warehouses.id, _outbound.status == "waiting")
    .exists(),
).where(_warehouses.id == bindparam("warehouse_id"))


async def _planning_run(deps: AppDeps, warehouse_id: int, code: str) -> list[str]:
    made: list[str] = await answer(
        deps.require_temporal().execute_workflow(
            WavePlannerWorkflow.run,
            PlannerInput(warehouse_id=warehouse_id, rules=deps.wave_rules, release_all=True),
            id=f"plan-waves-{code}-now-{uuid.uuid4().hex[:8]}",
            task_queue=deps.task_queue,
            # as the planner's first `show`: no upsert
            search_attributes=at_start(status="planning", warehouse=warehouse_id),
        ),
        kind="warehouse",
        ident=str(warehouse_id),
    )
    return made


class OutboundPublic(BaseModel):
    package_no: str
    order_no: str
    carrier_code: str
    status: str
    wave_no: str | None
    released_at: datetime
    ship_by: datetime | None  # the promise: released + HOUTAI_WAVES__SHIP_WITHIN_HOURS
    flag_reason: str | None


@router.get("/v1/warehouses/{warehouse_id}/outbound")
async def list_outbound(
    warehouse_id: IdParam,
    session: Session,
    who: Reader,
    paging: Paging,
    status: Annotated[
        TextParam | None, Query(pattern="^(waiting|planned|picked|short|cancelled)$")
    ] = None,
    flagged: Annotated[bool | None, Query(description="only those the planner flagged")] = None,
) -> Page[OutboundPublic]:
    """The warehouse's outbound orders, oldest first: what waits for a wave, its ship-by, and
    why a package is flagged: no cutoff can take it, or the next cutoff it can make is after
    its ship-by (late, but still planned) — never silently late."""
    if not who.can_see_warehouse(warehouse_id):
        raise Problem(403, "devices see only their own warehouse", type_="/problems/forbidden")
    query = (
        select(OutboundOrder)
        .where(OutboundOrder.warehouse_id == warehouse_id)
        .order_by(OutboundOrder.released_at, OutboundOrder.package_no)
    )
    if status is not None:
        query = query.where(OutboundOrder.status == status)
    if flagged is not None:
        query = query.where(OutboundOrder.flag_reason.is_not(None) == flagged)
    rows, count = await fetch_page(session, query, paging)
    return Page(
        data=[OutboundPublic.model_validate(r, from_attributes=True) for r in rows], count=count
    )


@router.get("/v1/waves")
async def list_waves(
    session: Session,
    who: Reader,
    paging: Paging,
    warehouse_id: Annotated[IdParam | None, Query()] = None,
    status: Annotated[TextParam | None, Query(pattern="^(picking|done|cancelled)$")] = None,
    escalated: Annotated[bool | None, Query()] = None,
) -> Page[WavePublic]:
    query = select(Wave.wave_no).order_by(Wave.cutoff_at, Wave.wave_no)
    query = in_scope(who, query, Wave.warehouse_id, warehouse_id)  # devices: their own one
    if status is not None:
        query = query.where(Wave.status == status)
    if escalated is not None:
        query = query.where(Wave.escalated == escalated)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    numbers = (await session.scalars(query.offset(paging.skip).limit(paging.limit))).all()
    return Page(data=[await wave_public(session, no) for no in numbers], count=int(total or 0))


@router.get("/v1/waves/{wave_no}")
async def get_wave(wave_no: NoParam, session: Session, who: Reader) -> WaveDetail:
    public = await wave_public(session, wave_no)
    if not who.can_see_warehouse(public.warehouse_id):
        raise Problem(403, "devices see only their own warehouse", type_="/problems/forbidden")
    tasks = await session.execute(
        select(PickTask).where(PickTask.wave_no == wave_no).order_by(PickTask.seq)
    )
    packages = await session.execute(
        select(OutboundOrder.package_no, OutboundOrder.status, OutboundOrder.flag_reason)
        .where(OutboundOrder.wave_no == wave_no)
        .order_by(OutboundOrder.package_no)
    )
    slots = await session.execute(
        select(PutWallSlot.slot_no, PutWallSlot.package_no, PutWallSlot.status)
        .where(PutWallSlot.wave_no == wave_no)
        .order_by(PutWallSlot.slot_no)
    )
    return WaveDetail(
        **public.model_dump(),
        tasks=[
            {
                "task_no": t.task_no,
                "status": t.status,
                "claimed_by": t.claimed_by,
                "route": t.route_name,
                "route_cm": t.route_cm,
            }
            for (t,) in tasks
        ],
        packages=[dict(row._mapping) for row in packages],
        slots=[dict(row._mapping) for row in slots],
    )


@router.get("/v1/pick-tasks/{task_no}")
async def get_task(task_no: NoParam, session: Session, who: Reader) -> PickTaskView:
    view = await picking.task_view(session, await own_task(session, who, task_no))
    return PickTaskView.model_validate(view)


async def wave_public(session: AsyncSession, wave_no: str) -> WavePublic:
    wave = await session.get(Wave, wave_no, populate_existing=True)
    if wave is None:
        raise not_found("wave", wave_no)
    counts: dict[str, int] = {
        status: n
        for status, n in await session.execute(
            select(PickTask.status, func.count())
            .where(PickTask.wave_no == wave_no)
            .group_by(PickTask.status)
        )
    }
    allocated, picked = (
        await session.execute(
            select(
                func.coalesce(
                    func.sum(case((PickAllocation.status != "cancelled", PickAllocation.quantity))),
                    0,
                ),
                func.coalesce(func.sum(PickAllocation.picked), 0),
            ).where(PickAllocation.wave_no == wave_no)
        )
    ).one()
    return WavePublic(
        wave_no=wave.wave_no,
        warehouse_id=wave.warehouse_id,
        carrier_code=wave.carrier_code,
        cutoff_at=wave.cutoff_at,
        profile=wave.profile,
        zone=wave.zone,
        release_reason=wave.release_reason,
        status=wave.status,
        orders=wave.orders,
        lines=wave.lines,
        units=wave.units,
        built=wave.built,
        escalated=wave.escalated,
        escalation_reason=wave.escalation_reason,
        created_at=wave.created_at,
        finished_at=wave.finished_at,
        progress=Progress(
            tasks_done=counts.get("done", 0),
            tasks_short=counts.get("short", 0),
            tasks_open=counts.get("open", 0) + counts.get("claimed", 0),
            tasks_cancelled=counts.get("cancelled", 0),
            units_allocated=int(allocated),
            units_picked=int(picked),
        ),
    )
