"""Money the order owes or never asked for, on the time-skipping server with fake activities
(issue 12, items 6, 8, 9): a refused refund waits, shown refused, for staff to retry it; a
payment the provider does not vouch for is neither credited nor refunded; a payment after the
order's process ended is refunded by LatePaymentRefundWorkflow."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from models.contracts.after_sale import RefundRetry
from models.contracts.order import (
    CancelRequest,
    LatePaymentInput,
    LatePaymentView,
    OrderView,
    PaymentReceived,
)
from tests.support.orders import eventually
from tests.support.temporal import time_skipping_server
from tests.workflows.fakes import (
    CUSTOMER,
    PAYABLE_FEN,
    STAFF,
    T0,
    WAIT_S,
    FakeBackOffice,
    new_order_no,
)
from tests.workflows.scenario import rejection, running
from workflows.late_payment import LatePaymentRefundWorkflow, late_payment_id
from workflows.order import OrderWorkflow

RETRY = RefundRetry(actor=STAFF, reason="balance topped up")


async def test_a_cancel_answers_while_its_refund_is_still_at_the_provider(task_queue: str) -> None:
    async with running(task_queue) as order:
        provider_busy = order.fake.hold("refund_payment", lambda _: True)
        await order.place()
        await order.pay()
        cancel = CancelRequest(actor=CUSTOMER, reason="changed my mind")
        answered = await asyncio.wait_for(  # never waits on the provider
            order.handle.execute_update(OrderWorkflow.cancel, cancel), timeout=WAIT_S
        )
        during = await order.fake.wait_for("refund_payment")  # called, not answered yet
        provider_busy.set()
        view = await order.result()
    assert (answered.status, answered.paid_fen, answered.refunded_fen) == (
        "cancelled",
        PAYABLE_FEN,
        0,
    )
    [pending] = answered.pending_refunds
    assert (pending.status, pending.amount_fen, pending.refund_no) == (
        "pending",
        PAYABLE_FEN,
        during.refund_no,
    )
    assert order.fake.of("release_stock") != []
    assert (view.status, view.refunded_fen, view.pending_refunds) == ("cancelled", PAYABLE_FEN, [])
    assert len(order.fake.of("refund_payment")) == 1


async def test_a_refused_cancel_refund_is_shown_refused_and_made_when_staff_retry(
    task_queue: str,
) -> None:
    async with running(task_queue) as order:
        order.fake.refunds_refused = 1
        await order.place()
        payment = await order.pay()
        early = await rejection(order.handle.execute_update(OrderWorkflow.retry_refund, RETRY))
        answered = await order.handle.execute_update(
            OrderWorkflow.cancel, CancelRequest(actor=CUSTOMER, reason="changed my mind")
        )
        await order.fake.wait_for("record_status", lambda c: c.step == "refund_refused")
        refused = await order.view()
        retried = await order.handle.execute_update(OrderWorkflow.retry_refund, RETRY)
        view = await order.result()
    fake = order.fake
    assert early.type == "InvalidStateError"
    assert (answered.status, answered.refunded_fen) == ("cancelled", 0)
    [pending] = answered.pending_refunds
    assert (pending.status, pending.amount_fen) == ("pending", PAYABLE_FEN)
    [owed] = refused.pending_refunds
    assert (owed.status, owed.refund_no) == ("refused", pending.refund_no)
    assert owed.refused_reason == "refund exceeds the payment's balance"
    assert refused.refunded_fen == 0
    assert [r.status for r in retried.pending_refunds] == ["pending"]
    attempts = fake.of("refund_payment")
    assert [(a.refund_no, a.amount_fen) for a in attempts] == [(pending.refund_no, PAYABLE_FEN)] * 2
    assert attempts[0].transaction_id == payment.transaction_id
    assert (view.status, view.refunded_fen, view.pending_refunds) == ("cancelled", PAYABLE_FEN, [])
    shown = [(c.step, [r.status for r in c.refunds]) for c in fake.of("record_status")]
    assert [s for s in shown if s[1]] == [
        ("cancelled", ["pending"]),
        ("refund_refused", ["refused"]),
        ("refund_retried", ["pending"]),
    ]
    [retry] = fake.of("record_status", lambda c: c.step == "refund_retried")
    assert retry.actor == STAFF


async def test_a_payment_the_provider_does_not_vouch_for_is_neither_credited_nor_refunded(
    task_queue: str,
) -> None:
    async with running(task_queue) as order:
        await order.place()
        await order.pay()
        stranger = PaymentReceived(
            provider="sandbox",
            transaction_id="TX-UNKNOWN",
            payment_id=f"PAY-{order.order_no}",
            amount_fen=5_290,
            currency="CNY",
            paid_at=T0,
        )
        order.fake.unvouched.add(stranger.transaction_id)
        await order.handle.signal(OrderWorkflow.payment_received, stranger)
        await order.fake.wait_for("confirm_payment")

        async def noted() -> OrderView | None:
            view = await order.view()
            return view if "payment_difference" in order.steps(view) else None

        view = await eventually(noted, "the difference noted on the order")
    fake = order.fake
    assert [c.payment.transaction_id for c in fake.of("confirm_payment")] == ["TX-UNKNOWN"]
    assert "TX-UNKNOWN" not in [r.payment.transaction_id for r in fake.of("record_payment")]
    assert fake.of("refund_payment") == []
    assert (view.paid_fen, view.refunded_fen, view.status) == (PAYABLE_FEN, 0, "fulfilling")


@asynccontextmanager
async def late_payments(task_queue: str) -> AsyncIterator[tuple[FakeBackOffice, Client]]:
    env = await time_skipping_server()
    fake = FakeBackOffice(new_order_no())
    fake.clock = env.get_current_time
    try:
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[LatePaymentRefundWorkflow],
            activities=fake.activities(),
        ):
            yield fake, env.client
    finally:
        await env.shutdown()


def late(fake: FakeBackOffice, transaction_id: str = "TX-LATE-1") -> LatePaymentInput:
    return LatePaymentInput(
        order_no=fake.order_no,
        payment=PaymentReceived(
            provider="sandbox",
            transaction_id=transaction_id,
            payment_id=f"PAY-{fake.order_no}",
            amount_fen=PAYABLE_FEN,
            currency="CNY",
            paid_at=T0,
        ),
    )


async def test_a_late_payment_is_booked_and_refunded_once_retried_after_a_refusal(
    task_queue: str,
) -> None:
    async with late_payments(task_queue) as (fake, client):
        fake.refunds_refused = 1
        handle: WorkflowHandle[
            LatePaymentRefundWorkflow, LatePaymentView
        ] = await client.start_workflow(
            LatePaymentRefundWorkflow.run,
            late(fake),
            id=late_payment_id("TX-LATE-1"),
            task_queue=task_queue,
        )
        # The retried refund waits until the second retry was answered: otherwise the workflow
        # may finish first, and a closed workflow's update is a different error.
        refunded = fake.hold("refund_payment", lambda _: fake.refunds_refused == 0)
        await fake.wait_for("record_status", lambda c: c.step == "refund_refused")
        refused = await handle.query(LatePaymentRefundWorkflow.view)
        retried = await handle.execute_update(LatePaymentRefundWorkflow.retry_refund, RETRY)
        again = await rejection(
            handle.execute_update(LatePaymentRefundWorkflow.retry_refund, RETRY)
        )
        refunded.set()
        result = await handle.result()
    assert (refused.status, refused.refused_reason) == (
        "refused",
        "refund exceeds the payment's balance",
    )
    assert retried.status == "refunding"
    assert again.type == "InvalidStateError"
    assert (result.status, result.refund_no, result.amount_fen) == (
        "refunded",
        "RF-TX-LATE-1",
        PAYABLE_FEN,
    )
    [booked] = fake.of("record_payment")
    assert (booked.payment.transaction_id, booked.accepted) == ("TX-LATE-1", False)
    refunds = fake.of("refund_payment")
    assert [(r.refund_no, r.amount_fen) for r in refunds] == [("RF-TX-LATE-1", PAYABLE_FEN)] * 2
    shown = fake.of("record_status")
    assert [(c.step, c.seq, [r.status for r in c.refunds]) for c in shown] == [
        ("late_payment_refund", 0, ["pending"]),
        ("refund_refused", 0, ["refused"]),
        ("refund_retried", 0, ["pending"]),
    ]
    assert len({c.key for c in shown}) == 3


async def test_a_late_copy_of_a_payment_already_recorded_changes_nothing(
    task_queue: str,
) -> None:
    async with late_payments(task_queue) as (fake, client):
        fake.recorded.add("TX-TAKEN")
        result = await client.execute_workflow(
            LatePaymentRefundWorkflow.run,
            late(fake, "TX-TAKEN"),
            id=late_payment_id("TX-TAKEN"),
            task_queue=task_queue,
        )
    assert result.status == "duplicate"
    assert fake.of("record_payment") == fake.of("refund_payment") == fake.of("record_status") == []


async def test_a_late_payment_the_provider_does_not_hold_is_only_a_difference(
    task_queue: str,
) -> None:
    async with late_payments(task_queue) as (fake, client):
        fake.unvouched.add("TX-LATE-2")
        result = await client.execute_workflow(
            LatePaymentRefundWorkflow.run,
            late(fake, "TX-LATE-2"),
            id=late_payment_id("TX-LATE-2"),
            task_queue=task_queue,
        )
    assert result.status == "difference"
    assert fake.of("record_payment") == []
    assert fake.of("refund_payment") == []
    assert fake.of("record_status") == []
