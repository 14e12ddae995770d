"""Finance routes (DESIGN §6.6): the daily payment reconciliation's runs and the differences they
found between the provider's statement and the money ledger; finance (or an admin) can run a day
now instead of waiting for the `reconcile-payments` schedule."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Query
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import AppDeps, Deps, Principal, Session, Writer, require, writer
from api.errors import Problem, invalid
from api.pagination import Page, Paging, fetch_page
from api.routing import Routes
from api.schemas.common import Public, Strict
from api.workflow_calls import answer
from models.contracts.reconciliation import ReconcileInput, ReconcileResult
from models.db import ReconciliationDifference, ReconciliationRun
from models.domain.reconciliation import DifferenceKind, EntryType, business_day
from workflows.reconciliation import ReconciliationWorkflow

router = Routes(prefix="/v1/finance/reconciliation", tags=["finance"])
Reader = Annotated[Principal, Depends(require("finance.read"))]
RUN_WAIT = timedelta(seconds=60)  # then 503: the run goes on and is listed when done
RECENT_RUNS = 20


class ReconcileRunIn(Strict):
    day: date | None = None  # the business day (Asia/Shanghai); default: yesterday


class RunPublic(Public):
    id: int
    workflow_id: str
    day: date
    status: str
    statement_entries: int
    ledger_entries: int
    matched: int
    differences: int
    resolved: int  # differences of earlier runs of the day this run no longer found
    started_at: datetime
    finished_at: datetime | None


class DifferencePublic(Public):
    id: int
    day: date
    kind: DifferenceKind
    entry_type: EntryType
    reference: str  # the transaction id (payment) or our refund number (refund)
    order_no: str
    provider_id: str | None
    provider_amount_fen: int | None
    ledger_amount_fen: int | None
    occurred_at: datetime
    detail: str
    resolved: bool
    resolved_at: datetime | None
    run_id: int | None  # None: found by a refund callback of the provider, not by a run


class ReconciledPublic(Public):
    run: RunPublic
    differences: list[DifferencePublic]  # what this run found, still open


class ReconciliationPublic(Page[DifferencePublic]):
    runs: list[RunPublic]  # of the day asked for, else the latest ones; newest first


@router.post("/run")
async def run_reconciliation(
    deps: Deps,
    w: Annotated[Writer, Depends(writer("finance.reconcile"))],
    body: ReconcileRunIn | None = None,
) -> ReconciledPublic:
    day = body.day if body is not None else None
    if day is not None and day > business_day(datetime.now(UTC)):
        raise invalid(
            "day",
            "is in the future; a business day can be reconciled from its start",
            "day_in_future",
        )
    result = await _reconcile_now(deps, day)
    found = await _reconciled(w.session, result.run_id)
    detail = {"day": result.day.isoformat(), "differences": len(result.differences)}
    await w.commit("reconciliation.run", "reconciliation_run", result.run_id, detail)
    return found


@router.get("")
async def list_reconciliation(
    session: Session,
    _: Reader,
    paging: Paging,
    day: date | None = None,
    kind: DifferenceKind | None = None,
    unresolved: Annotated[bool | None, Query(description="only open (or only resolved)")] = None,
) -> ReconciliationPublic:
    difference = ReconciliationDifference
    query = select(difference).order_by(difference.day.desc(), difference.id)
    if day is not None:
        query = query.where(difference.day == day)
    if kind is not None:
        query = query.where(difference.kind == kind)
    if unresolved is not None:
        query = query.where(difference.resolved.is_(not unresolved))
    rows, count = await fetch_page(session, query, paging)
    return ReconciliationPublic(
        data=[DifferencePublic.model_validate(r) for r in rows],
        count=count,
        runs=await _runs(session, day),
    )


async def _runs(session: AsyncSession, day: date | None) -> list[RunPublic]:
    """The day's runs, or the latest ones; newest first."""
    query = select(ReconciliationRun).order_by(ReconciliationRun.id.desc()).limit(RECENT_RUNS)
    if day is not None:
        query = query.where(ReconciliationRun.day == day)
    return [RunPublic.model_validate(r) for r in await session.scalars(query)]


async def _reconcile_now(deps: AppDeps, day: date | None) -> ReconcileResult:
    """Start a run and wait for it; one that takes longer (the provider is down) goes on."""
    workflow_id = f"reconcile-now-{uuid.uuid4().hex[:12]}"
    handle = await answer(
        deps.require_temporal().start_workflow(
            ReconciliationWorkflow.run,
            ReconcileInput(day=day),
            id=workflow_id,
            task_queue=deps.task_queue,
        ),
        kind="reconciliation",
        ident=workflow_id,
    )
    try:
        return await asyncio.wait_for(handle.result(), RUN_WAIT.total_seconds())
    except TimeoutError as exc:
        raise Problem(
            503,
            f"reconciliation {workflow_id} is still running; its run is listed when done",
            type_="/problems/busy",
            headers={"Retry-After": "30"},
        ) from exc


async def _reconciled(session: AsyncSession, run_id: int) -> ReconciledPublic:
    run = await session.get_one(ReconciliationRun, run_id)
    found = await session.scalars(
        select(ReconciliationDifference)
        .where(
            ReconciliationDifference.run_id == run_id,
            ReconciliationDifference.resolved.is_(False),
        )
        .order_by(ReconciliationDifference.id)
    )
    return ReconciledPublic(
        run=RunPublic.model_validate(run),
        differences=[DifferencePublic.model_validate(d) for d in found],
    )
