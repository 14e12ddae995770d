"""Committed histories of the order and shipment workflows in their key paths (happy path with a
split shipment, payment timeout, late payment), replayed with the current code: a change that
would break runs in flight fails here (DESIGN §6, STYLE: Determinism)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.order import OrderWorkflow
from workflows.shipment import ShipmentWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
SCENARIOS = {"split_shipment", "payment_timeout", "late_payment"}


def _read(path: Path) -> str:
    return path.read_text()


def test_every_key_path_has_committed_histories() -> None:
    recorded = {path.name.split("--")[0] for path in HISTORIES}
    assert recorded == SCENARIOS
    kinds = {path.name.split("--")[1].split("-")[0] for path in HISTORIES}
    assert kinds == {"order", "shipment"}


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays_with_the_current_code(path: Path) -> None:
    workflow_id = path.stem.split("--", 1)[1]
    history = WorkflowHistory.from_json(workflow_id, _read(path))
    replayer = Replayer(
        workflows=[OrderWorkflow, ShipmentWorkflow], data_converter=pydantic_data_converter
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
