"""After-sales on the time-skipping server with fakes (issue 6): opened by a delivered order,
approved automatically past the SLA, rejected with a reason (units free again), withdrawn,
racing requests for the last unit, refunds from the stored allocations, the window closing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError

from api.errors import Problem
from api.workflow_calls import answer, resent_if_lost
from models.contracts import order as o
from models.contracts.after_sale import (
    AfterSaleDecision,
    AfterSaleRequest,
    AfterSaleView,
    AfterSaleWithdrawal,
    InspectedLine,
    ReturnInspection,
    ReturnShipment,
)
from models.domain.refunds import RefundRequestLine
from models.domain.shipping import package_value
from tests.workflows.fakes import CUSTOMER, LINES, STAFF
from tests.workflows.scenario import Scenario, rejection, running
from workflows.after_sale import AfterSaleWorkflow
from workflows.order import OrderWorkflow

TIMINGS = o.OrderTimings(
    after_sale_approval_sla=timedelta(hours=48), after_sale_window=timedelta(days=15)
)


def ask(as_no: str, line_no: int, quantity: int) -> AfterSaleRequest:
    return AfterSaleRequest(
        as_no=as_no,
        type="refund_only",
        lines=[RefundRequestLine(line_no=line_no, quantity=quantity)],
        reason="质量问题",
        actor=CUSTOMER,
    )


async def delivered(order: Scenario) -> None:
    await order.place(o.OrderInput(order_no=order.order_no, timings=TIMINGS))
    await order.pay()
    package_no = order.fake.plans[0].package_no
    await order.pack(package_no)
    await order.hand_over(package_no)
    await order.push(package_no, "collected", "delivered")
    await order.fake.wait_status("delivered")


def refunds(order: Scenario) -> list[o.RefundRequest]:
    return list(order.fake.of("refund_payment"))


async def test_an_undecided_after_sale_is_approved_past_its_sla_and_refunded_from_allocations(
    task_queue: str,
) -> None:
    async with running(task_queue) as order:
        await delivered(order)
        view = await order.handle.execute_update(
            OrderWorkflow.request_after_sale, ask("AS1", line_no=1, quantity=1)
        )
        await order.fake.wait_for("record_after_sale_step", lambda s: s.step == "requested")
        await order.skip(timedelta(hours=47))
        assert refunds(order) == []
        await order.skip(timedelta(hours=2))
        refund = await order.fake.wait_for("refund_payment")
    assert (view.status, view.refund_fen) == (
        "requested",
        package_value(LINES, [o.PackageLine(line_no=1, sku_id=101, quantity=1)]),
    )
    assert (refund.refund_no, refund.amount_fen) == ("RFAS1", 4_500)
    steps = [s.step for s in order.fake.of("record_after_sale_step")]
    assert steps == ["requested", "auto_approved", "refunding", "refunded"]


async def test_a_rejection_needs_a_reason_and_frees_the_units_for_a_later_request(
    task_queue: str,
) -> None:
    async with running(task_queue) as order:
        await delivered(order)
        await order.handle.execute_update(OrderWorkflow.request_after_sale, ask("AS1", 2, 1))
        child = order.env.client.get_workflow_handle_for(AfterSaleWorkflow.run, "aftersale-AS1")
        await order.fake.wait_for("record_after_sale_step", lambda s: s.step == "requested")
        no_reason = await rejection(
            child.execute_update(
                AfterSaleWorkflow.decide, AfterSaleDecision(actor=STAFF, approve=False)
            )
        )
        rejected = await child.execute_update(
            AfterSaleWorkflow.decide,
            AfterSaleDecision(actor=STAFF, approve=False, reason="超过质保期"),
        )
        await child.result()
        taken = await rejection(
            order.handle.execute_update(OrderWorkflow.request_after_sale, ask("AS2", 2, 2))
        )
        again = await order.handle.execute_update(
            OrderWorkflow.request_after_sale, ask("AS2", 2, 1)
        )
    assert no_reason.type == "InvalidInputError"
    assert (rejected.status, rejected.decision_reason) == ("rejected", "超过质保期")
    assert taken.type == "AfterSaleQuantityError"  # one was bought
    assert (again.status, again.refund_fen) == ("requested", 3_000)
    assert refunds(order) == []


async def test_two_requests_racing_for_the_last_unit_give_one_after_sale(task_queue: str) -> None:
    async with running(task_queue) as order:
        await delivered(order)
        results = await asyncio.gather(
            order.handle.execute_update(OrderWorkflow.request_after_sale, ask("AS1", 2, 1)),
            order.handle.execute_update(OrderWorkflow.request_after_sale, ask("AS2", 2, 1)),
            return_exceptions=True,
        )
    opened = [r for r in results if not isinstance(r, BaseException)]
    failed = [r for r in results if isinstance(r, WorkflowUpdateFailedError)]
    assert len(opened) == 1 and len(failed) == 1
    assert "AfterSaleQuantityError" in str(failed[0].cause)


async def test_a_withdrawn_after_sale_refunds_nothing_and_the_order_closes_after_its_window(
    task_queue: str,
) -> None:
    async with running(task_queue) as order:
        await delivered(order)
        await order.handle.execute_update(OrderWorkflow.request_after_sale, ask("AS1", 1, 2))
        child = order.env.client.get_workflow_handle_for(AfterSaleWorkflow.run, "aftersale-AS1")
        await order.fake.wait_for("record_after_sale_step", lambda s: s.step == "requested")
        withdrawn = await child.execute_update(
            AfterSaleWorkflow.withdraw, AfterSaleWithdrawal(actor=CUSTOMER)
        )
        # The withdrawn after-sale ends on its own, so a late decision meets either the
        # validator (still running) or a closed process (an update the closing workflow lost is
        # sent again, as the API does); the API answers 409 either way.
        with pytest.raises(Problem) as late:
            await answer(
                resent_if_lost(
                    lambda: child.execute_update(
                        AfterSaleWorkflow.decide,
                        AfterSaleDecision(actor=STAFF, approve=True),
                        id="late-decision",
                    )
                ),
                kind="after-sale",
                ident="AS1",
            )
        view = await order.result()
    assert withdrawn.status == "withdrawn"
    assert late.value.status == 409
    assert late.value.type in ("/problems/InvalidStateError", "/problems/closed")
    assert view.status == "closed"
    assert refunds(order) == []


async def test_an_order_not_yet_delivered_takes_only_a_refund_only_request(
    task_queue: str,
) -> None:
    async with running(task_queue) as order:
        await order.place(o.OrderInput(order_no=order.order_no, timings=TIMINGS))
        await order.pay()
        refused = await rejection(
            order.handle.execute_update(
                OrderWorkflow.request_after_sale,
                ask("AS1", 1, 1).model_copy(update={"type": "return_and_refund"}),
            )
        )
    assert refused.type == "InvalidStateError"
    assert "not delivered yet" in refused.message


def returned(as_no: str, line_no: int, quantity: int) -> AfterSaleRequest:
    return ask(as_no, line_no, quantity).model_copy(update={"type": "return_and_refund"})


async def awaiting_return(
    order: Scenario, request: AfterSaleRequest
) -> WorkflowHandle[AfterSaleWorkflow, AfterSaleView]:
    """Open the return, approve it, and answer its workflow once it waits for the parcel."""
    await order.handle.execute_update(OrderWorkflow.request_after_sale, request)
    child = order.env.client.get_workflow_handle_for(
        AfterSaleWorkflow.run, f"aftersale-{request.as_no}"
    )
    await order.fake.wait_for("record_after_sale_step", lambda s: s.step == "requested")
    await child.execute_update(
        AfterSaleWorkflow.decide, AfterSaleDecision(actor=STAFF, approve=True)
    )
    await order.fake.wait_for("record_after_sale_step", lambda s: s.step == "awaiting_return")
    return child


async def test_a_return_not_shipped_back_in_time_closes_and_frees_the_units(
    task_queue: str,
) -> None:
    async with running(task_queue) as order:
        await delivered(order)
        child = await awaiting_return(order, returned("AS1", 2, 1))
        await order.skip(timedelta(days=6))
        assert order.fake.of("record_after_sale_step", lambda s: s.step == "return_expired") == []
        await order.skip(timedelta(days=2))
        ended = await child.result()
        again = await order.handle.execute_update(
            OrderWorkflow.request_after_sale, ask("AS2", 2, 1)
        )
    assert ended.status == "closed"
    assert again.status == "requested"  # the unit was never returned: it can be asked again
    assert refunds(order) == []


async def test_a_return_is_refunded_once_the_warehouse_inspected_every_unit(
    task_queue: str,
) -> None:
    async with running(task_queue) as order:
        await delivered(order)
        await order.handle.execute_update(OrderWorkflow.request_after_sale, returned("AS1", 1, 2))
        child = order.env.client.get_workflow_handle_for(AfterSaleWorkflow.run, "aftersale-AS1")
        await order.fake.wait_for("record_after_sale_step", lambda s: s.step == "requested")
        early = await rejection(
            child.execute_update(
                AfterSaleWorkflow.ship_back,
                ReturnShipment(actor=CUSTOMER, carrier_code="SF", tracking_no="SF123456"),
            )
        )
        await child.execute_update(
            AfterSaleWorkflow.decide, AfterSaleDecision(actor=STAFF, approve=True)
        )
        await order.fake.wait_for("record_after_sale_step", lambda s: s.step == "awaiting_return")
        shipped = await child.execute_update(
            AfterSaleWorkflow.ship_back,
            ReturnShipment(actor=CUSTOMER, carrier_code="SF", tracking_no="SF123456"),
        )
        short = await rejection(
            child.execute_update(
                AfterSaleWorkflow.inspect,
                ReturnInspection(
                    actor=STAFF, lines=[InspectedLine(line_no=1, sellable=1, damaged=0)]
                ),
            )
        )
        received = await child.execute_update(
            AfterSaleWorkflow.inspect,
            ReturnInspection(actor=STAFF, lines=[InspectedLine(line_no=1, sellable=1, damaged=1)]),
        )
        done = await child.result()
    assert early.type == "InvalidStateError"  # nothing to ship back before it is approved
    assert shipped.status == "returning"
    assert short.type == "InvalidInputError"  # every returned unit must be inspected
    assert received.status == "received"
    [inbound] = order.fake.of("receive_return")
    assert (inbound.warehouse_id, inbound.lines[0][1]) == (1, 101)
    [refund] = refunds(order)
    assert (refund.amount_fen, done.status) == (9_000, "refunded")  # both units of line 1


async def returned_and_inspected(order: Scenario, request: AfterSaleRequest) -> None:
    await order.handle.execute_update(OrderWorkflow.request_after_sale, request)
    child = order.env.client.get_workflow_handle_for(
        AfterSaleWorkflow.run, f"aftersale-{request.as_no}"
    )
    await order.fake.wait_for("record_after_sale_step", lambda s: s.step == "requested")
    await child.execute_update(
        AfterSaleWorkflow.decide, AfterSaleDecision(actor=STAFF, approve=True)
    )
    await order.fake.wait_for("record_after_sale_step", lambda s: s.step == "awaiting_return")
    await child.execute_update(
        AfterSaleWorkflow.ship_back,
        ReturnShipment(actor=CUSTOMER, carrier_code="SF", tracking_no="SF20261122"),
    )
    inspected = [
        InspectedLine(line_no=line.line_no, sellable=0, damaged=line.quantity)
        for line in request.lines
    ]
    await child.execute_update(
        AfterSaleWorkflow.inspect, ReturnInspection(actor=STAFF, lines=inspected)
    )


def exchange(as_no: str, line_no: int, quantity: int) -> AfterSaleRequest:
    return ask(as_no, line_no, quantity).model_copy(update={"type": "exchange"})


async def test_an_exchange_ships_the_same_units_again_through_a_new_package(
    task_queue: str,
) -> None:
    async with running(task_queue) as order:
        await delivered(order)
        await returned_and_inspected(order, exchange("AS1", 2, 1))
        reserved = await order.fake.wait_for("reserve_package")
        released = await order.fake.wait_step("PK1X", "released")
        done = await order.env.client.get_workflow_handle_for(
            AfterSaleWorkflow.run, "aftersale-AS1"
        ).result()
    assert (reserved.package_no, reserved.warehouse_id) == ("PK1X", 1)
    assert [(x.line_no, x.sku_id, x.quantity) for x in reserved.lines] == [(2, 102, 1)]
    assert released.status == "released"
    assert done.status == "exchanged"
    assert refunds(order) == []  # an exchange refunds nothing


async def test_an_exchange_without_stock_for_the_replacement_is_refunded(task_queue: str) -> None:
    async with running(task_queue) as order:
        await delivered(order)
        order.fake.no_stock_for_packages = True
        await returned_and_inspected(order, exchange("AS1", 2, 1))
        refund = await order.fake.wait_for("refund_payment")
        await order.fake.wait_for("record_after_sale_step", lambda s: s.step == "refunded")
        steps = [s.step for s in order.fake.of("record_after_sale_step")]
    assert refund.amount_fen == 3_000
    assert "exchange_impossible" in steps and steps[-1] == "refunded"


async def test_an_approval_is_recorded_before_the_refund_it_starts(task_queue: str) -> None:
    """The refund's steps never overtake the decision's (the projection keeps who decided)."""
    async with running(task_queue) as order:
        await delivered(order)
        await order.handle.execute_update(OrderWorkflow.request_after_sale, ask("AS1", 1, 1))
        child = order.env.client.get_workflow_handle_for(AfterSaleWorkflow.run, "aftersale-AS1")
        await order.fake.wait_for("record_after_sale_step", lambda s: s.step == "requested")
        slow = order.fake.hold("record_after_sale_step", lambda s: s.step == "approved")
        decision = asyncio.create_task(
            child.execute_update(
                AfterSaleWorkflow.decide, AfterSaleDecision(actor=STAFF, approve=True)
            )
        )
        await order.fake.wait_for("record_after_sale_step", lambda s: s.step == "approved")
        await asyncio.sleep(0.5)  # the refund would start now if it did not wait
        early = [s.step for s in order.fake.of("record_after_sale_step")]
        slow.set()
        await decision
        await order.fake.wait_for("refund_payment")
        await order.fake.wait_for("record_after_sale_step", lambda s: s.step == "refunded")
    assert early == ["requested", "approved"]
    steps = [(s.step, s.seq) for s in order.fake.of("record_after_sale_step")]
    assert steps == [("requested", 1), ("approved", 2), ("refunding", 3), ("refunded", 4)]
