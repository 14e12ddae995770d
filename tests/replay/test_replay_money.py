"""Committed histories of the money paths of issue 12 (recorded by tests/replay/record_money.py):
a cancel answered before its refund, the refund refused and retried by finance; a payment
callback the provider does not vouch for; a payment after the order's process ended, refunded by
LatePaymentRefundWorkflow after a refusal and a retry. Replayed with the current code, as runs in
flight would be (DESIGN §6, STYLE: Determinism)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.late_payment import LatePaymentRefundWorkflow
from workflows.order import OrderWorkflow
from workflows.shipment import ShipmentWorkflow

HISTORIES = sorted((Path(__file__).parent / "money").glob("*/*.json"))
SCENARIOS = {"refused_cancel_refund", "unvouched_payment", "late_after_end"}


def _read(path: Path) -> str:
    return path.read_text()


def test_every_money_path_has_committed_histories() -> None:
    assert {path.name.split("--")[0] for path in HISTORIES} == SCENARIOS
    kinds = {path.name.split("--")[1].split("-")[0] for path in HISTORIES}
    assert kinds == {"order", "shipment", "late"}


@pytest.mark.parametrize("path", HISTORIES, ids=[f"{p.parent.name}/{p.stem}" for p in HISTORIES])
async def test_money_history_replays_with_the_current_code(path: Path) -> None:
    workflow_id = path.stem.split("--", 1)[1]
    history = WorkflowHistory.from_json(workflow_id, _read(path))
    replayer = Replayer(
        workflows=[OrderWorkflow, ShipmentWorkflow, LatePaymentRefundWorkflow],
        data_converter=pydantic_data_converter,
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
