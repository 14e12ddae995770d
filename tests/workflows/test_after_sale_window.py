"""The after-sale window on the time-skipping server with fakes (DESIGN §6.1 step 5, §6.3): a
completed order takes after-sale requests until its window ends; after that a request is refused
("its after-sale window has closed", a 409 over HTTP) while the after-sales already open finish,
and the order closes once they have."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from models.contracts import order as o
from models.contracts.after_sale import AfterSaleRequest, AfterSaleWithdrawal
from models.domain.refunds import RefundRequestLine
from tests.workflows.fakes import CUSTOMER, WAIT_S
from tests.workflows.scenario import Scenario, rejection, running
from workflows.after_sale import AfterSaleWorkflow
from workflows.order import OrderWorkflow

WINDOW = timedelta(days=3)
TIMINGS = o.OrderTimings(
    after_sale_window=WINDOW,
    after_sale_approval_sla=timedelta(days=30),  # the early requests stay open past the window
)


def ask(as_no: str) -> AfterSaleRequest:
    return AfterSaleRequest(
        as_no=as_no,
        type="refund_only",
        lines=[RefundRequestLine(line_no=1, quantity=1)],
        reason="质量问题",
        actor=CUSTOMER,
    )


async def completed(order: Scenario) -> o.OrderView:
    """Placed, paid, delivered, and received by the customer: its window starts now."""
    await order.place(o.OrderInput(order_no=order.order_no, timings=TIMINGS))
    await order.pay()
    package_no = order.fake.plans[0].package_no
    await order.pack(package_no)
    await order.hand_over(package_no)
    await order.push(package_no, "collected", "delivered")
    await order.fake.wait_status("delivered")
    await order.handle.execute_update(
        OrderWorkflow.request_after_sale, ask("AS1")
    )  # open before receipt: it is still open when the window ends
    await order.fake.wait_for("record_after_sale_step", lambda s: s.as_no == "AS1")
    return await order.handle.execute_update(
        OrderWorkflow.confirm_receipt, o.ConfirmReceipt(actor=CUSTOMER)
    )


async def window_ended(order: Scenario) -> None:
    """Until the order has handled its window's timer (the request's check reads that state)."""
    async with asyncio.timeout(WAIT_S):
        while True:
            events = list((await order.handle.fetch_history()).events)
            window = {
                e.event_id
                for e in events
                if e.HasField("timer_started_event_attributes")
                and e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta() == WINDOW
            }
            fired = next(
                (
                    n
                    for n, e in enumerate(events)
                    if e.HasField("timer_fired_event_attributes")
                    and e.timer_fired_event_attributes.started_event_id in window
                ),
                None,
            )
            if fired is not None and any(
                e.HasField("workflow_task_completed_event_attributes") for e in events[fired:]
            ):
                return
            await asyncio.sleep(0.05)


async def test_a_request_after_the_window_is_refused_while_open_after_sales_finish(
    task_queue: str,
) -> None:
    async with running(task_queue) as order:
        received = await completed(order)
        await order.skip(WINDOW - timedelta(hours=1))
        inside = await order.handle.execute_update(OrderWorkflow.request_after_sale, ask("AS2"))
        await order.fake.wait_for("record_after_sale_step", lambda s: s.as_no == "AS2")
        await order.skip(timedelta(hours=2))
        await window_ended(order)
        late = await rejection(
            order.handle.execute_update(OrderWorkflow.request_after_sale, ask("AS3"))
        )
        waiting = await order.view()
        for as_no in ("AS1", "AS2"):  # the open ones still end as usual; then the order closes
            child = order.env.client.get_workflow_handle_for(
                AfterSaleWorkflow.run, f"aftersale-{as_no}"
            )
            await child.execute_update(
                AfterSaleWorkflow.withdraw, AfterSaleWithdrawal(actor=CUSTOMER)
            )
        closed = await order.result()
    assert received.status == "completed"
    assert (inside.as_no, inside.status, inside.refund_fen) == ("AS2", "requested", 4_500)
    assert late.type == "InvalidStateError"
    assert late.message == "order is completed: its after-sale window has closed"
    assert waiting.status == "completed"  # not closed while AS1 and AS2 are open
    assert closed.status == "closed"
    opened = {s.as_no for s in order.fake.of("record_after_sale_step")}
    assert opened == {"AS1", "AS2"}  # no after-sale AS3 was ever started
    assert list(order.fake.of("refund_payment")) == []
