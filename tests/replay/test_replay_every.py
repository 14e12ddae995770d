"""Committed histories of every workflow class the worker runs, in their main paths (recorded by
tests/replay/record_every.py, which says how to record them again), replayed with the current
code: a change that would break runs in flight fails here (DESIGN §6, STYLE: Determinism).

A class in workers/worker.py WORKFLOWS with no history in the newest generation fails the suite:
a new workflow gets a scenario in record_every.py and its histories committed with it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Sequence
from functools import cache
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.replay.record_every import GENERATION, ROOT, SCENARIOS
from workers.worker import WORKFLOWS

HISTORIES = sorted(ROOT.glob("*/*.json"))
NEWEST = sorted(path for path in HISTORIES if path.parent.name == GENERATION)


def _read(path: Path) -> str:
    return path.read_text()


@cache
def workflow_type(path: Path) -> str:
    """The workflow type a history ran, from its first event (WorkflowExecutionStarted)."""
    first = json.loads(path.read_text())["events"][0]
    name: str = first["workflowExecutionStartedEventAttributes"]["workflowType"]["name"]
    return name


def type_name(cls: type) -> str:
    definition = workflow._Definition.must_from_class(cls)
    return str(definition.name)


def unrecorded(classes: Iterable[type], histories: Iterable[Path]) -> list[str]:
    """The workflow types of `classes` no history in `histories` ran, sorted."""
    ran = {workflow_type(path) for path in histories}
    return sorted({type_name(cls) for cls in classes} - ran)


def test_every_workflow_class_of_the_worker_has_a_history_in_the_newest_generation() -> None:
    assert NEWEST, f"no histories in {ROOT / GENERATION}: run python -m tests.replay.record_every"
    assert unrecorded(WORKFLOWS, NEWEST) == []


def test_every_scenario_of_the_recorder_is_committed() -> None:
    recorded = {path.name.split("--")[0] for path in NEWEST}
    assert sorted(set(SCENARIOS) - recorded) == []


@workflow.defn
class NeverRecordedWorkflow:
    @workflow.run
    async def run(self) -> None:
        return None


def test_a_class_without_history_is_named() -> None:
    """The coverage check can fail: a class nobody recorded, and a type whose histories are
    missing, are both named."""
    assert unrecorded([*WORKFLOWS, NeverRecordedWorkflow], NEWEST) == ["NeverRecordedWorkflow"]
    without = [path for path in NEWEST if workflow_type(path) != "WaveWorkflow"]
    assert unrecorded(WORKFLOWS, without) == ["WaveWorkflow"]


GENERATIONS = sorted({path.parent.name for path in HISTORIES})


async def _each(histories: Sequence[WorkflowHistory]) -> AsyncIterator[WorkflowHistory]:
    for history in histories:
        yield history


@pytest.mark.parametrize("generation", GENERATIONS)
async def test_every_history_replays_with_the_current_code(generation: str) -> None:
    """One replayer for the whole generation (a replay worker per file would take several
    times as long); a failure names each file that no longer replays, and why."""
    paths = [path for path in HISTORIES if path.parent.name == generation]
    histories = {}
    for path in paths:
        history = WorkflowHistory.from_json(path.stem.split("--", 1)[1], _read(path))
        histories[history.run_id] = (path.name, history)
    assert len(histories) == len(paths), "two files of one run"
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    replayed, failures = [], {}
    runs = [history for _, history in histories.values()]
    async with replayer.workflow_replay_iterator(_each(runs)) as results:
        async for result in results:
            name = histories[result.history.run_id][0]
            replayed.append(name)
            if result.replay_failure is not None:
                failures[name] = f"{workflow_type(paths[0].parent / name)}: {result.replay_failure}"
    assert failures == {}
    assert sorted(replayed) == sorted(path.name for path in paths)
