"""A workflow that reads a clock: the workflow's own, or the wall clock the sandbox forbids
(tests/workflows/test_sandbox_code.py)."""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow
from temporalio.worker.workflow_sandbox import RestrictedWorkflowAccessError


@workflow.defn(failure_exception_types=[RestrictedWorkflowAccessError])
class ClockProbe:
    @workflow.run
    async def run(self, which: str) -> str:
        at = workflow.now() if which == "workflow" else datetime.now()  # the sandbox refuses this
        return at.isoformat()
