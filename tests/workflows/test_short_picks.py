"""Units a wave did not find (issue 4 item 6), on the time-skipping server with fakes: the
order refunds them (policy cancel_line, or a backorder that never found stock) or ships them
as a backorder package of the same warehouse; a package with nothing found ships nothing."""

from __future__ import annotations

from datetime import timedelta

from models.contracts import order as o
from models.domain.shipping import package_value
from tests.workflows.fakes import LINES
from tests.workflows.scenario import rejection, running

ONE_OF_LINE_1 = [o.PackageLine(line_no=1, sku_id=101, quantity=1)]  # 500 g of 1 400 g


def order_input(order_no: str, policy: str = "cancel_line", **timings: timedelta) -> o.OrderInput:
    return o.OrderInput(
        order_no=order_no,
        policy=o.OrderPolicy(short_pick_policy=policy),  # type: ignore[arg-type]
        timings=o.OrderTimings(**timings),
    )


async def test_cancel_line_refunds_the_missing_units_and_the_rest_ships_lighter(
    task_queue: str,
) -> None:
    async with running(task_queue) as order:
        await order.place(order_input(order.order_no))
        await order.pay()
        package_no = order.fake.plans[0].package_no
        await order.picked(package_no, missing=ONE_OF_LINE_1, missing_g=500)
        refund = await order.fake.wait_for("refund_payment")
        await order.fake.wait_step(package_no, "picked")
        packed = await order.pack(package_no, weight_g=900)  # 1 400 g less the missing 500 g
        view = await order.view()
    assert refund.amount_fen == package_value(LINES, ONE_OF_LINE_1) == 4_500
    assert refund.refund_no == f"RF{package_no[2:]}S"
    assert (packed.status, packed.expected_weight_g) == ("waybill_created", 900)
    assert "short_refunded" in order.steps(view)
    assert order.fake.of("reserve_package") == []


async def test_a_backorder_ships_the_missing_units_as_a_new_package_of_the_warehouse(
    task_queue: str,
) -> None:
    async with running(task_queue) as order:
        await order.place(order_input(order.order_no, "backorder"))
        await order.pay()
        package_no = order.fake.plans[0].package_no
        await order.picked(package_no, missing=ONE_OF_LINE_1, missing_g=500)
        request = await order.fake.wait_for("reserve_package")
        await order.fake.wait_step(f"{package_no}B", "released")
        view = await order.view()
    assert (request.package_no, request.warehouse_id, request.lines) == (
        f"{package_no}B",
        1,
        ONE_OF_LINE_1,
    )
    assert "backorder" in order.steps(view)
    assert order.fake.of("refund_payment") == []


async def test_a_backorder_without_stock_is_tried_again_then_refunded(task_queue: str) -> None:
    timings = {"backorder_retry": timedelta(hours=6), "backorder_for": timedelta(days=1)}
    async with running(task_queue) as order:
        await order.place(order_input(order.order_no, "backorder", **timings))
        order.fake.no_stock_for_packages = True
        await order.pay()
        package_no = order.fake.plans[0].package_no
        await order.picked(package_no, missing=ONE_OF_LINE_1, missing_g=500)
        await order.fake.wait_for("reserve_package")
        await order.skip(timedelta(hours=13))
        assert order.fake.of("refund_payment") == []  # still waiting for stock
        await order.skip(timedelta(hours=12))
        refund = await order.fake.wait_for("refund_payment")
    tries = order.fake.times("reserve_package")
    assert len(tries) == 5  # at once, then every 6 hours for a day
    assert tries[-1] - tries[0] >= timedelta(days=1)
    assert refund.amount_fen == 4_500


async def test_a_package_with_nothing_found_ships_nothing_and_the_order_is_refunded_in_full(
    task_queue: str,
) -> None:
    everything = [
        o.PackageLine(line_no=1, sku_id=101, quantity=2),
        o.PackageLine(line_no=2, sku_id=102, quantity=1),
    ]
    async with running(task_queue) as order:
        await order.place(order_input(order.order_no))
        await order.pay()
        package_no = order.fake.plans[0].package_no
        await order.picked(package_no, missing=everything, missing_g=1_400)
        shipment = await order.shipment(package_no).result()
        view = await order.result()
    assert shipment.outcome == "short"
    refunds = order.fake.of("refund_payment")
    assert sum(r.amount_fen for r in refunds) == view.paid_fen == 12_800  # goods, then freight
    assert view.status == "cancelled"
    assert order.fake.of("ship_stock") == []


async def test_an_order_refused_for_stock_ends_at_once_as_rejected(task_queue: str) -> None:
    """A local activity's refusal reaches the workflow bare (not in an ActivityError): the
    order still records the rejection and ends, instead of waiting for a placement."""
    async with running(task_queue) as order:
        order.fake.no_stock_for_packages = True
        refused = await rejection(order.place())
        view = await order.result()
    assert (refused.type, refused.message) == ("OutOfStockError", "out of stock: SKUs [101]")
    assert view.status == "rejected"
    assert order.fake.of("record_order") == []
