"""Committed histories of the order and shipment workflows (and, from generation 3, the wave
planner and waves they went through) in their key paths (happy path with a split shipment,
payment timeout, late payment), replayed with the current code: a change that would break runs
in flight fails here (DESIGN §6, STYLE: Determinism)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workers.worker import WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*/*.json"))
SCENARIOS = {"split_shipment", "payment_timeout", "late_payment"}
GENERATIONS = {path.parent.name for path in HISTORIES}


def _read(path: Path) -> str:
    return path.read_text()


@pytest.mark.parametrize("generation", sorted(GENERATIONS))
def test_every_key_path_has_committed_histories(generation: str) -> None:
    """Each generation (histories recorded before and after a patched change) covers them all."""
    mine = [path for path in HISTORIES if path.parent.name == generation]
    assert {path.name.split("--")[0] for path in mine} == SCENARIOS
    assert {path.name.split("--")[1].split("-")[0] for path in mine} >= {"order", "shipment"}


def test_every_generation_is_committed() -> None:
    assert {"1-regular-activities", "2-local-activities", "3-search-attributes"} == GENERATIONS


@pytest.mark.parametrize("path", HISTORIES, ids=[f"{p.parent.name}/{p.stem}" for p in HISTORIES])
async def test_history_replays_with_the_current_code(path: Path) -> None:
    workflow_id = path.stem.split("--", 1)[1]
    history = WorkflowHistory.from_json(workflow_id, _read(path))
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
