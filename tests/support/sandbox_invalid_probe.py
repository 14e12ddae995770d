"""A workflow whose module reads the wall clock on import: the sandbox refuses to validate it
(tests/workflows/test_sandbox_code.py)."""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

LOADED_AT = datetime.now()  # what a workflow module may not do


@workflow.defn
class ImportsTheClock:
    @workflow.run
    async def run(self) -> str:
        return LOADED_AT.isoformat()
