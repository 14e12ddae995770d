"""The worker built by build_worker runs a workflow whose activity reaches PostgreSQL."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.testing import WorkflowEnvironment

from core.db import make_session_factory
from migrations import head_revision
from models.contracts.diagnostics import DiagnosticsInput
from workers.worker import WorkerDeps, build_worker
from workflows.diagnostics import DiagnosticsWorkflow


async def test_diagnostics_round_trip_reports_the_schema_revision(
    time_skipping_env: WorkflowEnvironment, engine: AsyncEngine, task_queue: str
) -> None:
    deps = WorkerDeps(engine=engine, session_factory=make_session_factory(engine))
    async with build_worker(time_skipping_env.client, deps, task_queue=task_queue):
        result = await time_skipping_env.client.execute_workflow(
            DiagnosticsWorkflow.run,
            DiagnosticsInput(requested_by="test"),
            id=f"diagnostics-{uuid.uuid4()}",
            task_queue=task_queue,
        )
    assert result.requested_by == "test"
    assert result.task_queue == task_queue
    assert result.database.reachable
    assert result.database.schema_revision == head_revision() == result.database.expected_revision
