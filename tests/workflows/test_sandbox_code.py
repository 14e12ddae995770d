"""workers/sandbox_code.py: the sandbox runner's snippets compiled once per process. Workflows
still run in the sandbox, its restrictions still hold, and the snippets of every activation
are found compiled after the first (a run of the same workflow compiles nothing new). Each
workflow class is validated once per process; one that fails is refused by every worker."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import RestrictedWorkflowAccessError, _runner
from temporalio.workflow import _Definition

from tests.support.sandbox_invalid_probe import ImportsTheClock
from tests.support.sandbox_probe import ClockProbe
from tests.support.sandbox_validation_probe import ValidatedOnce
from tests.support.temporal import time_skipping_server
from workers.sandbox_code import (
    SandboxValidatedOnce,
    compile_sandbox_code_once,
    compiled,
    exec_compiled_once,
)


async def test_workflows_run_sandboxed_on_snippets_compiled_once(task_queue: str) -> None:
    compile_sandbox_code_once()
    assert _runner.exec is exec_compiled_once  # type: ignore[attr-defined]
    env = await time_skipping_server()
    try:
        async with Worker(env.client, task_queue=task_queue, workflows=[ClockProbe]):

            async def probe(which: str, n: int) -> str:
                return await env.client.execute_workflow(
                    ClockProbe.run, which, id=f"probe-{which}-{n}", task_queue=task_queue
                )

            assert await probe("workflow", 1)
            before = compiled.cache_info()
            assert await probe("workflow", 2)  # a new run: a new sandbox, the same snippets
            after = compiled.cache_info()
            assert after.misses == before.misses
            assert after.hits - before.hits >= 3  # import, instance, activation at least

            with pytest.raises(WorkflowFailureError) as refused:
                await probe("wall", 1)
            assert "datetime.datetime.now" in str(refused.value.cause)
    finally:
        await env.shutdown()


def test_the_compiled_exec_runs_in_the_globals_and_locals_given() -> None:
    scope: dict[str, object] = {"x": 2}
    exec_compiled_once("y = x * 21\n", scope, scope)
    exec_compiled_once("y = y + 0\n", scope)
    assert scope["y"] == 42
    assert compiled("y = x * 21\n") is compiled("y = x * 21\n")


class CountingRunner(SandboxValidatedOnce):
    """Counts the sandboxes the validation instantiates."""

    created: ClassVar[list[type]] = []

    def create_instance(self, det: Any) -> Any:
        CountingRunner.created.append(det.defn.cls)
        return super().create_instance(det)


async def test_each_workflow_class_is_validated_once_and_a_failing_one_every_time() -> None:
    once = _Definition.must_from_class(ValidatedOnce)
    for _ in range(3):  # three workers of one process
        CountingRunner().prepare_workflow(once)
    assert CountingRunner.created.count(ValidatedOnce) == 1

    invalid = _Definition.must_from_class(ImportsTheClock)
    for _ in range(2):
        with pytest.raises(RestrictedWorkflowAccessError):
            CountingRunner().prepare_workflow(invalid)
    assert CountingRunner.created.count(ImportsTheClock) == 2
