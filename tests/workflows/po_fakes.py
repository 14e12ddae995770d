"""Fake purchasing activities under the real names, recording every call, and `PoScenario`: one
purchase order on a time-skipping server of its own, driven the way buyers, approvers and the
warehouse's receiving devices drive it over the API.

Waits are event-driven: a test waits for the fake activity call that proves a step happened
(never a sleep); timers are passed with the time-skipping server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.contracts.order import Actor
from models.contracts.purchasing import (
    CloseRequest,
    Decision,
    InTransitRequest,
    PoPolicy,
    PoStep,
    PoTimings,
    PoView,
    PurchaseOrderInput,
    ReceiptBooking,
    ReceiptResult,
    ReceiveGoodsRequest,
    ReceiveRequest,
    SendPo,
    Staff,
)
from models.domain.purchasing import PoLine, Receipt, ReceiptLine
from tests.support.temporal import time_skipping_server
from tests.workflows.fakes import WAIT_S, Call
from workflows.purchase_order import PurchaseOrderWorkflow

DEVICE = Actor(kind="device", name="rf-gun-1")


def staff(user_id: int, *roles: str) -> Staff:
    return Staff(
        actor=Actor(kind="user", name=f"user-{user_id}", role=",".join(roles)),
        user_id=user_id,
        roles=frozenset(roles),
    )


BUYER = staff(1, "buyer")
MANAGER = staff(2, "purchasing_manager")
FINANCE = staff(3, "finance")


def po_lines(*warehouses: int) -> list[PoLine]:
    """Line 1: 100 × 10.00 of SKU 201; line 2: 40 × 5.00 of SKU 202 (1 200.00 in all), each
    for its warehouse in `warehouses` (both for warehouse 1 by default)."""
    first, second = warehouses or (1, 1)
    return [
        PoLine(line_no=1, sku_id=201, warehouse_id=first, quantity=100, unit_price_fen=1_000),
        PoLine(line_no=2, sku_id=202, warehouse_id=second, quantity=40, unit_price_fen=500),
    ]


def new_po_input(
    *,
    lines: list[PoLine] | None = None,
    policy: PoPolicy | None = None,
    timings: PoTimings | None = None,
) -> PurchaseOrderInput:
    return PurchaseOrderInput(
        po_no=f"PO{uuid.uuid4().int % 10**14:014d}",
        supplier_id=9,
        created_by=BUYER,
        lines=lines or po_lines(),
        timings=timings or PoTimings(),  # approval SLA 24 h; auto-close 14 days after a receipt
        policy=policy or PoPolicy(),  # one approver below 50 000.00; tolerance 5 %
    )


class FakePurchasing:
    """The three PurchasingActivities, recording each call stamped with the server's time (a
    local activity's scheduled time is the worker's wall clock, not the skipped one)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.clock: Callable[[], Awaitable[datetime]] | None = None
        self._changed = asyncio.Condition()
        self._holds: list[tuple[str, Callable[[Any], bool], asyncio.Event]] = []

    def of(self, name: str, match: Callable[[Any], bool] = lambda _: True) -> list[Any]:
        return [call.arg for call in self.calls if call.name == name and match(call.arg)]

    def steps(self) -> list[str]:
        """The steps in the workflow's own order (their `seq`, as the projection keeps them):
        two step activities may run side by side and reach the fake in either order."""
        return [step.step for step in sorted(self.of("record_po_step"), key=lambda s: s.seq)]

    def step_at(self, step: str, *, last: bool = False) -> datetime:
        """The server time `step` was recorded (its first time, or its last)."""
        times = [c.at for c in self.calls if c.name == "record_po_step" and c.arg.step == step]
        return times[-1] if last else times[0]

    def releases(self) -> list[InTransitRequest]:
        return self.of("move_po_in_transit", lambda r: not r.raise_)

    async def wait_for(
        self, name: str, match: Callable[[Any], bool] = lambda _: True, count: int = 1
    ) -> Any:
        """The `count`-th call of `name` matching `match`, once it has happened."""
        async with asyncio.timeout(WAIT_S), self._changed:
            await self._changed.wait_for(lambda: len(self.of(name, match)) >= count)
        return self.of(name, match)[count - 1]

    async def wait_step(self, step: str) -> PoStep:
        found: PoStep = await self.wait_for("record_po_step", lambda s: s.step == step)
        return found

    def hold(self, name: str, match: Callable[[Any], bool]) -> asyncio.Event:
        """Make matching calls of `name` wait (after being recorded) until the event is set."""
        gate = asyncio.Event()
        self._holds.append((name, match, gate))
        return gate

    async def _record(self, name: str, arg: Any) -> None:
        at = await self.clock() if self.clock else activity.info().current_attempt_scheduled_time
        self.calls.append(Call(name, arg, at))
        async with self._changed:
            self._changed.notify_all()
        for held, match, gate in self._holds:
            if held == name and match(arg):
                await gate.wait()

    def activities(self) -> list[Callable[..., Any]]:
        return [
            self.record_po_step,
            self.move_po_in_transit,
            self.receive_goods,
            self.receive_and_record,
            self.send_to_supplier,
        ]

    @activity.defn(name="send_to_supplier")
    async def send_to_supplier(self, request: SendPo) -> str:
        await self._record("send_to_supplier", request)
        return f"SUP-{request.po_no}"

    @activity.defn(name="record_po_step")
    async def record_po_step(self, step: PoStep) -> None:
        await self._record("record_po_step", step)

    @activity.defn(name="move_po_in_transit")
    async def move_po_in_transit(self, request: InTransitRequest) -> None:
        await self._record("move_po_in_transit", request)

    @activity.defn(name="receive_goods")
    async def receive_goods(self, request: ReceiveGoodsRequest) -> None:
        await self._record("receive_goods", request)

    @activity.defn(name="receive_and_record")
    async def receive_and_record(self, booking: ReceiptBooking) -> None:
        """What the real one does in one transaction, recorded as the two calls it replaces."""
        await self._record("receive_goods", booking.goods)
        await self._record("record_po_step", booking.step)


