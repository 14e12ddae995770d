"""OrderWorkflow (DESIGN §6.1) on the time-skipping server with fake activities: payment
deadline, payments (duplicate, wrong amount, late, extra), risk review, customer cancel."""

from __future__ import annotations

from datetime import timedelta

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from models.contracts.order import CancelRequest, OrderInput, OrderPolicy, RiskDecision
from tests.workflows.fakes import CUSTOMER, PAYABLE_FEN, STAFF
from tests.workflows.scenario import rejection, running
from workflows.order import OrderWorkflow
from workflows.shipment import ShipmentWorkflow


async def test_unpaid_order_is_cancelled_when_the_payment_window_ends(task_queue: str) -> None:
    async with running(task_queue) as order:
        placed = await order.place()
        view = await order.result()
    fake = order.fake
    assert placed.status == "awaiting_payment"
    assert not placed.under_review
    assert placed.quote.payable_fen == PAYABLE_FEN
    assert placed.payment_deadline - fake.of("quote_order")[0].at == timedelta(minutes=30)
    assert view.status == "cancelled"
    assert order.at(view, "cancelled") >= placed.payment_deadline
    [release] = fake.of("release_stock")
    assert release.order_no == order.order_no
    assert release.package_no is None
    assert release.reason == "payment deadline passed"
    assert fake.of("return_coupon") == [order.order_no]
    assert fake.of("refund_payment") == []
    assert fake.of("record_shipment_step") == []
    assert view.refunded_fen == 0
    assert order.steps(view) == ["placed", "cancelled"]
    assert fake.of("record_status")[-1].status == "cancelled"


async def test_the_deadline_is_one_timer_timed_from_when_the_order_was_written(
    task_queue: str,
) -> None:
    """The server counts a timer from the end of the task that starts it, and the placement's
    task runs the quote, the reservation and the record: the deadline's one timer is timed from
    the record's answer (when the order was written), so it fires at the deadline and not that
    task's length later, and no second task wakes the order before it."""
    async with running(task_queue) as order:
        order.fake.record_delay = timedelta(seconds=40)  # a slow record: the task ends late
        placed = await order.place()
        [written] = order.fake.written
        view = await order.result()
        history = await order.handle.fetch_history()
    timers = [
        event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
        for event in history.events
        if event.HasField("timer_started_event_attributes")
    ]
    deadline, *after = timers  # after: the cancelled order's wait for late payments
    assert after == [timedelta(days=1)], timers
    # Timed from the written order, 40 s into the task: not the whole 30 min from its start.
    assert deadline == placed.payment_deadline - written
    assert timedelta(minutes=29) < deadline <= timedelta(minutes=29, seconds=20)
    assert view.status == "cancelled"
    # The fake claimed 40 s the test server never spent, so the deadline came 40 s early here.
    cancelled = order.at(view, "cancelled")
    assert placed.payment_deadline - timedelta(seconds=40) <= cancelled < placed.payment_deadline
    # The record's answer is in the history: a replay plans the same one timer.
    replayer = Replayer(workflows=[OrderWorkflow], data_converter=pydantic_data_converter)
    replayed = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None


async def test_payment_is_taken_once_and_a_second_payment_is_refunded_in_full(
    task_queue: str,
) -> None:
    async with running(task_queue) as order:
        await order.place()
        first = await order.pay()
        package_no = order.fake.plans[0].package_no
        await order.fake.wait_step(package_no, "released")
        await order.handle.signal(OrderWorkflow.payment_received, first)  # webhook retried
        second = await order.pay(transaction_id=f"TX{order.order_no[2:]}-other")
        extra = await order.fake.wait_for("refund_payment")
        fulfilling = await order.view()
        shipment = await order.shipment(package_no).query(ShipmentWorkflow.view)
        # The accepted payment is still owed in full when the customer then cancels.
        await order.handle.execute_update(
            OrderWorkflow.cancel, CancelRequest(actor=CUSTOMER, reason="ordered twice")
        )
        view = await order.result()
    fake = order.fake
    recorded = fake.of("record_payment")
    assert [(r.payment.transaction_id, r.accepted) for r in recorded] == [
        (first.transaction_id, True),
        (second.transaction_id, False),
    ]
    assert (extra.amount_fen, extra.transaction_id) == (PAYABLE_FEN, second.transaction_id)
    assert extra.refund_no == f"RF-{second.transaction_id}"
    assert fulfilling.status == "fulfilling"
    assert order.steps(fulfilling)[:3] == ["placed", "paid", "released_to_warehouses"]
    assert (shipment.status, shipment.expected_weight_g) == ("released", 1_400)
    refunds = [(r.transaction_id, r.amount_fen) for r in fake.of("refund_payment")]
    assert refunds == [(second.transaction_id, PAYABLE_FEN), (first.transaction_id, PAYABLE_FEN)]
    assert view.status == "cancelled"
    assert (view.paid_fen, view.refunded_fen) == (2 * PAYABLE_FEN, 2 * PAYABLE_FEN)
    assert order.steps(view).count("refunded") == 2
    assert [r.package_no for r in fake.of("release_stock")] == [package_no, None]


