"""What a two-package order costs the Temporal server, read from the newest generation's
`order_happy` histories (tests/replay/every/, recorded from real runs by record_every.py): each
workflow records one patch marker (workflows/common.py `patched`) and the order one more for
the patch that came after it, and the children a workflow
starts, like the order the API starts, come listed with the attributes their first `show` would
upsert (workflows/visibility.py `at_start`), so none of them upserts those again."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

from tests.replay.record_every import GENERATION, ROOT
from workflows.common import PATCHES_TAKEN
from workflows.order import DEADLINE_PATCH

HAPPY = sorted((ROOT / GENERATION).glob("order_happy--*.json"))
PATCH_MARKER = "core_patch"
E = EventType


def _history(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def _kind(history: WorkflowHistory) -> str:
    return history.events[0].workflow_execution_started_event_attributes.workflow_type.name


def _patches(history: WorkflowHistory) -> list[str]:
    return [
        json.loads(details.payloads[0].data)["id"]
        for event in history.events
        if event.event_type == E.EVENT_TYPE_MARKER_RECORDED
        and event.marker_recorded_event_attributes.marker_name == PATCH_MARKER
        for details in event.marker_recorded_event_attributes.details.values()
    ]


def _upserted(history: WorkflowHistory) -> list[set[str]]:
    return [
        set(
            event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
        )
        for event in history.events
        if event.event_type == E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
    ]


def _at_start(history: WorkflowHistory) -> set[str]:
    started = history.events[0].workflow_execution_started_event_attributes
    return set(started.search_attributes.indexed_fields)


def test_each_workflow_of_an_order_records_one_patch_marker() -> None:
    histories = [_history(path) for path in HAPPY]
    assert Counter(_kind(h) for h in histories) == {
        "OrderWorkflow": 1, "ShipmentWorkflow": 2, "WavePlannerWorkflow": 2, "WaveWorkflow": 2,
    }  # fmt: skip
    # The order also asks the one patch that came after the marker (its own marker).
    later = {"OrderWorkflow": [DEADLINE_PATCH]}
    assert {h.workflow_id: _patches(h) for h in histories} == {
        h.workflow_id: [PATCHES_TAKEN, *later.get(_kind(h), [])] for h in histories
    }
    # The one TemporalChangeVersion upsert each marker brings, and no other.
    changes = [u for h in histories for u in _upserted(h) if "TemporalChangeVersion" in u]
    assert len(changes) == len(histories) + sum(map(len, later.values()))


def test_the_order_and_the_workflows_it_brings_start_listed_and_upsert_only_changes() -> None:
    for history in (_history(path) for path in HAPPY):
        listed = _at_start(history)
        assert {"HoutaiStatus"} <= listed, history.workflow_id
        if _kind(history) != "WavePlannerWorkflow":  # a planner has no business number
            assert "HoutaiBusinessNo" in listed, history.workflow_id
        # what was given at the start is never upserted again unchanged: the business number
        # and the warehouse never change, so no upsert names them
        again = {"HoutaiBusinessNo", "HoutaiWarehouse"} & set().union(*_upserted(history))
        assert again == set(), history.workflow_id