class PoScenario:
    """One purchase order, started as `POST /v1/purchase-orders` starts it."""

    def __init__(
        self, env: WorkflowEnvironment, fake: FakePurchasing, po_input: PurchaseOrderInput
    ) -> None:
        self.env = env
        self.fake = fake
        self.input = po_input
        self.handle: WorkflowHandle[PurchaseOrderWorkflow, PoView]

    async def start(self, task_queue: str, task_timeout: timedelta | None) -> None:
        self.handle = await self.env.client.start_workflow(
            PurchaseOrderWorkflow.run,
            self.input,
            id=f"po-{self.input.po_no}",
            task_queue=task_queue,
            task_timeout=task_timeout,
        )
        await self.fake.wait_step("created")

    async def submit(self, by: Staff = BUYER) -> PoView:
        return await self.handle.execute_update(PurchaseOrderWorkflow.submit, by)

    async def approve(self, by: Staff, role: str) -> PoView:
        return await self.handle.execute_update(
            PurchaseOrderWorkflow.approve, Decision(by=by, role=role)
        )

    async def reject(self, by: Staff, reason: str) -> PoView:
        return await self.handle.execute_update(
            PurchaseOrderWorkflow.reject, Decision(by=by, reason=reason)
        )

    async def cancel(self, by: Staff, reason: str) -> PoView:
        return await self.handle.execute_update(
            PurchaseOrderWorkflow.cancel, Decision(by=by, reason=reason)
        )

    async def close_short(self, by: Staff, reason: str) -> PoView:
        return await self.handle.execute_update(
            PurchaseOrderWorkflow.close_short, CloseRequest(by=by, reason=reason)
        )

    async def sent(self) -> None:
        """Submitted by the buyer, approved by the manager, and sent to the supplier."""
        await self.submit()
        await self.approve(MANAGER, "purchasing_manager")
        await self.fake.wait_step("sent_to_supplier")

    def line(self, line_no: int, received: int, rejected: int = 0) -> ReceiptLine:
        """A receipt line for PO line `line_no`: `received` units, `rejected` of them by QC."""
        sku = next(line.sku_id for line in self.input.lines if line.line_no == line_no)
        return ReceiptLine(
            line_no=line_no,
            sku_id=sku,
            received=received,
            accepted=received - rejected,
            rejected=rejected,
        )

    def receive_request(self, key: str, *lines: ReceiptLine, warehouse_id: int) -> ReceiveRequest:
        return ReceiveRequest(
            receipt_key=key,
            warehouse_id=warehouse_id,
            location_id=10 * warehouse_id,
            receipt=Receipt(lines=lines),
            actor=DEVICE,
        )

    async def receive(self, key: str, *lines: ReceiptLine, warehouse_id: int = 1) -> ReceiptResult:
        return await self.handle.execute_update(
            PurchaseOrderWorkflow.receive,
            self.receive_request(key, *lines, warehouse_id=warehouse_id),
        )

    async def skip(self, duration: timedelta) -> None:
        """Let `duration` of workflow time pass on the time-skipping server."""
        await self.env.sleep(duration)

    async def view(self) -> PoView:
        return await self.handle.query(PurchaseOrderWorkflow.view)

    async def result(self) -> PoView:
        """The final view (the SDK unlocks time skipping while it waits)."""
        async with asyncio.timeout(WAIT_S):
            return await self.handle.result()


@asynccontextmanager
async def running(
    task_queue: str,
    po_input: PurchaseOrderInput | None = None,
    *,
    task_timeout: timedelta | None = None,
) -> AsyncIterator[PoScenario]:
    """A time-skipping server of the test's own (see tests.workflows.scenario.running for why),
    a worker with PurchaseOrderWorkflow and the fakes, and the PO started in draft."""
    env = await time_skipping_server()
    fake = FakePurchasing()
    fake.clock = env.get_current_time
    try:
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[PurchaseOrderWorkflow],
            activities=fake.activities(),
        ):
            po = PoScenario(env, fake, po_input or new_po_input())
            await po.start(task_queue, task_timeout)
            yield po
    finally:
        await env.shutdown()
