"""Group buy (DESIGN §6.8) on the time-skipping server with fakes: members' orders wait for
their group; at the group's time limit without enough paid members the group fails and every
member's order is cancelled, the paid ones refunded in full exactly once; at N paid members the
group completes and every order ships; a full or closed group and a second join by the same
customer are refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.api.testservice.v1 import LockTimeSkippingRequest, UnlockTimeSkippingRequest
from temporalio.client import WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.contracts import order as o
from models.contracts.group_buy import GroupInput, GroupLink, GroupRecord, GroupView, JoinRequest
from models.contracts.pricing import CartLine
from tests.support.temporal import time_skipping_server
from tests.workflows.fakes import CUSTOMER, PAYABLE_FEN, T0, WAIT_S, FakeBackOffice, new_order_no
from tests.workflows.scenario import rejection
from workflows.after_sale import AfterSaleWorkflow
from workflows.group_buy import GroupBuyWorkflow
from workflows.order import OrderWorkflow
from workflows.shipment import ShipmentWorkflow

LIMIT = timedelta(hours=2)
# Payment stays open past the group's limit: the group's failure, not the deadline, cancels.
TIMINGS = o.OrderTimings(payment_window=timedelta(hours=3))


class GroupFake(FakeBackOffice):
    """The order fakes, each order with a package of its own number, and the group projection."""

    @activity.defn(name="reserve_stock")
    async def reserve_stock(self, request: o.ReserveRequest) -> o.Reservation:
        await self._record("reserve_stock", request)
        lines = [o.PackageLine(line_no=n, sku_id=100 + n, quantity=3 - n) for n in (1, 2)]
        plan = o.PackagePlan(
            package_no=f"PK{request.order_no[2:]}01", warehouse_id=1, lines=lines, weight_g=1_400
        )
        return o.Reservation(packages=[plan])

    @activity.defn(name="record_group_buy")
    async def record_group_buy(self, record: GroupRecord) -> None:
        await self._record("record_group_buy", record)


class Group:
    def __init__(self, env: WorkflowEnvironment, task_queue: str, fake: GroupFake) -> None:
        self.env, self.task_queue, self.fake = env, task_queue, fake
        self.group_no = f"GB{new_order_no()[2:12]}"
        self.link = GroupLink(group_no=self.group_no, sku_id=101, price_fen=5_000)
        self.timings = TIMINGS
        self.handle = env.client.get_workflow_handle_for(
            GroupBuyWorkflow.run, f"group-{self.group_no}"
        )

    async def join(self, customer_id: int, size: int = 3) -> str:
        """As the API joins: the seat first (opening the group if need be), then the order."""
        order_no = new_order_no()
        start = WithStartWorkflowOperation(
            GroupBuyWorkflow.run,
            GroupInput(
                group_no=self.group_no,
                offer_id=1,
                sku_id=101,
                price_fen=5_000,
                size=size,
                time_limit=LIMIT.total_seconds(),
                opened_by=customer_id,
            ),
            id=f"group-{self.group_no}",
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        await self.env.client.execute_update_with_start_workflow(
            GroupBuyWorkflow.join,
            JoinRequest(customer_id=customer_id, order_no=order_no),
            start_workflow_operation=start,
        )
        await self.place(order_no, customer_id)
        return order_no

    async def place(self, order_no: str, customer_id: int) -> None:
        start = WithStartWorkflowOperation(
            OrderWorkflow.run,
            o.OrderInput(order_no=order_no, timings=self.timings),
            id=f"order-{order_no}",
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        await self.env.client.execute_update_with_start_workflow(
            OrderWorkflow.place,
            o.PlaceOrderRequest(
                order_no=order_no,
                storefront="shop",
                api_key_id=1,
                customer_id=customer_id,
                lines=[CartLine(sku_id=101, quantity=2), CartLine(sku_id=102, quantity=1)],
                address=o.ShippingAddress(
                    name="张三", phone="13800000000", region_code="310115", detail="世纪大道 1 号"
                ),
                group=self.link,
            ),
            start_workflow_operation=start,
        )

    def order(self, order_no: str) -> Any:
        return self.env.client.get_workflow_handle_for(OrderWorkflow.run, f"order-{order_no}")

    async def pay(self, order_no: str) -> None:
        payment = o.PaymentReceived(
            provider="sandbox",
            transaction_id=f"TX{order_no[2:]}",
            payment_id=f"PAY-{order_no}",
            amount_fen=PAYABLE_FEN,
            currency="CNY",
            paid_at=T0,
        )
        await self.order(order_no).signal(OrderWorkflow.payment_received, payment)
        await self.fake.wait_for("record_payment", lambda r: r.order_no == order_no)

    async def paid_members(self, count: int) -> None:
        """Until the group's projection shows `count` paid members."""
        await self.fake.wait_for("record_group_buy", lambda r: r.view.paid == count)

    async def ended(self, handle: Any) -> Any:
        """A workflow's result, skipping every timer on the way (see Scenario.result)."""
        service = self.env.client.test_service
        await service.unlock_time_skipping(UnlockTimeSkippingRequest())
        try:
            async with asyncio.timeout(WAIT_S):
                return await handle.result()
        finally:
            await service.lock_time_skipping(LockTimeSkippingRequest())


@asynccontextmanager
async def group_running(task_queue: str) -> AsyncIterator[Group]:
    env = await time_skipping_server()
    fake = GroupFake(new_order_no())
    fake.clock = env.get_current_time
    try:
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[OrderWorkflow, ShipmentWorkflow, AfterSaleWorkflow, GroupBuyWorkflow],
            activities=fake.activities(),
        ):
            yield Group(env, task_queue, fake)
    finally:
        await env.shutdown()


