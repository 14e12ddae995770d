"""A workflow only tests/workflows/test_sandbox_code.py validates (so its first validation in a
process is that test's)."""

from __future__ import annotations

from temporalio import workflow


@workflow.defn
class ValidatedOnce:
    @workflow.run
    async def run(self) -> str:
        return "ok"
