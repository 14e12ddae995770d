"""PurchaseOrderWorkflow (DESIGN §6.5) on the time-skipping server with fake activities: the
approval SLA and its tiers, rejection and cancellation, receipts with their tolerance, warehouse
and idempotency checks, and the three ways a PO closes with what it releases from in-transit."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta

from temporalio.client import (
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateStage,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from models.contracts.purchasing import (
    CloseRequest,
    Decision,
    InTransitRequest,
    PoPolicy,
    PoTimings,
    ReceiveGoodsRequest,
    default_approval_policy,
)
from models.domain.purchasing import InTransitChange
from tests.support.temporal import time_skipping_server
from tests.workflows.fakes import WAIT_S
from tests.workflows.po_fakes import (
    BUYER,
    FINANCE,
    MANAGER,
    FakePurchasing,
    PoScenario,
    new_po_input,
    po_lines,
    running,
    staff,
)
from tests.workflows.scenario import rejection
from workflows.purchase_order import PurchaseOrderWorkflow

SLA = timedelta(hours=24)
AUTO_CLOSE = timedelta(days=14)
MINUTE = timedelta(minutes=1)
# A held local activity keeps its workflow task open; the worker heartbeats that task at 80 % of
# its timeout, and only then does the server deliver updates that came meanwhile. A short
# timeout lets a test send an update while a step is held, in about a second.
SHORT_TASK = timedelta(seconds=1)


def changes(request: InTransitRequest) -> dict[int, int]:
    """line_no → units of one in-transit movement."""
    return {change.line_no: change.quantity for change in request.changes}


def removed(receipts: list[ReceiveGoodsRequest]) -> dict[int, int]:
    """line_no → units the receipts took off in-transit, in all."""
    total: dict[int, int] = {}
    for receipt in receipts:
        for change in receipt.in_transit_removed:
            total[change.line_no] = total.get(change.line_no, 0) + change.quantity
    return total


async def test_approval_sla_reminds_then_escalates_and_a_late_approval_still_sends(
    task_queue: str,
) -> None:
    async with running(task_queue) as po:
        fake = po.fake
        submitted = await po.submit()
        await po.skip(SLA - MINUTE)
        before_reminder = (await po.view(), list(fake.steps()))
        await po.skip(2 * MINUTE)
        reminder = await fake.wait_step("approval_reminder")
        await po.skip(SLA - 2 * MINUTE)
        before_escalation = (await po.view(), list(fake.steps()))
        await po.skip(2 * MINUTE)
        escalation = await fake.wait_step("approval_escalated")
        approved = await po.approve(MANAGER, "purchasing_manager")
        await fake.wait_step("sent_to_supplier")
        view = await po.view()
    assert (submitted.status, submitted.required_roles) == (
        "pending_approval",
        ["purchasing_manager"],
    )
    assert submitted.amount_fen == 120_000
    early, early_steps = before_reminder
    assert (early.reminded, early.escalated) == (False, False)
    assert early_steps == ["created", "submitted"]
    assert (reminder.view.reminded, reminder.view.escalated) == (True, False)
    assert reminder.status == "pending_approval"
    assert reminder.detail == {"waiting_s": 86_400}
    waited = fake.step_at("approval_reminder") - fake.step_at("submitted")
    assert SLA <= waited < SLA + 2 * MINUTE
    later, later_steps = before_escalation
    assert (later.reminded, later.escalated) == (True, False)
    assert later_steps == ["created", "submitted", "approval_reminder"]
    assert (escalation.view.reminded, escalation.view.escalated) == (True, True)
    waited = fake.step_at("approval_escalated") - fake.step_at("approval_reminder")
    assert SLA <= waited < SLA + 2 * MINUTE
    assert approved.status in {"approved", "sent"}  # the send may overtake the answer
    assert approved.approvals == {"purchasing_manager": MANAGER.user_id}
    [raised] = fake.of("move_po_in_transit")
    assert raised.raise_ is True
    assert raised.key == "sent"
    assert raised.changes == [
        InTransitChange(line_no=1, sku_id=201, warehouse_id=1, quantity=100),
        InTransitChange(line_no=2, sku_id=202, warehouse_id=1, quantity=40),
    ]
    assert view.status == "sent"
    assert fake.steps()[-3:] == ["approval_escalated", "approved_as_purchasing_manager",
                                 "sent_to_supplier"]  # fmt: skip


async def test_above_the_threshold_manager_and_finance_approve_as_two_other_people(
    task_queue: str,
) -> None:
    submitter = staff(1, "buyer", "purchasing_manager")
    both = staff(4, "purchasing_manager", "finance")
    po_input = new_po_input(policy=PoPolicy(approval=default_approval_policy(100_000)))
    async with running(task_queue, po_input) as po:
        fake = po.fake
        submitted = await po.submit(submitter)
        own = await rejection(po.approve(submitter, "purchasing_manager"))
        first = await po.approve(both, "purchasing_manager")
        twice = await rejection(po.approve(both, "finance"))
        no_role = await rejection(po.approve(MANAGER, "finance"))
        unneeded = await rejection(po.approve(staff(5, "ceo"), "ceo"))
        middle = await po.view()
        moved_before = list(fake.of("move_po_in_transit"))
        second = await po.approve(FINANCE, "finance")
        await fake.wait_step("sent_to_supplier")
        view = await po.view()
    assert submitted.amount_fen == 120_000
    assert submitted.required_roles == ["finance", "purchasing_manager"]
    assert (own.type, own.message) == (
        "ApprovalError",
        "user 1 submitted this PO and cannot approve it",
    )
    assert first.status == "pending_approval"
    assert first.approvals == {"purchasing_manager": 4}
    assert twice.type == "ApprovalError"
    assert "one role per user" in twice.message
    assert no_role.type == "ApprovalError"
    assert no_role.message == "user 2 does not hold role 'finance'"
    assert unneeded.type == "ApprovalError"
    assert middle.status == "pending_approval"
    assert middle.approvals == {"purchasing_manager": 4}
    assert moved_before == []
    assert second.status in {"approved", "sent"}  # the send may overtake the answer
    assert second.approvals == {"purchasing_manager": 4, "finance": 3}
    assert view.status == "sent"
    [raised] = fake.of("move_po_in_transit")
    assert raised.raise_ is True
    assert changes(raised) == {1: 100, 2: 40}
    assert fake.steps() == ["created", "submitted", "approved_as_purchasing_manager",
                            "approved_as_finance", "sent_to_supplier"]  # fmt: skip


async def test_a_rejection_needs_a_reason_and_ends_the_po_without_sending_it(
    task_queue: str,
) -> None:
    async with running(task_queue) as po:
        await po.submit()
        empty = await rejection(po.reject(MANAGER, ""))
        blank = await rejection(po.reject(MANAGER, "   "))
        outsider = await rejection(po.reject(FINANCE, "too expensive"))
        rejected = await po.reject(MANAGER, "supplier price above the contract")
        view = await po.result()
    fake = po.fake
    assert (empty.type, empty.message) == ("ApprovalError", "a rejection needs a reason")
    assert blank.type == "ApprovalError"
    assert outsider.type == "ApprovalError"
    assert rejected.status == view.status == "rejected"
    assert fake.of("move_po_in_transit") == []
    assert fake.of("receive_goods") == []
    assert fake.steps() == ["created", "submitted", "rejected"]
    [step] = fake.of("record_po_step", lambda s: s.step == "rejected")
    assert step.detail == {"reason": "supplier price above the contract"}
    assert step.actor == MANAGER.actor


async def test_a_draft_is_cancelled_without_any_in_transit(task_queue: str) -> None:
    async with running(task_queue) as po:
        no_reason = await rejection(po.cancel(BUYER, " "))
        cancelled = await po.cancel(BUYER, "ordered from another supplier")
        view = await po.result()
        queried = await asyncio.wait_for(po.view(), WAIT_S)
    fake = po.fake
    assert no_reason.type == "InvalidInputError"
    assert cancelled.status == view.status == queried.status == "cancelled"
    assert view.required_roles == []
    assert fake.of("move_po_in_transit") == []
    assert fake.steps() == ["created", "cancelled"]


async def test_auto_close_after_the_last_receipt_releases_what_is_still_open(
    task_queue: str,
) -> None:
    async with running(task_queue) as po:
        fake = po.fake
        await po.sent()
        first = await po.receive("D1", po.line(1, 60))
        await po.skip(AUTO_CLOSE - MINUTE)
        before_second = (await po.view(), list(fake.releases()))
        second = await po.receive("D2", po.line(1, 10, rejected=2))
        await po.skip(AUTO_CLOSE - MINUTE)  # 28 days after the first, 14 after the last
        still_open = (await po.view(), list(fake.releases()))
        await po.skip(2 * MINUTE)
        view = await po.result()
    assert first.receipt_no == f"RC{po.input.po_no[2:]}01"
    assert second.receipt_no == f"RC{po.input.po_no[2:]}02"
    assert [removed([r]) for r in fake.of("receive_goods")] == [{1: 60}, {1: 8}]
    for open_view, releases in (before_second, still_open):
        assert open_view.status == "receiving"
        assert open_view.close_reason is None
        assert releases == []
    assert still_open[0].figures.lines[0].accepted == 68
    assert (view.status, view.close_reason) == ("closed", "auto_closed")
    [release] = fake.releases()
    assert (release.key, release.raise_) == ("closed", False)
    assert changes(release) == {1: 32, 2: 40}  # open: 100 − 68 accepted; 40
    waited = fake.step_at("auto_closed") - fake.step_at("received", last=True)
    assert AUTO_CLOSE <= waited < AUTO_CLOSE + 2 * MINUTE
    [closed] = fake.of("record_po_step", lambda s: s.step == "auto_closed")
    assert closed.detail == {"released": 72}


async def test_staff_close_short_releases_the_rest_and_refuses_later_receipts(
    task_queue: str,
) -> None:
    async with running(task_queue, task_timeout=SHORT_TASK) as po:
        fake = po.fake
        await po.sent()
        await po.receive("D1", po.line(1, 50))
        gate = fake.hold("move_po_in_transit", lambda r: not r.raise_)
        closing = await po.handle.start_update(
            PurchaseOrderWorkflow.close_short,
            CloseRequest(by=MANAGER, reason="supplier cannot deliver the rest"),
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        )
        await fake.wait_for("move_po_in_transit", lambda r: not r.raise_)
        late = await rejection(po.receive("D2", po.line(2, 40)))
        again = await rejection(po.close_short(MANAGER, "twice"))
        gate.set()
        closed = await asyncio.wait_for(closing.result(), WAIT_S)
        view = await po.result()
    assert (late.type, late.message) == ("InvalidStateError", "the PO is being closed")
    assert again.type == "InvalidStateError"
    assert (closed.status, closed.close_reason) == ("closed", "closed_short")
    assert view == closed
    assert view.receipts == [f"RC{po.input.po_no[2:]}01"]
    assert len(fake.of("receive_goods")) == 1
    [release] = fake.releases()
    assert changes(release) == {1: 50, 2: 40}
    [step] = fake.of("record_po_step", lambda s: s.step == "closed_short")
    assert step.actor == MANAGER.actor
    assert step.detail == {"released": 90, "note": "supplier cannot deliver the rest"}


async def test_a_repeated_receipt_key_is_the_same_receipt(task_queue: str) -> None:
    async with running(task_queue) as po:
        await po.sent()
        first = await po.receive("scan-7", po.line(1, 30))
        again = await po.receive("scan-7", po.line(1, 30))
        view = await po.view()
    assert first.duplicate is False
    assert again.duplicate is True
    assert again.receipt_no == first.receipt_no
    assert again.figures == first.figures
    assert len(po.fake.of("receive_goods")) == 1
    assert view.receipts == [first.receipt_no]
    assert view.figures.lines[0].accepted == 30
    assert po.fake.steps().count("received") == 1


async def test_over_delivery_beyond_tolerance_is_refused_within_it_accepted(
    task_queue: str,
) -> None:
    async with running(task_queue) as po:
        fake = po.fake
        await po.sent()
        too_many = await rejection(po.receive("D1", po.line(1, 106)))  # 100 + 5 % = 105
        unchanged = await po.view()
        within = await po.receive("D2", po.line(1, 108, rejected=3))  # 105 accepted
        one_more = await rejection(po.receive("D3", po.line(1, 1)))
        rest = await po.receive("D4", po.line(2, 40))
        view = await po.result()
    assert too_many.type == "OverDeliveryError"
    assert "at most 105" in too_many.message
    assert unchanged.figures.totals.received == 0
    assert unchanged.receipts == []
    over = within.figures.lines[0]
    assert (over.received, over.accepted, over.rejected, over.open, over.over) == (
        108, 105, 3, 0, 5
    )  # fmt: skip
    assert one_more.type == "OverDeliveryError"
    assert [removed([r]) for r in fake.of("receive_goods")] == [{1: 100}, {2: 40}]
    assert rest.figures.fully_received
    assert (view.status, view.close_reason) == ("closed", "fully_received")
    assert view.receipts == [within.receipt_no, rest.receipt_no]
    assert fake.releases() == []
    assert len(fake.of("move_po_in_transit")) == 1
    [closed] = fake.of("record_po_step", lambda s: s.step == "fully_received")
    assert closed.detail == {"released": 0}


async def test_a_receipt_for_another_warehouses_line_is_refused(task_queue: str) -> None:
    async with running(task_queue, new_po_input(lines=po_lines(1, 2))) as po:
        await po.sent()
        wrong = await rejection(po.receive("W1", po.line(1, 5), po.line(2, 5), warehouse_id=1))
        unchanged = await po.view()
        right = await po.receive("W2", po.line(2, 5), warehouse_id=2)
    assert wrong.type == "WrongWarehouseError"
    assert wrong.message == "PO lines [2] are for another warehouse than 1"
    assert unchanged.figures.totals.received == 0
    [goods] = po.fake.of("receive_goods")
    assert goods.request.warehouse_id == 2
    assert goods.in_transit_removed == [
        InTransitChange(line_no=2, sku_id=202, warehouse_id=2, quantity=5)
    ]
    assert right.figures.lines[1].accepted == 5


# --- the two below fail against the current workflow (see their docstrings) -------------------


async def test_an_auto_close_refuses_receipts_while_it_releases_in_transit(task_queue: str) -> None:
    """A receipt arriving while the auto-close releases in-transit must be refused, as it is
    while a close-short does the same.

    Fails now: the timeout branch of _receive_until_closed (workflows/purchase_order.py) sets no
    `_close` and the status stays "receiving" until _closed's last step, so _may_receive accepts
    the receipt; it takes off in-transit units the close has just released."""
    async with running(task_queue, task_timeout=SHORT_TASK) as po:
        fake = po.fake
        await po.sent()
        await po.receive("D1", po.line(1, 60))
        gate = fake.hold("move_po_in_transit", lambda r: not r.raise_)
        await po.skip(AUTO_CLOSE)  # not past it: a held step stops time skipping
        await fake.wait_for("move_po_in_transit", lambda r: not r.raise_)
        late = asyncio.create_task(po.receive("D2", po.line(1, 10)))
        # Refused (as it should be) or taken (receive_goods called): either ends the wait.
        await first_done(late, fake.wait_for("receive_goods", count=2))
        gate.set()
        [outcome] = await asyncio.gather(late, return_exceptions=True)
        view = await po.result()
    assert_in_transit_balanced(po)
    assert isinstance(outcome, WorkflowUpdateFailedError), f"accepted while closing: {outcome}"
    assert isinstance(outcome.cause, ApplicationError)
    assert outcome.cause.type == "InvalidStateError"
    assert (view.status, view.close_reason) == ("closed", "auto_closed")
    assert len(view.receipts) == len(fake.of("receive_goods")) == 1


async def test_an_auto_close_waits_for_a_receipt_in_flight(task_queue: str) -> None:
    """A receipt accepted before the auto-close timer fires must be counted before the close
    computes what it releases, as the other two closes wait for it (the receipt lock).

    Fails now: the timeout branch of _receive_until_closed closes at once, releasing the units
    the receipt in flight then takes off in-transit again; that receipt's "received" step then
    sets the closed PO back to "receiving", and the workflow ends so."""
    auto_close = timedelta(seconds=2)  # passes in real time: a held step stops time skipping
    po_input = new_po_input(timings=PoTimings(auto_close_after=auto_close))
    async with running(task_queue, po_input, task_timeout=SHORT_TASK) as po:
        fake = po.fake
        await po.sent()
        await po.receive("D1", po.line(1, 60))
        gate = fake.hold("receive_goods", lambda r: r.request.receipt_key == "D2")
        second = asyncio.create_task(po.receive("D2", po.line(1, 10)))
        await fake.wait_for("receive_goods", count=2)
        # With the receipt held, a correct workflow does not close: bound the wait for that.
        await first_done(fake.wait_step("auto_closed"), within=3 * auto_close.total_seconds())
        gate.set()
        received = await asyncio.wait_for(second, WAIT_S)
        view = await po.result()
    assert_in_transit_balanced(po)
    assert (view.status, view.close_reason) == ("closed", "auto_closed")
    assert view.receipts[-1] == received.receipt_no
    assert view.figures.lines[0].accepted == 70


async def first_done(*waits: Awaitable[object], within: float = WAIT_S) -> None:
    """Until the first of `waits` ends, `within` seconds at most; what this started for the
    others is cancelled (tasks passed in keep running)."""
    started = [asyncio.ensure_future(wait) for wait in waits]
    await asyncio.wait(started, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    for wait, task in zip(waits, started, strict=True):
        if task is not wait:
            task.cancel()


def assert_in_transit_balanced(po: PoScenario) -> None:
    """Raised on sending = taken off by receipts + released on closing, line by line: in-transit
    of the PO's SKUs is back where it was before the PO."""
    [raised] = po.fake.of("move_po_in_transit", lambda r: r.raise_)
    released = [changes(r) for r in po.fake.releases()]
    taken = removed(po.fake.of("receive_goods"))
    for line, up in changes(raised).items():
        down = taken.get(line, 0) + sum(r.get(line, 0) for r in released)
        assert down == up, f"PO line {line}: {up} raised, {down} taken off in-transit"


