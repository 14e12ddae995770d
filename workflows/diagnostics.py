"""DiagnosticsWorkflow: proves the whole chain works — Temporal schedules a workflow task on a
houtai worker, which runs an activity against PostgreSQL. `houtai up` runs it before saying
"ready", and `GET /readyz?deep=true` runs it on demand."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.diagnostics import DiagnosticsActivities
    from models.contracts.diagnostics import DiagnosticsInput, DiagnosticsResult
    from workflows.visibility import show


@workflow.defn
class DiagnosticsWorkflow:
    @workflow.run
    async def run(self, input: DiagnosticsInput) -> DiagnosticsResult:
        show(status="checking")
        database = await workflow.execute_activity_method(
            DiagnosticsActivities.check_database,
            start_to_close_timeout=timedelta(seconds=10),
        )
        show(status="ok")
        return DiagnosticsResult(
            requested_by=input.requested_by,
            task_queue=workflow.info().task_queue,
            database=database,
        )