async def test_payment_after_cancellation_is_refunded_automatically(task_queue: str) -> None:
    async with running(task_queue) as order:
        placed = await order.place()
        await order.skip(timedelta(minutes=31))
        await order.fake.wait_status("cancelled")
        late = await order.pay()
        refund = await order.fake.wait_for("refund_payment")
        view = await order.result()
    fake = order.fake
    assert fake.of("record_payment")[0].accepted is False
    arrived = fake.times("record_payment")[0]
    assert placed.payment_deadline < arrived < placed.payment_deadline + timedelta(days=1)
    assert (refund.amount_fen, refund.transaction_id) == (PAYABLE_FEN, late.transaction_id)
    assert len(fake.of("refund_payment")) == 1
    assert view.status == "cancelled"
    assert (view.paid_fen, view.refunded_fen) == (PAYABLE_FEN, PAYABLE_FEN)
    assert len(fake.of("release_stock")) == 1
    assert fake.of("record_shipment_step") == []


async def test_wrong_amount_is_refunded_and_the_order_waits_for_the_right_one(
    task_queue: str,
) -> None:
    async with running(task_queue) as order:
        await order.place()
        wrong = await order.pay(amount_fen=PAYABLE_FEN - 100)
        refund = await order.fake.wait_for("refund_payment")
        waiting = await order.view()
        right = await order.pay()
        await order.fake.wait_status("paid")
        paid = await order.view()
    fake = order.fake
    assert (refund.amount_fen, refund.transaction_id) == (PAYABLE_FEN - 100, wrong.transaction_id)
    assert waiting.status == "awaiting_payment"
    assert paid.status in ("paid", "fulfilling")
    assert [(r.payment.transaction_id, r.accepted) for r in fake.of("record_payment")] == [
        (wrong.transaction_id, False),
        (right.transaction_id, True),
    ]
    assert len(fake.of("refund_payment")) == 1
    assert paid.refunded_fen == PAYABLE_FEN - 100
    assert fake.of("release_stock") == []


def under_review(order_no: str) -> OrderInput:
    return OrderInput(order_no=order_no, policy=OrderPolicy(risk_review_over_fen=PAYABLE_FEN - 1))


async def test_risk_review_escalates_after_its_sla_and_approval_ships(task_queue: str) -> None:
    async with running(task_queue) as order:
        placed = await order.place(under_review(order.order_no))
        await order.pay()
        await order.skip(timedelta(hours=1, minutes=50))
        before_sla = await order.view()
        await order.skip(timedelta(minutes=15))
        escalation = await order.fake.wait_status("risk_review_escalated")
        escalated = await order.view()
        approved = await order.handle.execute_update(
            OrderWorkflow.review, RiskDecision(actor=STAFF, approve=True, reason="known customer")
        )
        package_no = order.fake.plans[0].package_no
        await order.fake.wait_step(package_no, "released")
        view = await order.view()
    fake = order.fake
    assert placed.under_review
    assert fake.of("record_order")[0].under_review is True
    assert (before_sla.status, before_sla.under_review, before_sla.escalated) == (
        "paid",
        True,
        False,
    )
    assert escalation.escalated is True
    assert escalation.detail == {"sla_s": 7_200}
    escalated_at = fake.times("record_status", lambda c: c.step == "risk_review_escalated")[0]
    assert escalated_at - fake.of("quote_order")[0].at >= timedelta(hours=2)
    assert escalated.escalated and escalated.under_review
    assert escalated.status == "paid"
    assert approved.escalated and not approved.under_review
    assert view.status == "fulfilling"
    assert order.steps(view)[-2:] == ["risk_approved", "released_to_warehouses"]
    assert fake.of("refund_payment") == []


