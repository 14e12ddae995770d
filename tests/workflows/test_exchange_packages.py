"""An exchange's replacement package is one of the order's packages (issue 13 item 1): whatever
can happen to a package before it reaches the customer is handled for the replacement as for any
other. The carrier loses it (staff decide reship or refund), its wave finds nothing, the customer
asks for a refund-only before it ships (taken out of it, as before shipment), and the order stays
open until it is delivered.

An order cancel never reaches a replacement: an exchange is opened only once the order is
delivered, and a delivered order can no longer be cancelled (the cancel validator refuses it)."""

from __future__ import annotations

from datetime import timedelta

from models.contracts import order as o
from models.contracts.after_sale import AfterSaleRequest
from models.domain.refunds import RefundRequestLine
from tests.workflows.fakes import CUSTOMER
from tests.workflows.scenario import Scenario, rejection, running
from tests.workflows.test_after_sale_workflow import delivered, exchange, returned_and_inspected
from tests.workflows.test_shipment_workflow import lose
from workflows.after_sale import AfterSaleWorkflow
from workflows.order import OrderWorkflow

REPLACEMENT = "PK1X"  # the exchange AS1's package (`PK<as_no digits>X`)
LINE_2 = [o.PackageLine(line_no=2, sku_id=102, quantity=1)]  # 3 000 fen paid, 400 g


async def exchanged(order: Scenario) -> None:
    """Delivered; line 2 sent back for an exchange; the replacement released to its warehouse."""
    await delivered(order)
    await returned_and_inspected(order, exchange("AS1", 2, 1))
    ended = await order.env.client.get_workflow_handle_for(
        AfterSaleWorkflow.run, "aftersale-AS1"
    ).result()  # after telling the order how it ended
    assert ended.status == "exchanged"
    await order.fake.wait_step(REPLACEMENT, "released")


def refund_only(as_no: str) -> AfterSaleRequest:
    return AfterSaleRequest(
        as_no=as_no,
        type="refund_only",
        lines=[RefundRequestLine(line_no=2, quantity=1)],
        reason="不想要了",
        actor=CUSTOMER,
    )


async def test_a_lost_replacement_is_reshipped_when_staff_decide_so(task_queue: str) -> None:
    async with running(task_queue) as order:
        await exchanged(order)
        await lose(order, REPLACEMENT, "reship")
        reship = await order.fake.wait_for(
            "reserve_package", lambda r: r.package_no == f"{REPLACEMENT}R1"
        )
        await order.pack(reship.package_no)
        await order.hand_over(reship.package_no)
        await order.push(reship.package_no, "collected", "delivered")
        view = await order.result()
    assert (reship.warehouse_id, reship.lines) == (1, LINE_2)
    assert view.status == "closed"
    assert view.refunded_fen == 0
    statuses = {p.package_no: p.status for p in view.packages}
    assert (statuses[REPLACEMENT], statuses[reship.package_no]) == ("exception", "delivered")
    assert order.steps(view).count("reship") == 1


async def test_a_lost_replacement_is_refunded_when_staff_decide_so(task_queue: str) -> None:
    async with running(task_queue) as order:
        await exchanged(order)
        await lose(order, REPLACEMENT, "refund")
        refund = await order.fake.wait_for("refund_payment")
        again = await rejection(
            order.handle.execute_update(OrderWorkflow.request_after_sale, refund_only("AS2"))
        )
        view = await order.result()
    assert (refund.refund_no, refund.amount_fen) == (f"RF{REPLACEMENT[2:]}", 3_000)
    assert again.type == "AfterSaleQuantityError"  # the unit's money went back already
    assert (view.status, view.refunded_fen) == ("closed", 3_000)


async def test_a_replacement_its_wave_did_not_find_is_backordered(task_queue: str) -> None:
    async with running(task_queue) as order:
        await exchanged(order)
        await order.picked(REPLACEMENT, missing=LINE_2, missing_g=400)
        backorder = await order.fake.wait_for(
            "reserve_package", lambda r: r.package_no == f"{REPLACEMENT}B"
        )
        await order.pack(backorder.package_no)
        await order.hand_over(backorder.package_no)
        await order.push(backorder.package_no, "collected", "delivered")
        view = await order.result()
    assert (backorder.warehouse_id, backorder.lines) == (1, LINE_2)
    assert order.fake.steps(REPLACEMENT)[-1] == "short"
    assert view.status == "closed"
    statuses = {p.package_no: p.status for p in view.packages}
    assert statuses[backorder.package_no] == "delivered"


async def test_a_replacement_not_found_under_cancel_line_is_refunded(task_queue: str) -> None:
    async with running(task_queue) as order:
        await order.place(
            o.OrderInput(
                order_no=order.order_no,
                policy=o.OrderPolicy(short_pick_policy="cancel_line"),
                timings=o.OrderTimings(
                    after_sale_approval_sla=timedelta(hours=48),
                    after_sale_window=timedelta(days=15),
                ),
            )
        )
        await order.pay()
        package_no = order.fake.plans[0].package_no
        await order.pack(package_no)
        await order.hand_over(package_no)
        await order.push(package_no, "collected", "delivered")
        await order.fake.wait_status("delivered")
        await returned_and_inspected(order, exchange("AS1", 2, 1))
        await order.picked(REPLACEMENT, missing=LINE_2, missing_g=400)
        refund = await order.fake.wait_for("refund_payment")
        view = await order.result()
    assert (refund.refund_no, refund.amount_fen) == (f"RF{REPLACEMENT[2:]}S", 3_000)
    assert "short_refunded" in order.steps(view)
    assert (view.status, view.refunded_fen) == ("closed", 3_000)


async def test_a_refund_only_before_the_replacement_ships_takes_its_units_out(
    task_queue: str,
) -> None:
    async with running(task_queue) as order:
        await exchanged(order)
        opened = await order.handle.execute_update(
            OrderWorkflow.request_after_sale, refund_only("AS2")
        )
        withdrawn = await order.fake.wait_for("withdraw_units")
        refund = await order.fake.wait_for("refund_payment")
        await order.fake.wait_step(REPLACEMENT, "cancelled")
        done = await order.env.client.get_workflow_handle_for(
            AfterSaleWorkflow.run, "aftersale-AS2"
        ).result()
        view = await order.result()
    assert opened.sla_due_at is None  # nothing left the warehouse: approved at once
    assert (withdrawn.package_no, withdrawn.lines) == (REPLACEMENT, LINE_2)
    assert (refund.refund_no, refund.amount_fen) == ("RFAS2", 3_000)
    assert done.status == "refunded"
    assert order.fake.of("ship_stock", lambda c: c.package_no == REPLACEMENT) == []
    assert (view.status, view.refunded_fen) == ("closed", 3_000)


async def test_the_order_closes_only_once_its_replacement_is_delivered(task_queue: str) -> None:
    async with running(task_queue) as order:
        await exchanged(order)
        await order.skip(timedelta(days=30))  # past auto-confirm and the after-sale window
        waiting = await order.view()
        await order.pack(REPLACEMENT)
        await order.hand_over(REPLACEMENT)
        await order.push(REPLACEMENT, "collected", "delivered")
        view = await order.result()
    assert waiting.status == "completed"
    assert view.status == "closed"
    assert {p.package_no: p.status for p in view.packages}[REPLACEMENT] == "delivered"
