"""Signals between workflows go by the shared names of models/contracts/messages.py: every name
is a signal its receiver declares, no sender spells a name as a literal, and the one expected
failure to signal (the receiver has finished) is told apart from every other."""

from __future__ import annotations

import ast
import uuid
from pathlib import Path

from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker

from models.contracts import messages
from workflows.after_sale import AfterSaleWorkflow
from workflows.common import signal_unless_gone
from workflows.flash_sale import FlashSaleWorkflow
from workflows.group_buy import GroupBuyWorkflow
from workflows.order import OrderWorkflow
from workflows.shipment import ShipmentWorkflow
from workflows.waves import WaveWorkflow

ROOT = Path(__file__).resolve().parents[2]

RECEIVERS: dict[str, type] = {
    messages.EXCHANGE_REQUESTED: OrderWorkflow,
    messages.AFTER_SALE_SETTLED: OrderWorkflow,
    messages.UNITS_WITHDRAWN: OrderWorkflow,
    messages.PACKAGE_SHORT: OrderWorkflow,
    messages.PACKAGE_PROGRESS: OrderWorkflow,
    messages.REPLACEMENT_READY: AfterSaleWorkflow,
    messages.PICKED: ShipmentWorkflow,
    messages.PACKAGE_CANCELLED: WaveWorkflow,
    messages.PACKAGE_SORTED: WaveWorkflow,
    messages.TASK_FINISHED: WaveWorkflow,
    messages.GROUP_MEMBER_PAID: GroupBuyWorkflow,
    messages.GROUP_MEMBER_LEFT: GroupBuyWorkflow,
    messages.GROUP_DECIDED: OrderWorkflow,
    messages.FLASH_WINDOW_ENDED: FlashSaleWorkflow,
}


def _signal_names(cls: type) -> set[str]:
    names = set()
    for member in vars(cls).values():
        defn = workflow._SignalDefinition.from_fn(member) if callable(member) else None
        if defn is not None and defn.name is not None:
            names.add(defn.name)
    for base in cls.__mro__[1:]:
        if base is not object:
            names |= _signal_names(base)
    return names


def test_every_message_name_is_a_signal_of_its_receiver() -> None:
    declared = {
        value
        for key, value in vars(messages).items()
        if key.isupper() and key != "TARGET_GONE" and isinstance(value, str)
    }
    assert declared == set(RECEIVERS)
    for name, receiver in RECEIVERS.items():
        assert name in _signal_names(receiver), (name, receiver.__name__)


def test_no_sender_names_a_signal_with_a_literal() -> None:
    literal_sends = []
    for folder in ("workflows", "activities", "api", "services"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "signal"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                ):
                    literal_sends.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert literal_sends == []


@workflow.defn(sandboxed=False)
class Listener:
    def __init__(self) -> None:
        self.heard: list[str] = []

    @workflow.run
    async def run(self, stay: bool) -> list[str]:
        await workflow.wait_condition(lambda: not stay or bool(self.heard))
        return self.heard

    @workflow.signal(name=messages.PACKAGE_SORTED)
    def package_sorted(self, package_no: str) -> None:
        self.heard.append(package_no)


@workflow.defn(sandboxed=False)
class Teller:
    @workflow.run
    async def run(self, target: str) -> bool:
        handle = workflow.get_external_workflow_handle(target)
        return await signal_unless_gone(handle, messages.PACKAGE_SORTED, "PK1")


async def test_a_finished_receiver_is_expected_and_a_running_one_hears(dev_client: Client) -> None:
    queue, run = f"messages-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex[:8]
    async with Worker(dev_client, task_queue=queue, workflows=[Listener, Teller]):
        done = await dev_client.execute_workflow(
            Listener.run, False, id=f"done-{run}", task_queue=queue
        )
        assert done == []
        told_finished = await dev_client.execute_workflow(
            Teller.run, f"done-{run}", id=f"teller-a-{run}", task_queue=queue
        )
        assert told_finished is False

        waiting = await dev_client.start_workflow(
            Listener.run, True, id=f"waiting-{run}", task_queue=queue
        )
        told_running = await dev_client.execute_workflow(
            Teller.run, f"waiting-{run}", id=f"teller-b-{run}", task_queue=queue
        )
        assert told_running is True
        assert await waiting.result() == ["PK1"]
