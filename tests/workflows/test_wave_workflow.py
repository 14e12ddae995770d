"""WaveWorkflow on the time-skipping server with fake wave activities: the SLA escalates a wave
not picked by cutoff − margin, milestones wake it, each package is told once that it is picked
(also across continue-as-new), and the planner starts one wave per released wave."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.contracts import waves as w
from models.contracts.order import PackageLine
from tests.support.temporal import time_skipping_server
from tests.workflows.fakes import WAIT_S
from workflows.waves import WavePlannerWorkflow, WaveWorkflow

RULES = w.WaveRules(sla_margin=timedelta(minutes=30))


@workflow.defn(name="ShipmentWorkflow")
class Package:
    """Stands in for a shipment: counts what its wave tells it."""

    def __init__(self) -> None:
        self.told: list[w.PackagePicked] = []

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: False)
        return 0

    @workflow.signal
    def picked(self, picked: w.PackagePicked) -> None:
        self.told.append(picked)

    @workflow.query
    def times_told(self) -> int:
        return len(self.told)


@dataclass
class FakeWaves:
    ready: list[str] = field(default_factory=list)  # packages picked so far
    open_tasks: int = 2
    open_packages: int = 2
    calls: list[tuple[str, Any]] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def _record(self, name: str, arg: Any) -> None:
        self.calls.append((name, arg))
        async with self.changed:
            self.changed.notify_all()

    async def wait_for(self, name: str, count: int = 1) -> list[Any]:
        async with asyncio.timeout(WAIT_S), self.changed:
            await self.changed.wait_for(lambda: len(self.of(name)) >= count)
        return self.of(name)

    def of(self, name: str) -> list[Any]:
        return [arg for called, arg in self.calls if called == name]

    @activity.defn(name="plan_waves")
    async def plan_waves(self, request: w.PlanRequest) -> w.PlanResult:
        await self._record("plan_waves", request)
        return w.PlanResult(
            waves=[
                w.PlannedWaveRef(
                    wave_no=f"WV-{request.plan_key[-6:]}-{n}",
                    warehouse_id=request.warehouse_id,
                    cutoff_at=request.now + timedelta(hours=5),
                    orders=1,
                )
                for n in (1, 2)
            ],
            held=3,
            flagged=0,
        )

    @activity.defn(name="build_wave")
    async def build_wave(self, request: w.BuildRequest) -> int:
        await self._record("build_wave", request)
        return 2

    @activity.defn(name="settle_wave")
    async def settle_wave(self, wave_no: str) -> w.WaveProgress:
        await self._record("settle_wave", wave_no)
        line = PackageLine(line_no=1, sku_id=1, quantity=1)
        return w.WaveProgress(
            ready=[
                w.PackagePicked(package_no=p, wave_no=wave_no, picked=[line]) for p in self.ready
            ],
            open_tasks=self.open_tasks,
            open_packages=self.open_packages,
        )

    @activity.defn(name="escalate_wave")
    async def escalate_wave(self, request: w.Escalation) -> None:
        await self._record("escalate_wave", request)

    @activity.defn(name="finish_wave")
    async def finish_wave(self, request: w.Finish) -> None:
        await self._record("finish_wave", request)


@asynccontextmanager
async def waves() -> AsyncIterator[tuple[WorkflowEnvironment, FakeWaves, str]]:
    env = await time_skipping_server()
    fake = FakeWaves()
    queue = f"waves-{uuid.uuid4().hex[:8]}"
    try:
        async with Worker(
            env.client,
            task_queue=queue,
            workflows=[WaveWorkflow, WavePlannerWorkflow, Package],
            activities=[
                fake.plan_waves,
                fake.build_wave,
                fake.settle_wave,
                fake.escalate_wave,
                fake.finish_wave,
            ],
        ):
            yield env, fake, queue
    finally:
        await env.shutdown()


async def start_wave(
    env: WorkflowEnvironment, queue: str, cutoff_at: datetime, **extra: Any
) -> WorkflowHandle[WaveWorkflow, str]:
    return await env.client.start_workflow(
        WaveWorkflow.run,
        w.WaveInput(wave_no="WV1", warehouse_id=1, cutoff_at=cutoff_at, rules=RULES, **extra),
        id=f"wave-WV1-{uuid.uuid4().hex[:6]}",
        task_queue=queue,
    )


async def test_a_wave_not_picked_by_cutoff_minus_margin_is_escalated_once_then_finishes() -> None:
    async with waves() as (env, fake, queue):
        start = await env.get_current_time()
        handle = await start_wave(env, queue, start + timedelta(hours=2))
        await fake.wait_for("settle_wave")
        assert fake.of("build_wave")[0].wave_no == "WV1"
        await env.sleep(timedelta(minutes=80))
        assert fake.of("escalate_wave") == []  # 10 minutes before the SLA: not yet
        await env.sleep(timedelta(minutes=15))
        [escalation] = await fake.wait_for("escalate_wave")
        assert escalation.wave_no == "WV1"
        assert "2 tasks and 2 packages open" in escalation.reason
        at = await env.get_current_time()
        assert at - start >= timedelta(minutes=90)
        await env.sleep(timedelta(hours=3))  # refreshes every minute, escalates once
        assert len(fake.of("escalate_wave")) == 1
        fake.open_tasks = fake.open_packages = 0
        await handle.signal(WaveWorkflow.task_finished, "WV1-001")
        assert await handle.result() == "done"
        assert [f.wave_no for f in fake.of("finish_wave")] == ["WV1"]


async def test_a_task_finished_without_its_signal_is_found_within_a_minute() -> None:
    """The API tells the wave after the scan commits: killed in between, the signal is lost,
    and the wave finds the finished task at its next refresh, a minute later at most."""
    async with waves() as (env, fake, queue):
        start = await env.get_current_time()
        handle = await start_wave(env, queue, start + timedelta(hours=2))
        await fake.wait_for("settle_wave")
        fake.open_tasks = fake.open_packages = 0  # picked; no task_finished signal comes
        assert await handle.result() == "done"
        [finish] = fake.of("finish_wave")
        assert finish.wave_no == "WV1"
        assert finish.at - start <= timedelta(minutes=1, seconds=5)  # the wave's own clock


async def test_each_package_is_told_once_even_across_continue_as_new() -> None:
    async with waves() as (env, fake, queue):
        packages = {}
        for number in ("PK1", "PK2"):
            packages[number] = await env.client.start_workflow(
                Package.run, id=f"shipment-{number}", task_queue=queue
            )
        start = await env.get_current_time()
        handle = await start_wave(env, queue, start + timedelta(days=1), history_limit=40)
        await fake.wait_for("settle_wave")
        fake.ready = ["PK1"]
        fake.open_packages = 1
        for n in range(12):  # each milestone settles again; the history grows past 40 events
            await handle.signal(WaveWorkflow.task_finished, f"WV1-{n:03d}")
            await fake.wait_for("settle_wave", count=n + 2)
        fake.ready = ["PK1", "PK2"]
        fake.open_tasks = fake.open_packages = 0
        await handle.signal(WaveWorkflow.package_sorted, "PK2")
        assert await handle.result() == "done"
        latest = env.client.get_workflow_handle(handle.id)
        assert (await latest.describe()).run_id != handle.run_id  # it did continue as new
        events = [e async for e in latest.fetch_history_events()]
        assert len(events) < 60  # the last run's history stays small
        assert len(fake.of("build_wave")) == 1  # built once, not again after continue-as-new
        for number, package in packages.items():
            assert await package.query(Package.times_told) == 1, number


async def test_the_planner_starts_one_wave_per_released_wave_and_answers_their_numbers() -> None:
    async with waves() as (env, fake, queue):
        fake.open_tasks = fake.open_packages = 0
        made = await env.client.execute_workflow(
            WavePlannerWorkflow.run,
            w.PlannerInput(warehouse_id=3, rules=RULES, release_all=True),
            id=f"plan-waves-SH01-{uuid.uuid4().hex[:6]}",
            task_queue=queue,
        )
        [request] = fake.of("plan_waves")
        assert (request.warehouse_id, request.release_all) == (3, True)
        assert len(made) == 2 and all(n.startswith("WV-") for n in made)
        for number in made:
            assert await env.client.get_workflow_handle(f"wave-{number}").result() == "done"
