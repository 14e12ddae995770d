"""The Temporal baselines bench/orders.py compares houtai with: plain workflows, no database,
no HTTP (their own worker and task queue on the same dev server, in the bench's process)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

USE_EXISTING = WorkflowIDConflictPolicy.USE_EXISTING


@activity.defn
async def noop(step: int) -> int:
    return step


@dataclass
class RawPlan:
    activities: int
    local_activities: int
    signals: int
    updates: int  # counting the Update-with-Start that starts it


@workflow.defn
class BareWorkflow:
    """A trivial workflow whose update returns at once: the create-order baseline."""

    def __init__(self) -> None:
        self._touched = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self._touched)

    @workflow.update
    def touch(self, n: int) -> int:
        self._touched = True
        return n


@workflow.defn
class RawLifecycleWorkflow:
    """Takes `messages` signals/updates, running the no-op activities in between."""

    def __init__(self) -> None:
        self._received = 0

    @workflow.run
    async def run(self, plan: RawPlan) -> int:
        messages = plan.signals + plan.updates
        for k in range(messages):
            await workflow.wait_condition(lambda: self._received > k)  # noqa: B023 - awaited here
            for step in range(_share(plan.activities, messages, k)):
                await workflow.execute_activity(
                    noop, step, start_to_close_timeout=timedelta(seconds=30)
                )
            for step in range(_share(plan.local_activities, messages, k)):
                await workflow.execute_local_activity(
                    noop, step, start_to_close_timeout=timedelta(seconds=30)
                )
        return plan.activities + plan.local_activities

    @workflow.signal
    def poke(self) -> None:
        self._received += 1

    @workflow.update
    def touch(self) -> int:
        self._received += 1
        return self._received


def _share(total: int, parts: int, k: int) -> int:
    """Part k of `total` split as evenly as possible into `parts`."""
    share, extra = divmod(total, parts)
    return share + (1 if k < extra else 0)


async def raw_lifecycle(client: Client, queue: str, plan: RawPlan) -> str:
    """Start with Update-with-Start (as placing does), send the other messages, await the end."""
    workflow_id = f"raw-{uuid.uuid4().hex}"
    start = WithStartWorkflowOperation(
        RawLifecycleWorkflow.run, plan, id=workflow_id, task_queue=queue,
        id_conflict_policy=USE_EXISTING,
    )  # fmt: skip
    await client.execute_update_with_start_workflow(
        RawLifecycleWorkflow.touch, start_workflow_operation=start
    )
    handle = client.get_workflow_handle(workflow_id)
    for _ in range(plan.updates - 1):
        await handle.execute_update(RawLifecycleWorkflow.touch)
    for _ in range(plan.signals):
        await handle.signal(RawLifecycleWorkflow.poke)
    await handle.result()
    return workflow_id
