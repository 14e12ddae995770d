"""Wave picking workflows (DESIGN §6.4).

- `WavePlannerWorkflow` (`plan-waves-<warehouse>-…`), started by a Schedule per warehouse or by
  staff ("plan now"): plans the waiting outbound orders into waves and starts one WaveWorkflow
  per released wave, left running on its own.
- `WaveWorkflow` (`wave-WV…`): builds the wave (allocation, routed pick tasks, put-wall slots),
  then supervises it. Scans go to PostgreSQL; only milestones are signalled here (a task
  finished, a slot complete, a package cancelled), and a slow refresh catches a milestone whose
  signal was lost. Each package is told once that it is picked. Not finished by cutoff − SLA
  margin → escalated. The history stays small: a long wave continues as new.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.waves import WaveActivities
    from models.contracts import messages
    from models.contracts.waves import (
        BuildRequest,
        Escalation,
        Finish,
        PlannerInput,
        PlanRequest,
        PlanResult,
        WaveInput,
        WaveProgress,
        WaveRules,
    )
    from models.domain.transfers import is_transfer
    from workflows.common import RETRY, call, deprecate_patch, patched, signal_unless_gone
    from workflows.visibility import START_PATCH, at_start, show

# The wave reads the floor again at least this often: a milestone's signal is sent by the API
# after its scan commits, so an API killed in between (or Temporal unreachable then) loses it,
# and the wave found the finished task only at its next refresh (15 minutes, in a chaos run).
# A settle is one read; the timer's length is not part of the history's commands.
REFRESH = timedelta(minutes=1)
# plan_waves runs as a local activity (a PostgreSQL transaction like the other wave steps).
LOCAL_PLAN_PATCH = "plan-waves-locally"
# plan_waves builds the waves it releases in its own transaction: a wave starts built, with no
# build_wave activity of its own (that call only found the work done).
BUILT_PATCH = "waves-built-by-planner"


@workflow.defn
class WavePlannerWorkflow:
    @workflow.run
    async def run(self, request: PlannerInput) -> list[str]:
        show(status="planning", warehouse=request.warehouse_id)
        info = workflow.info()
        plan = PlanRequest(
            warehouse_id=request.warehouse_id,
            plan_key=f"{info.workflow_id}:{info.run_id}"[:120],
            now=workflow.now(),
            rules=request.rules,
            release_all=request.release_all,
        )
        result = await self._plan(plan)
        await self._start_waves(result, request.rules)
        show(status="planned")
        return [wave.wave_no for wave in result.waves]

    async def _plan(self, plan: PlanRequest) -> PlanResult:
        deprecate_patch(LOCAL_PLAN_PATCH)  # retired: a database step, in the worker
        return await workflow.execute_local_activity_method(
            WaveActivities.plan_waves,
            plan,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=RETRY,
        )

    async def _start_waves(self, result: PlanResult, rules: WaveRules) -> None:
        """One WaveWorkflow per released wave, left running on its own."""
        deprecate_patch(BUILT_PATCH)  # retired: waves come built by the planner
        given = patched(START_PATCH)
        starts = [
            workflow.start_child_workflow(
                WaveWorkflow.run,
                WaveInput(
                    wave_no=wave.wave_no,
                    warehouse_id=wave.warehouse_id,
                    cutoff_at=wave.cutoff_at,
                    rules=rules,
                    built=True,
                ),
                id=f"wave-{wave.wave_no}",
                parent_close_policy=ParentClosePolicy.ABANDON,  # the wave lives on
                search_attributes=(
                    at_start(  # as WaveWorkflow's first `show`
                        business_no=wave.wave_no,
                        status="picking",
                        warehouse=wave.warehouse_id,
                        escalated=False,
                    )
                    if given
                    else None
                ),
            )
            for wave in result.waves
        ]
        await asyncio.gather(*starts)  # all in one workflow task


@dataclass
class WaveState:
    """A wave's state: what its run and its signal handlers share; `told` and `escalated` are
    carried over when it continues as new."""

    told: set[str]  # packages told they are picked
    escalated: bool  # past cutoff − SLA margin, escalated once
    milestones: int = 0  # signalled from the floor: a task finished, a slot, a cancel
    seen: int = 0  # milestones already settled


@workflow.defn
class WaveWorkflow:
    @workflow.init
    def __init__(self, input: WaveInput) -> None:
        self._state = WaveState(told=set(input.told), escalated=input.escalated)

    @workflow.run
    async def run(self, input: WaveInput) -> str:
        state = self._state
        rules: WaveRules = input.rules
        show(
            business_no=input.wave_no,
            status="picking",
            warehouse=input.warehouse_id,
            escalated=input.escalated,
        )
        if not input.built:
            await call(
                WaveActivities.build_wave,
                BuildRequest(
                    wave_no=input.wave_no,
                    now=workflow.now(),
                    max_stops=rules.task_max_stops,
                    max_units=rules.task_max_units,
                ),
                start_to_close=timedelta(minutes=2),
            )
        due = input.cutoff_at - rules.sla_margin
        while True:
            state.seen = state.milestones
            progress = await call(WaveActivities.settle_wave, input.wave_no)
            await self._tell(progress)
            if progress.finished:
                await call(
                    WaveActivities.finish_wave, Finish(wave_no=input.wave_no, at=workflow.now())
                )
                show(status="done")
                return "done"
            if not state.escalated and workflow.now() >= due:
                await call(
                    WaveActivities.escalate_wave,
                    Escalation(
                        wave_no=input.wave_no,
                        reason=f"not picked by {due.isoformat()} (cutoff "
                        f"{input.cutoff_at.isoformat()}): {progress.open_tasks} tasks and "
                        f"{progress.open_packages} packages open",
                    ),
                )
                state.escalated = True
                show(escalated=True)
            wait = REFRESH if state.escalated else min(REFRESH, due - workflow.now())
            with suppress(TimeoutError):
                await workflow.wait_condition(lambda: state.milestones > state.seen, timeout=wait)
            if workflow.info().get_current_history_length() > input.history_limit:
                workflow.continue_as_new(
                    input.model_copy(
                        update={
                            "built": True,
                            "escalated": state.escalated,
                            "told": sorted(state.told),
                        }
                    )
                )

    async def _tell(self, progress: WaveProgress) -> None:
        for picked in progress.ready:
            if picked.package_no in self._state.told:
                continue
            # A transfer between warehouses (TR…) is picked like a package and told the same;
            # no package number starts so, so a package's signal is the command it always was.
            process = "transfer" if is_transfer(picked.package_no) else "shipment"
            outbound = workflow.get_external_workflow_handle(f"{process}-{picked.package_no}")
            # a package cancelled meanwhile has nothing left to hear
            await signal_unless_gone(outbound, messages.PICKED, picked)
            self._state.told.add(picked.package_no)

    @workflow.signal(name=messages.TASK_FINISHED)
    def task_finished(self, task_no: str) -> None:
        self._state.milestones += 1

    @workflow.signal(name=messages.PACKAGE_SORTED)
    def package_sorted(self, package_no: str) -> None:
        self._state.milestones += 1

    @workflow.signal(name=messages.PACKAGE_CANCELLED)
    def package_cancelled(self, package_no: str) -> None:
        self._state.milestones += 1
