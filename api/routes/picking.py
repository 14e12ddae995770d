"""Device routes of wave picking (DESIGN §6.4, issue 4 item 5): a handheld claims its next
task, scans picks, reports shortages and sorts units on the put wall. Devices act only in
their own warehouse. Each scan carries the device's scan id: sent again, it gets the stored
answer. Answers tell the device its next step. Milestones are signalled to the wave after the
scan is committed (a lost signal is caught by the wave's own refresh)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.service import RPCError

from api.deps import AppDeps, Deps, Principal, Writer, writer
from api.errors import Problem, conflict, not_found
from api.routing import Routes
from api.schemas.picking import PickTaskView, PutAnswer, ScanAnswer
from api.schemas.types import NoParam, Text
from models.contracts import messages
from models.db import PickTask
from models.domain.scans import PickForbidden, PickRefused
from services import picking, put_wall
from services.picking import ScanOutcome
from services.wave_building import warehouse_zone

log = logging.getLogger(__name__)
router = Routes(tags=["picking"])
Device = Annotated[Writer, Depends(writer("picking.work"))]
# Scan answers are stored and sent again as they were (a retried scan gets the same answer), so
# they are declared here rather than re-validated on the way out.
SCANNED: dict[int | str, dict[str, Any]] = {200: {"model": ScanAnswer, "description": "accepted"}}
PUT: dict[int | str, dict[str, Any]] = {200: {"model": PutAnswer, "description": "where it goes"}}
ScanId = Annotated[Text, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class ScanIn(BaseModel):
    scan_id: ScanId
    location_barcode: Text = Field(min_length=1, max_length=64)
    sku_barcode: Text = Field(min_length=1, max_length=64)
    quantity: int = Field(default=1, gt=0, le=10_000)


class ShortIn(BaseModel):
    scan_id: ScanId
    found: int = Field(ge=0, le=10_000, description="units still found at this stop")


class PutIn(BaseModel):
    scan_id: ScanId
    sku_barcode: Text = Field(min_length=1, max_length=64)


def _warehouse(who: Principal) -> int:
    if who.warehouse_id is None:
        raise Problem(403, "this key is not bound to a warehouse", type_="/problems/forbidden")
    return who.warehouse_id


def _now() -> datetime:
    return datetime.now(UTC)


@router.get(
    "/v1/devices/me/next-task",
    response_model=PickTaskView,
    responses={204: {"description": "nothing to pick"}},
)
async def next_task(w: Device) -> Any:
    """The device's unfinished task, else the next open task of its warehouse, claimed. Only a
    claim is a write (and audited): showing the device its own task again changes nothing, and
    the handheld pages ask for it on every screen."""
    claimed: list[str] = []
    task = await picking.next_task(
        w.session,
        device=w.actor,
        warehouse_id=_warehouse(w.principal),
        now=_now(),
        claimed=claimed,
    )
    if task is None or not claimed:
        await w.session.rollback()
        return Response(status_code=204) if task is None else task
    await w.commit("pick_task.claim", "pick_task", task["task_no"])
    return task


@router.post("/v1/pick-tasks/{task_no}/scans", responses=SCANNED)
async def scan(task_no: NoParam, body: ScanIn, deps: Deps, w: Device) -> JSONResponse:
    async def act() -> ScanOutcome:
        return await picking.scan(
            w.session,
            device=w.actor,
            warehouse_id=_warehouse(w.principal),
            task_no=task_no,
            scan_id=body.scan_id,
            location_barcode=body.location_barcode,
            sku_barcode=body.sku_barcode,
            quantity=body.quantity,
            now=_now(),
            worker=w.principal.worker,
        )

    return await _answer(deps, w, "pick_task.scan", task_no, body.scan_id, act)


@router.post("/v1/pick-tasks/{task_no}/short", responses=SCANNED)
async def short(task_no: NoParam, body: ShortIn, deps: Deps, w: Device) -> JSONResponse:
    warehouse_id = _warehouse(w.principal)
    today = _now().astimezone(await warehouse_zone(w.session, warehouse_id)).date()

    async def act() -> ScanOutcome:
        return await picking.report_short(
            w.session,
            device=w.actor,
            warehouse_id=warehouse_id,
            task_no=task_no,
            scan_id=body.scan_id,
            found=body.found,
            today=today,
            now=_now(),
            actor=f"{w.actor} / {w.principal.worker}"[:100] if w.principal.worker else None,
            worker=w.principal.worker,
        )

    return await _answer(deps, w, "pick_task.short", task_no, body.scan_id, act)


@router.post("/v1/waves/{wave_no}/put-wall/scans", responses=PUT)
async def put(wave_no: NoParam, body: PutIn, deps: Deps, w: Device) -> JSONResponse:
    async def act() -> ScanOutcome:
        return await put_wall.put(
            w.session,
            device=w.actor,
            warehouse_id=_warehouse(w.principal),
            wave_no=wave_no,
            scan_id=body.scan_id,
            sku_barcode=body.sku_barcode,
        )

    return await _answer(deps, w, "put_wall.scan", wave_no, body.scan_id, act)


async def _answer(
    deps: AppDeps, w: Writer, action: str, ref: str, scan_id: str, act: Any
) -> JSONResponse:
    try:
        answer: ScanOutcome = await act()
    except LookupError as exc:
        await w.session.rollback()
        raise not_found("pick task or wave", ref) from exc
    except PickForbidden as exc:
        await w.session.rollback()
        raise Problem(403, str(exc), type_="/problems/forbidden") from exc
    except PickRefused as exc:  # not yours / nothing open: not stored, the state may change
        await w.session.rollback()
        raise conflict(str(exc), field="task_no", message=str(exc)) from exc
    status_code, body = _sent(answer)
    await w.commit(action, "scan", scan_id, {"ref": ref, "status": status_code})
    if answer.milestone:
        await _signal(deps, answer.wave_no, answer.milestone, ref, answer.body)
    media = "application/problem+json" if status_code >= 400 else "application/json"
    return JSONResponse(status_code=status_code, content=body, media_type=media)


def _sent(answer: ScanOutcome) -> tuple[int, dict[str, Any]]:
    """A refused scan is a 409 problem+json body that also tells the device what was expected
    (its `error` names the rule); any other answer is 200."""
    if not answer.refused:
        return 200, answer.body
    code = str(answer.body.get("error", "conflict"))
    problem = {"type": f"/problems/{code.replace('_', '-')}", "title": "Conflict", "status": 409}
    return 409, {**problem, **answer.body}


async def _signal(
    deps: AppDeps, wave_no: str, milestone: str, ref: str, body: dict[str, Any]
) -> None:
    arg = body.get("package_no", ref) if milestone == messages.PACKAGE_SORTED else ref
    if deps.temporal is None:  # the wave refreshes on its own: the scan stands
        log.warning("could not tell wave %s about %s: no Temporal", wave_no, milestone)
        return
    try:
        await deps.temporal.get_workflow_handle(f"wave-{wave_no}").signal(milestone, arg)
    except RPCError:  # finished, or Temporal unreachable: the wave refreshes on its own
        log.warning("could not tell wave %s about %s", wave_no, milestone, exc_info=True)


async def own_task(session: AsyncSession, who: Principal, task_no: str) -> PickTask:
    task = await session.get(PickTask, task_no)
    if task is None:
        raise not_found("pick task", task_no)
    if not who.can_see_warehouse(task.warehouse_id):
        raise Problem(403, "devices act only in their own warehouse", type_="/problems/forbidden")
    return task