async def test_the_drafter_approves_none_even_holding_the_role_when_another_submits(
    task_queue: str,
) -> None:
    drafter = staff(1, "buyer", "purchasing_manager", "finance")
    po_input = new_po_input().model_copy(update={"created_by": drafter})
    async with running(task_queue, po_input) as po:
        await po.submit(staff(6, "buyer"))
        own = await rejection(po.approve(drafter, "purchasing_manager"))
        approved = await po.approve(MANAGER, "purchasing_manager")
    assert (own.type, own.message) == (
        "ApprovalError",
        "user 1 drafted this PO and cannot approve it",
    )
    assert approved.status == "approved"


async def test_a_submit_delivered_with_the_start_is_not_undone_by_the_created_step(
    task_queue: str,
) -> None:
    """Update-with-start hands the submit to the workflow's first activation, where updates
    are handled before the run's first step; that step must not put the PO back in draft
    (it did, and the PO then refused every approval as "purchase order is draft")."""
    env = await time_skipping_server()
    fake = FakePurchasing()
    fake.clock = env.get_current_time
    po_input = new_po_input()
    try:
        async with Worker(env.client, task_queue=task_queue, workflows=[PurchaseOrderWorkflow],
                          activities=fake.activities()):  # fmt: skip
            start = WithStartWorkflowOperation(
                PurchaseOrderWorkflow.run,
                po_input,
                id=f"po-{po_input.po_no}",
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            )
            submitted = await env.client.execute_update_with_start_workflow(
                PurchaseOrderWorkflow.submit, BUYER, start_workflow_operation=start
            )
            handle = await start.workflow_handle()
            approved = await handle.execute_update(
                PurchaseOrderWorkflow.approve, Decision(by=MANAGER, role="purchasing_manager")
            )
            await fake.wait_step("sent_to_supplier")
    finally:
        await env.shutdown()
    assert submitted.status == "pending_approval"
    assert approved.status == "approved"
    assert fake.steps()[:3] == ["created", "submitted", "approved_as_purchasing_manager"]