async def test_at_the_time_limit_the_group_fails_and_paid_members_are_refunded_once(
    task_queue: str,
) -> None:
    async with group_running(task_queue) as group:
        first = await group.join(customer_id=1)
        second = await group.join(customer_id=2)
        await group.pay(first)
        await group.paid_members(1)
        await group.fake.wait_status("paid")
        opened = await group.env.get_current_time()
        view: GroupView = await group.ended(group.handle)
        first_view = await group.ended(group.order(first))
        second_view = await group.ended(group.order(second))
    assert view.status == "failed"
    assert view.reason == "time limit passed"
    assert view.deadline - view.opened_at == LIMIT
    assert view.finished_at is not None and view.finished_at >= opened + LIMIT - timedelta(
        minutes=1
    )
    assert [(m.order_no, m.status) for m in view.members] == [
        (first, "failed"),
        (second, "failed"),
    ]
    # The paid member: cancelled, its payment refunded in full, once; nothing shipped.
    assert first_view.status == "cancelled"
    refunds = group.fake.of("refund_payment")
    assert [(r.order_no, r.refund_no, r.amount_fen) for r in refunds] == [
        (first, f"RF{first[2:]}C", PAYABLE_FEN)
    ]
    assert first_view.refunded_fen == PAYABLE_FEN == first_view.paid_fen
    assert group.fake.of("record_shipment_step") == []
    # The unpaid member: cancelled, nothing to refund; both gave their stock back.
    assert (second_view.status, second_view.refunded_fen) == ("cancelled", 0)
    released = {r.order_no for r in group.fake.of("release_stock")}
    assert released == {first, second}
    cancels = [c for c in group.fake.of("record_status") if c.step == "cancelled"]
    assert sorted(c.detail["reason"] for c in cancels) == ["group buy failed"] * 2


async def test_at_n_paid_members_every_order_ships_and_a_full_group_refuses(
    task_queue: str,
) -> None:
    async with group_running(task_queue) as group:
        first = await group.join(customer_id=1, size=2)
        again = await rejection(
            group.handle.execute_update(
                GroupBuyWorkflow.join, JoinRequest(customer_id=1, order_no=new_order_no())
            )
        )
        second = await group.join(customer_id=2, size=2)
        full = await rejection(
            group.handle.execute_update(
                GroupBuyWorkflow.join, JoinRequest(customer_id=3, order_no=new_order_no())
            )
        )
        await group.pay(first)
        await group.paid_members(1)
        # One paid member of two: the paid order waits, nothing is released to a warehouse.
        assert group.fake.of("record_shipment_step") == []
        await group.pay(second)
        view: GroupView = await group.ended(group.handle)
        for order_no in (first, second):
            await group.fake.wait_step(f"PK{order_no[2:]}01", "released")
        steps = [c.step for c in group.fake.of("record_status") if c.order_no == first]
    assert again.type == "AlreadyInGroupError"
    assert full.type == "GroupFullError"
    assert view.status == "completed"
    assert [m.status for m in view.members] == ["completed", "completed"]
    assert steps[:3] == ["paid", "group_completed", "released_to_warehouses"]
    assert group.fake.of("refund_payment") == []


async def test_a_member_whose_payment_deadline_passes_gives_the_seat_back(
    task_queue: str,
) -> None:
    async with group_running(task_queue) as group:
        group.timings = o.OrderTimings(payment_window=timedelta(minutes=30))
        first = await group.join(customer_id=1, size=2)
        await group.order(first).signal(
            OrderWorkflow.payment_received,
            o.PaymentReceived(
                provider="sandbox",
                transaction_id="TX-NONE",
                payment_id="P",
                amount_fen=1,  # not what the order asks: refused, the seat stays unpaid
                currency="CNY",
                paid_at=T0,
            ),
        )
        await group.env.sleep(timedelta(minutes=31))
        await group.fake.wait_for("record_group_buy", lambda r: r.view.holding == 0)
        second = await group.join(customer_id=1, size=2)  # the same customer, a new seat
        view = await group.handle.query(GroupBuyWorkflow.view)
    assert [(m.order_no, m.status) for m in view.members] == [(first, "left"), (second, "joined")]


async def test_a_paid_member_who_cancels_while_waiting_is_refunded_and_frees_the_seat(
    task_queue: str,
) -> None:
    async with group_running(task_queue) as group:
        first = await group.join(customer_id=1, size=2)
        await group.pay(first)
        await group.paid_members(1)
        cancelled = await group.order(first).execute_update(
            OrderWorkflow.cancel, o.CancelRequest(actor=CUSTOMER, reason="不想等了")
        )
        await group.fake.wait_for("record_group_buy", lambda r: r.view.holding == 0)
        second = await group.join(customer_id=2, size=2)
        third = await group.join(customer_id=3, size=2)
        await group.pay(second)
        await group.pay(third)
        view: GroupView = await group.ended(group.handle)
    assert cancelled.status == "cancelled"
    refunds = group.fake.of("refund_payment")
    assert [(r.order_no, r.amount_fen) for r in refunds] == [(first, PAYABLE_FEN)]
    assert view.status == "completed"
    assert [(m.order_no, m.status) for m in view.members] == [
        (first, "left"),
        (second, "completed"),
        (third, "completed"),
    ]
    assert view.paid == 2  # who left is not counted, though it had paid
