"""A `Scenario` that drives an order the way the API, the pack station, staff and the carrier do,
over the fake activities of `fakes`; and `rejection`, to read why an update was refused.

Waits are event-driven: a test waits for the fake activity call that proves a step happened
(never a sleep); timers are passed with the time-skipping server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import pytest
from temporalio.api.testservice.v1 import LockTimeSkippingRequest, UnlockTimeSkippingRequest
from temporalio.client import WithStartWorkflowOperation, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.contracts import order as o
from models.contracts import shipment as sh
from models.contracts import waves as w
from models.contracts.pricing import CartLine
from tests.support.temporal import time_skipping_server
from tests.workflows.fakes import (
    DEVICE,
    PAYABLE_FEN,
    T0,
    WAIT_S,
    FakeBackOffice,
    new_order_no,
    snapshot,
)
from workflows.after_sale import AfterSaleWorkflow
from workflows.order import OrderWorkflow
from workflows.shipment import ShipmentWorkflow


async def rejection(update: Awaitable[object]) -> ApplicationError:
    """The validator's error for an update that must be rejected."""
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await update
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


class Scenario:
    """One order on its own task queue, placed as `POST /v1/orders` places it."""

    def __init__(self, env: WorkflowEnvironment, task_queue: str, fake: FakeBackOffice) -> None:
        self.env = env
        self.task_queue = task_queue
        self.fake = fake
        self.order_no = fake.order_no
        self.handle: WorkflowHandle[OrderWorkflow, o.OrderView] = (
            env.client.get_workflow_handle_for(OrderWorkflow.run, f"order-{self.order_no}")
        )
        self._payments = 0

    async def place(self, order_input: o.OrderInput | None = None) -> o.PlacedOrder:
        request = o.PlaceOrderRequest(
            order_no=self.order_no,
            storefront="shop",
            api_key_id=1,
            customer_id=42,
            lines=[CartLine(sku_id=101, quantity=2), CartLine(sku_id=102, quantity=1)],
            coupon_code="SAVE10",
            address=o.ShippingAddress(
                name="张三", phone="13800000000", region_code="310115", detail="世纪大道 1 号"
            ),
        )
        start = WithStartWorkflowOperation(
            OrderWorkflow.run,
            order_input or o.OrderInput(order_no=self.order_no),
            id=f"order-{self.order_no}",
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        placed = await self.env.client.execute_update_with_start_workflow(
            OrderWorkflow.place,
            request,
            start_workflow_operation=start,
            id=f"place-{self.order_no}",
        )
        self.handle = await start.workflow_handle()
        return placed

    async def pay(
        self, amount_fen: int = PAYABLE_FEN, transaction_id: str = ""
    ) -> o.PaymentReceived:
        """The provider's verified webhook; returns once the order recorded the payment."""
        self._payments += 1
        payment = o.PaymentReceived(
            provider="sandbox",
            transaction_id=transaction_id or f"TX{self.order_no[2:]}-{self._payments}",
            payment_id=f"PAY-{self.order_no}",
            amount_fen=amount_fen,
            currency="CNY",
            paid_at=T0,
        )
        await self.handle.signal(OrderWorkflow.payment_received, payment)
        await self.fake.wait_for(
            "record_payment", lambda r: r.payment.transaction_id == payment.transaction_id
        )
        return payment

    def shipment(self, package_no: str) -> WorkflowHandle[ShipmentWorkflow, sh.ShipmentResult]:
        return self.env.client.get_workflow_handle_for(
            ShipmentWorkflow.run, f"shipment-{package_no}"
        )

    async def picked(
        self, package_no: str, missing: list[o.PackageLine] | None = None, missing_g: int = 0
    ) -> None:
        """Its wave picked the package (all of it, or all but `missing`, weighing `missing_g`)."""
        await self.fake.wait_step(package_no, "released")
        plan = self.fake.plan(package_no)
        gone = {m.line_no: m.quantity for m in missing or []}
        lines = [
            line.model_copy(update={"quantity": line.quantity - gone.get(line.line_no, 0)})
            for line in plan.lines
            if line.quantity > gone.get(line.line_no, 0)
        ]
        await self.shipment(package_no).signal(
            ShipmentWorkflow.picked,
            w.PackagePicked(
                package_no=package_no,
                wave_no="WV-TEST",
                picked=lines,
                missing=missing or [],
                missing_weight_g=missing_g,
            ),
        )

    async def pack(self, package_no: str, weight_g: int | None = None) -> sh.ShipmentView:
        """The pack station weighs the package (by default at exactly the expected weight),
        once its wave has picked it."""
        await self.picked(package_no)
        await self.fake.wait_step(package_no, "picked")
        plan = self.fake.plan(package_no)
        return await self.shipment(package_no).execute_update(
            ShipmentWorkflow.pack,
            sh.PackRequest(actor=DEVICE, measured_weight_g=weight_g or plan.weight_g),
        )

    async def hand_over(self, package_no: str) -> None:
        await self.fake.wait_step(package_no, "waybill_created")
        await self.shipment(package_no).execute_update(
            ShipmentWorkflow.hand_over, sh.HandoverRequest(actor=DEVICE)
        )
        await self.fake.wait_step(package_no, "shipped")

    async def push(self, package_no: str, *codes: str) -> sh.ShipmentStep:
        """A carrier push with the full event list; returns the recorded tracking step."""
        before = self.fake.steps(package_no).count("tracking")
        await self.shipment(package_no).signal(
            ShipmentWorkflow.tracking, snapshot(f"SF{package_no[2:]}", *codes)
        )
        return await self.fake.wait_step(package_no, "tracking", before + 1)

    async def skip(self, duration: timedelta) -> None:
        """Let `duration` of workflow time pass on the time-skipping server."""
        await self.env.sleep(duration)

    async def result(self) -> o.OrderView:
        """The order's final view, skipping every timer on the way.

        The SDK unlocks time skipping around `result()` only for handles made by
        `start_workflow`; Update-with-Start gives a plain handle, so unlock it here as the SDK
        would (the test server itself handles Update-with-Start fine)."""
        service = self.env.client.test_service
        await service.unlock_time_skipping(UnlockTimeSkippingRequest())
        try:
            async with asyncio.timeout(WAIT_S):
                return await self.handle.result()
        finally:
            await service.lock_time_skipping(LockTimeSkippingRequest())

    async def view(self) -> o.OrderView:
        return await self.handle.query(OrderWorkflow.view)

    def steps(self, view: o.OrderView) -> list[str]:
        return [entry.step for entry in view.timeline]

    def at(self, view: o.OrderView, step: str) -> datetime:
        return next(entry.at for entry in view.timeline if entry.step == step)


@asynccontextmanager
async def running(task_queue: str, *, packages: int = 1) -> AsyncIterator[Scenario]:
    """A time-skipping server of the test's own, a worker with the real workflows and the fakes.

    Not the session's `time_skipping_env`: its clock is global and locked while any workflow
    task or activity is outstanding. A test ending mid-process (most do: an order waiting for a
    pack, its shipments' last tasks in flight) leaves such work behind when its worker stops,
    and the next test's skips hang until that work times out; terminating does not help (the
    test server applies no parent close policy). A fresh server costs about 0.1 s."""
    env = await time_skipping_server()
    fake = FakeBackOffice(new_order_no(), packages=packages)
    fake.clock = env.get_current_time
    try:
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[OrderWorkflow, ShipmentWorkflow, AfterSaleWorkflow],
            activities=fake.activities(),
        ):
            yield Scenario(env, task_queue, fake)
    finally:
        await env.shutdown()