async def test_risk_rejection_needs_a_reason_and_refunds_what_was_paid(task_queue: str) -> None:
    async with running(task_queue) as order:
        await order.place(under_review(order.order_no))
        payment = await order.pay()
        error = await rejection(
            order.handle.execute_update(
                OrderWorkflow.review, RiskDecision(actor=STAFF, approve=False, reason="  ")
            )
        )
        unchanged = await order.view()
        await order.handle.execute_update(
            OrderWorkflow.review,
            RiskDecision(actor=STAFF, approve=False, reason="address on the blocklist"),
        )
        view = await order.result()
    fake = order.fake
    assert error.type == "InvalidInputError"
    assert unchanged.under_review
    assert view.status == "cancelled"
    [refund] = fake.of("refund_payment")
    assert (refund.amount_fen, refund.transaction_id) == (PAYABLE_FEN, payment.transaction_id)
    assert refund.refund_no == f"RF{order.order_no[2:]}C"
    assert view.refunded_fen == PAYABLE_FEN
    assert len(fake.of("release_stock")) == 1
    assert fake.of("return_coupon") == [order.order_no]
    assert fake.of("record_shipment_step") == []
    cancelled = fake.of("record_status", lambda c: c.step == "cancelled")
    assert cancelled[0].detail == {
        "reason": "risk review: address on the blocklist",
        "refund_fen": PAYABLE_FEN,
    }
    assert cancelled[0].actor == STAFF


async def test_customer_cancel_while_awaiting_payment_releases_stock(task_queue: str) -> None:
    cancel = CancelRequest(actor=CUSTOMER, reason="changed my mind")
    async with running(task_queue) as order:
        await order.place()
        answered = await order.handle.execute_update(OrderWorkflow.cancel, cancel)
        again = await rejection(order.handle.execute_update(OrderWorkflow.cancel, cancel))
        view = await order.result()
    fake = order.fake
    assert answered.status == view.status == "cancelled"
    assert again.type == "InvalidStateError"
    [release] = fake.of("release_stock")
    assert (release.package_no, release.reason) == (None, "changed my mind")
    assert fake.of("return_coupon") == [order.order_no]
    assert fake.of("refund_payment") == []
    assert view.timeline[-1].actor == CUSTOMER


async def test_cancel_after_payment_cancels_every_package_and_refunds_in_full(
    task_queue: str,
) -> None:
    async with running(task_queue, packages=2) as order:
        await order.place()
        payment = await order.pay()
        first, second = (plan.package_no for plan in order.fake.plans)
        await order.pack(first)
        await order.fake.wait_step(first, "waybill_created")
        await order.fake.wait_step(second, "released")
        answered = await order.handle.execute_update(
            OrderWorkflow.cancel, CancelRequest(actor=CUSTOMER, reason="found it cheaper")
        )
        outcomes = [(await order.shipment(p).result()).outcome for p in (first, second)]
        view = await order.result()
    fake = order.fake
    assert answered.status == view.status == "cancelled"
    assert outcomes == ["cancelled", "cancelled"]
    released = sorted(fake.of("release_stock"), key=lambda r: r.package_no or "")
    assert [r.package_no for r in released] == [None, first, second]
    assert fake.of("ship_stock") == []
    assert fake.steps(first)[-1] == fake.steps(second)[-1] == "cancelled"
    [refund] = fake.of("refund_payment")
    assert (refund.amount_fen, refund.transaction_id) == (PAYABLE_FEN, payment.transaction_id)
    assert (view.paid_fen, view.refunded_fen) == (PAYABLE_FEN, PAYABLE_FEN)
    assert fake.of("return_coupon") == [order.order_no]
