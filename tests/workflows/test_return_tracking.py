"""A return parcel followed at its carrier (issue 6 item 4), on the time-skipping server with
fakes: a tracking number the carrier does not know is refused and changes nothing; a known one is
subscribed to, its pushes and (when the carrier is silent) polls go onto the after-sale's
timeline until it is delivered to the warehouse, and then nothing is polled any more. And a
refund the provider refuses: the after-sale waits for staff to retry it, the order stays open."""

from __future__ import annotations

from datetime import timedelta

from models.contracts.after_sale import (
    AfterSaleDecision,
    InspectedLine,
    RefundRetry,
    ReturnInspection,
)
from models.contracts.after_sale import ReturnShipment as Back
from tests.workflows.fakes import CUSTOMER, STAFF, snapshot
from tests.workflows.scenario import rejection, running
from tests.workflows.test_after_sale_workflow import ask, awaiting_return, delivered, returned
from workflows.after_sale import AfterSaleWorkflow
from workflows.order import OrderWorkflow


async def test_a_return_parcel_is_followed_by_push_and_poll_until_it_arrives(
    task_queue: str,
) -> None:
    async with running(task_queue) as order:
        await delivered(order)
        child = await awaiting_return(order, returned("AS1", 2, 1))
        unknown = await rejection(
            child.execute_update(
                AfterSaleWorkflow.ship_back,
                Back(actor=CUSTOMER, carrier_code="SF", tracking_no="UNKNOWN1"),
            )
        )
        still = await child.query(AfterSaleWorkflow.view)
        shipped = await child.execute_update(
            AfterSaleWorkflow.ship_back, Back(actor=CUSTOMER, carrier_code="SF", tracking_no="SF77")
        )
        await child.signal(AfterSaleWorkflow.return_tracking, snapshot("SF77", "picked_up"))
        await order.fake.wait_for("record_after_sale_step", lambda s: s.step == "return_tracking")
        assert order.fake.of("poll_tracking") == []  # pushed: nothing to poll yet
        order.fake.poll_answers = [snapshot("SF77", "picked_up", "in_transit", "delivered")]
        await order.skip(timedelta(hours=7))  # silent past the poll interval (6 h by default)
        arrived = await order.fake.wait_for(
            "record_after_sale_step", lambda s: s.step == "return_delivered"
        )
        await order.skip(timedelta(days=2))
        polls = len(order.fake.of("poll_tracking"))
        await child.execute_update(
            AfterSaleWorkflow.inspect,
            ReturnInspection(actor=STAFF, lines=[InspectedLine(line_no=2, sellable=1, damaged=0)]),
        )
        done = await child.result()
    assert unknown.type == "InvalidInputError"
    assert "knows no parcel UNKNOWN1" in unknown.message
    assert still.status == "awaiting_return"
    assert shipped.status == "returning"
    [followed] = order.fake.of("follow_return", lambda f: f.tracking_no == "SF77")
    assert (followed.as_no, followed.carrier_code) == ("AS1", "SF")
    assert (arrived.status, arrived.detail["code"]) == ("returning", "delivered")
    assert polls == 1  # delivered: never polled again
    steps = [s.step for s in order.fake.of("record_after_sale_step")]
    assert steps[steps.index("return_shipped") :] == [
        "return_shipped",
        "return_tracking",
        "return_delivered",
        "return_received",
        "refunding",
        "refunded",
    ]
    assert done.status == "refunded"


async def test_a_refused_refund_waits_for_staff_and_keeps_the_order_open(task_queue: str) -> None:
    async with running(task_queue) as order:
        await delivered(order)
        order.fake.refunds_refused = 1
        await order.handle.execute_update(OrderWorkflow.request_after_sale, ask("AS1", 2, 1))
        child = order.env.client.get_workflow_handle_for(AfterSaleWorkflow.run, "aftersale-AS1")
        await order.fake.wait_for("record_after_sale_step", lambda s: s.step == "requested")
        early = await rejection(
            child.execute_update(AfterSaleWorkflow.retry_refund, RefundRetry(actor=STAFF))
        )
        await child.execute_update(
            AfterSaleWorkflow.decide, AfterSaleDecision(actor=STAFF, approve=True)
        )
        refused = await order.fake.wait_for(
            "record_after_sale_step", lambda s: s.step == "refund_refused"
        )
        await order.skip(timedelta(days=30))  # past the after-sale window: the order waits
        still_open = await order.view()
        await child.execute_update(
            AfterSaleWorkflow.retry_refund, RefundRetry(actor=STAFF, reason="余额已补")
        )
        done = await child.result()
        final = await order.result()
    assert early.type == "InvalidStateError"
    assert (refused.status, refused.detail["reason"]) == (
        "refunding",
        "refund exceeds the payment's balance",
    )
    assert still_open.status == "completed"  # not closed while its refund is outstanding
    assert [r.refund_no for r in order.fake.of("refund_payment")] == ["RFAS1", "RFAS1"]
    assert done.status == "refunded"
    assert (final.status, final.refunded_fen) == ("closed", 3_000)
