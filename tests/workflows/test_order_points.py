"""The order's points steps on the time-skipping server with fakes (DESIGN §6.7): the points
spent go back with a cancel, a package the order refunds itself (units not found, a lost parcel)
gives back the points its units bore, and a completed order earns — each an activity call the
fakes record, made once."""

from __future__ import annotations

from models.contracts import order as o
from models.contracts.loyalty import PointsRefund
from tests.workflows.fakes import CUSTOMER
from tests.workflows.scenario import running
from tests.workflows.test_shipment_workflow import lose
from tests.workflows.test_short_picks import ONE_OF_LINE_1, order_input
from workflows.order import OrderWorkflow


async def test_a_cancel_gives_the_points_back(task_queue: str) -> None:
    async with running(task_queue) as order:
        order.fake.points_used = 300
        await order.place()
        await order.handle.execute_update(
            OrderWorkflow.cancel, o.CancelRequest(actor=CUSTOMER, reason="不要了")
        )
        returned = await order.fake.wait_for("return_points")
    assert returned == order.order_no
    assert order.fake.of("earn_points") == []


async def test_a_cancel_of_an_order_that_spent_no_points_asks_for_none_back(
    task_queue: str,
) -> None:
    """No activity (a workflow task and an activity task fewer at every payment deadline)."""
    async with running(task_queue) as order:
        await order.place()
        await order.handle.execute_update(
            OrderWorkflow.cancel, o.CancelRequest(actor=CUSTOMER, reason="不要了")
        )
        await order.fake.wait_for("record_status", lambda s: s.status == "cancelled")
        await order.fake.wait_for("return_coupon")
    assert order.fake.of("return_points") == []
    assert order.fake.of("release_stock") != []


async def test_units_not_found_give_back_their_points_with_the_refund(task_queue: str) -> None:
    async with running(task_queue) as order:
        await order.place(order_input(order.order_no))
        await order.pay()
        package_no = order.fake.plans[0].package_no
        await order.picked(package_no, missing=ONE_OF_LINE_1, missing_g=500)
        refund: PointsRefund = await order.fake.wait_for("refund_points")
    assert (refund.order_no, refund.refund_no, refund.units) == (
        order.order_no,
        f"RF{package_no[2:]}S",
        {1: 1},
    )


async def test_a_lost_parcel_refunded_gives_back_its_points_and_the_rest_earns(
    task_queue: str,
) -> None:
    async with running(task_queue, packages=2) as order:
        await order.place()
        await order.pay()
        lost, kept = (plan.package_no for plan in order.fake.plans)
        await order.pack(kept)
        await order.hand_over(kept)
        await order.push(kept, "collected", "delivered")
        await lose(order, lost, "refund")
        view = await order.result()
    fake = order.fake
    [refund] = fake.of("refund_points")
    lost_lines = {line.line_no: line.quantity for line in fake.plans[0].lines}
    assert (refund.refund_no, refund.units) == (f"RF{lost[2:]}", lost_lines)
    assert fake.of("earn_points") == [order.order_no]  # once, on completion
    assert view.status == "closed"
