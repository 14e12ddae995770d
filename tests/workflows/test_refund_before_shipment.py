"""Refund-only after-sales before shipment (issue 6 item 2), on the time-skipping server with
fakes: the units are taken out of their package while it is not yet picked (a package left with
nothing is cancelled), the after-sale is approved at once and refunds their allocated amount;
a picked package gives up nothing; the whole order refunded this way ends cancelled with
exactly what was paid refunded, once."""

from __future__ import annotations

from datetime import timedelta

from models.contracts import order as o
from models.contracts.after_sale import AfterSaleRequest
from models.domain.refunds import RefundRequestLine
from tests.workflows.fakes import CUSTOMER, PAYABLE_FEN
from tests.workflows.scenario import Scenario, rejection, running
from workflows.after_sale import AfterSaleWorkflow
from workflows.order import OrderWorkflow

TIMINGS = o.OrderTimings(after_sale_window=timedelta(days=15))


def refund_only(as_no: str, *lines: tuple[int, int]) -> AfterSaleRequest:
    return AfterSaleRequest(
        as_no=as_no,
        type="refund_only",
        lines=[RefundRequestLine(line_no=no, quantity=q) for no, q in lines],
        reason="不想要了",
        actor=CUSTOMER,
    )


async def paid(order: Scenario) -> None:
    await order.place(o.OrderInput(order_no=order.order_no, timings=TIMINGS))
    await order.pay()
    for plan in order.fake.plans:
        await order.fake.wait_step(plan.package_no, "released")


def after_sale_steps(order: Scenario, as_no: str) -> list[str]:
    return [s.step for s in order.fake.of("record_after_sale_step") if s.as_no == as_no]


async def test_units_not_yet_picked_are_taken_out_and_refunded_at_once(task_queue: str) -> None:
    async with running(task_queue, packages=2) as order:
        await paid(order)
        first, second = (p.package_no for p in order.fake.plans)
        view = await order.handle.execute_update(
            OrderWorkflow.request_after_sale, refund_only("AS1", (2, 1))
        )
        child = order.env.client.get_workflow_handle_for(AfterSaleWorkflow.run, "aftersale-AS1")
        ended = await child.result()
        await order.fake.wait_step(second, "cancelled")
        await order.pack(first)
        await order.hand_over(first)
        await order.push(first, "collected", "delivered")
        final = await order.result()
    [withdrawal] = order.fake.of("withdraw_units")
    assert (withdrawal.package_no, withdrawal.lines) == (
        second,
        [o.PackageLine(line_no=2, sku_id=102, quantity=1)],
    )
    assert (view.refund_fen, view.lines) == (3_000, [RefundRequestLine(line_no=2, quantity=1)])
    assert (ended.status, ended.decided_by) == ("refunded", "system:after-sale")
    assert after_sale_steps(order, "AS1") == ["requested", "approved", "refunding", "refunded"]
    assert "units_withdrawn" in order.fake.steps(second)
    assert "picked" not in order.fake.steps(second)
    # One refund of the line's allocated amount; the cancelled package refunds nothing more.
    assert [(r.refund_no, r.amount_fen) for r in order.fake.of("refund_payment")] == [
        ("RFAS1", 3_000)
    ]
    assert (final.status, final.refunded_fen) == ("closed", 3_000)


async def test_part_of_a_line_is_taken_out_and_the_rest_still_ships(
    task_queue: str,
) -> None:
    async with running(task_queue) as order:
        await paid(order)
        [plan] = order.fake.plans
        await order.handle.execute_update(
            OrderWorkflow.request_after_sale, refund_only("AS1", (1, 1))
        )
        steps = await order.fake.wait_step(plan.package_no, "units_withdrawn")
        too_many = await rejection(
            order.handle.execute_update(
                OrderWorkflow.request_after_sale, refund_only("AS2", (1, 2))
            )
        )
        await order.picked(plan.package_no)
        picked = await order.fake.wait_step(plan.package_no, "picked")
        refund = await order.fake.wait_for("refund_payment")
    assert steps.expected_weight_g == plan.weight_g - 100  # the fake's unit weighs 100 g
    assert picked.expected_weight_g == plan.weight_g - 100
    assert too_many.type == "AfterSaleQuantityError"
    assert "1 units not yet shipped, 2 asked" in too_many.message
    assert (refund.refund_no, refund.amount_fen) == ("RFAS1", 4_500)  # ⌊9 000 × 1 / 2⌋


async def test_a_picked_package_gives_up_nothing(task_queue: str) -> None:
    async with running(task_queue) as order:
        await paid(order)
        [plan] = order.fake.plans
        await order.picked(plan.package_no)
        await order.fake.wait_step(plan.package_no, "picked")
        refused = await rejection(
            order.handle.execute_update(
                OrderWorkflow.request_after_sale, refund_only("AS1", (2, 1))
            )
        )
    assert refused.type == "InvalidStateError"
    assert f"package {plan.package_no} is picked" in refused.message
    assert order.fake.of("withdraw_units") == []
    assert order.fake.of("refund_payment") == []


async def test_the_whole_order_taken_out_is_cancelled_with_exactly_the_payment_refunded(
    task_queue: str,
) -> None:
    async with running(task_queue, packages=2) as order:
        await paid(order)
        view = await order.handle.execute_update(
            OrderWorkflow.request_after_sale, refund_only("AS1", (1, 2), (2, 1))
        )
        final = await order.result()
    assert view.refund_fen == PAYABLE_FEN  # goods, freight and the coupon's worth: all paid
    assert [(r.refund_no, r.amount_fen) for r in order.fake.of("refund_payment")] == [
        ("RFAS1", PAYABLE_FEN)
    ]
    assert (final.status, final.refunded_fen) == ("cancelled", PAYABLE_FEN)
    assert {p.package_no for p in order.fake.of("withdraw_units")} == {
        p.package_no for p in order.fake.plans
    }
    assert len(order.fake.of("return_coupon")) >= 1
