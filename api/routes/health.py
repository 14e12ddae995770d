"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.deps import AppDeps, Deps
from api.routing import Routes
from migrations import current_revision, head_revision
from models.contracts.diagnostics import DiagnosticsInput, DiagnosticsResult
from workflows.diagnostics import DiagnosticsWorkflow

router = Routes(tags=["health"])


class Readiness(BaseModel):
    """What /readyz found; the same body answers 200 (ready) and 503 (not ready)."""

    status: Literal["ready", "not ready"]
    database: dict[str, Any] = Field(description="ok, revision and head, or the error's name")
    temporal: dict[str, Any] = Field(description="ok (and, deep, the worker), or the error's name")


READINESS: dict[int | str, dict[str, Any]] = {
    200: {"model": Readiness, "description": "ready"},
    503: {"model": Readiness, "description": "not ready"},
}


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


async def _database(deps: AppDeps) -> dict[str, Any]:
    try:
        revision = await asyncio.wait_for(current_revision(deps.engine), timeout=5)
    except Exception as exc:  # reported, not raised: this is a probe
        return {"ok": False, "error": type(exc).__name__}
    head = head_revision()
    return {"ok": revision == head, "revision": revision, "head": head}


async def _temporal(deps: AppDeps, deep: bool) -> dict[str, Any]:
    if deps.temporal is None:
        return {"ok": False, "error": "no Temporal client"}
    try:
        await asyncio.wait_for(deps.temporal.service_client.check_health(), timeout=5)
        if not deep:
            return {"ok": True}
        result: DiagnosticsResult = await deps.temporal.execute_workflow(
            DiagnosticsWorkflow.run,
            DiagnosticsInput(requested_by="readyz"),
            id=f"diagnostics-{uuid.uuid4()}",
            task_queue=deps.task_queue,
            execution_timeout=timedelta(seconds=10),
        )
        return {
            "ok": True,
            "worker": result.task_queue,
            "worker_sees_schema": result.database.schema_revision,
        }
    except Exception as exc:  # reported, not raised: this is a probe
        return {"ok": False, "error": type(exc).__name__}


@router.get("/readyz", responses=READINESS)
async def readyz(deps: Deps, deep: bool = False) -> JSONResponse:
    """Database reachable with migrations at head, and Temporal reachable. `deep=true` also
    runs a workflow on a worker, proving the whole chain."""
    database, temporal = await asyncio.gather(_database(deps), _temporal(deps, deep))
    ready = bool(database["ok"] and temporal["ok"])
    body = Readiness(status="ready" if ready else "not ready", database=database, temporal=temporal)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
