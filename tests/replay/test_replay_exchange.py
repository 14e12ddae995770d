"""Committed histories of an order whose exchange ships a replacement (recorded by
tests/replay/record_exchange.py), before and after the `replacement-is-an-order-package` patch,
replayed with the current code: an order in flight with a replacement started the old way goes
on the old way, one started the new way the new way (DESIGN §6, STYLE: Determinism)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.order import OrderWorkflow
from workflows.order_after_sales import REPLACEMENT_PATCH

HISTORIES = sorted((Path(__file__).parent / "exchange").glob("*/*.json"))


def _read(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem.split("--", 1)[1], path.read_text())


def _patches(history: WorkflowHistory) -> set[str]:
    found: set[str] = set()
    for event in history.events:
        marker = event.marker_recorded_event_attributes
        if (
            event.HasField("marker_recorded_event_attributes")
            and marker.marker_name == "core_patch"
        ):
            for payloads in marker.details.values():
                found.update(json.loads(p.data)["id"] for p in payloads.payloads)
    return found


def test_both_sides_of_the_replacement_patch_are_committed() -> None:
    marked = {path.parent.name: REPLACEMENT_PATCH in _patches(_read(path)) for path in HISTORIES}
    assert marked == {"1-replacement-unlisted": False, "2-replacement-listed": True}


@pytest.mark.parametrize("path", HISTORIES, ids=[p.parent.name for p in HISTORIES])
async def test_exchange_history_replays_with_the_current_code(path: Path) -> None:
    history = _read(path)
    assert history.events[-1].HasField("workflow_execution_completed_event_attributes")
    replayer = Replayer(workflows=[OrderWorkflow], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
