"""A presale's order (预售, DESIGN §6.8) on the time-skipping server with fake activities: the
deposit is its first payment; the balance window opens at its start (a timer), the balance is
asked for under its own payment key and, paid, the packages ship; unpaid at the window's end
the deposit is forfeited per the rule and the stock released; a cancel before the window
refunds the deposit per the refund rule."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from temporalio import activity
from temporalio.client import WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from models.contracts import order as o
from models.contracts.presale import JoinPresale, PresaleStep, PresaleTerms
from models.contracts.pricing import CartLine
from tests.support.temporal import time_skipping_server
from tests.workflows.fakes import CUSTOMER, PAYABLE_FEN, FakeBackOffice, new_order_no
from tests.workflows.scenario import Scenario, rejection
from workflows.after_sale import AfterSaleWorkflow
from workflows.order import OrderWorkflow
from workflows.order_presale import PRESALE_PATCH, STAGE_WITH_STEP_PATCH
from workflows.shipment import ShipmentWorkflow

DEPOSIT_FEN = 2_000
BALANCE_FEN = PAYABLE_FEN - DEPOSIT_FEN
OPENS_IN = timedelta(days=3)
LASTS = timedelta(days=2)


class FakePresale(FakeBackOffice):
    """The back office with a presale: 100 % of the deposit forfeited when the balance is not
    paid, 80 % refunded on a cancel before the window opens."""

    terms: PresaleTerms | None = None

    @activity.defn(name="join_presale")
    async def join_presale(self, request: JoinPresale) -> PresaleTerms:
        await self._record("join_presale", request)
        assert self.terms is not None
        return self.terms

    @activity.defn(name="record_presale_step")
    async def record_presale_step(self, step: PresaleStep) -> None:
        await self._record("record_presale_step", step)


@asynccontextmanager
async def presale_order(
    task_queue: str, kind: type[FakePresale] = FakePresale
) -> AsyncIterator[Scenario]:
    env = await time_skipping_server()
    fake = kind(new_order_no())
    fake.clock = env.get_current_time
    now = await env.get_current_time()
    fake.terms = PresaleTerms(
        presale_id=5,
        deposit_fen=DEPOSIT_FEN,
        balance_starts_at=now + OPENS_IN,
        balance_ends_at=now + OPENS_IN + LASTS,
        forfeit_percent=100,
        refund_percent=80,
    )
    try:
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[OrderWorkflow, ShipmentWorkflow, AfterSaleWorkflow],
            activities=fake.activities(),
        ):
            yield Scenario(env, task_queue, fake)
    finally:
        await env.shutdown()


async def place(order: Scenario, policy: o.OrderPolicy | None = None) -> o.PlacedOrder:
    request = o.PlaceOrderRequest(
        order_no=order.order_no, storefront="shop", api_key_id=1, customer_id=42,
        lines=[CartLine(sku_id=101, quantity=2)], presale_id=5,
        address=o.ShippingAddress(
            name="张三", phone="13800000000", region_code="310115", detail="世纪大道 1 号"
        ),
    )  # fmt: skip
    start = WithStartWorkflowOperation(
        OrderWorkflow.run,
        o.OrderInput(order_no=order.order_no, policy=policy or o.OrderPolicy()),
        id=f"order-{order.order_no}",
        task_queue=order.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    placed = await order.env.client.execute_update_with_start_workflow(
        OrderWorkflow.place, request, start_workflow_operation=start, id=f"place-{order.order_no}"
    )
    order.handle = await start.workflow_handle()
    return placed


async def patches(order: Scenario) -> str:
    history = await order.handle.fetch_history()
    return " ".join(
        payload.data.decode()
        for event in history.events
        if event.HasField("marker_recorded_event_attributes")
        for details in event.marker_recorded_event_attributes.details.values()
        for payload in details.payloads
    )


def terms(order: Scenario) -> PresaleTerms:
    found = order.fake.terms  # type: ignore[attr-defined]
    assert isinstance(found, PresaleTerms)
    return found


def stages(order: Scenario) -> list[tuple[str, int]]:
    """The stages the order told its presale, in order: with a timeline step or on their own."""
    told: list[PresaleStep] = []
    for call in order.fake.calls:
        if call.name == "record_presale_step":
            told.append(call.arg)
        elif call.name == "record_status" and call.arg.presale is not None:
            told.append(call.arg.presale)
    return [(s.stage, s.amount_fen) for s in told]


async def ask_payment(order: Scenario) -> o.OpenPaymentRequest:
    await order.handle.execute_update(
        OrderWorkflow.request_payment, o.PaymentRequest(actor=CUSTOMER)
    )
    asked: o.OpenPaymentRequest = order.fake.of("open_payment")[-1]
    return asked


async def test_the_balance_window_opens_at_its_start_and_the_paid_balance_ships(
    task_queue: str,
) -> None:
    async with presale_order(task_queue) as order:
        placed = await place(order)
        [quote] = order.fake.of("quote_order")
        assert quote.presale_id == 5  # priced at the presale price
        assert placed.presale is not None and placed.presale.deposit_fen == DEPOSIT_FEN
        deposit_ask = await ask_payment(order)
        await order.pay(DEPOSIT_FEN)
        await order.fake.wait_status("deposit_paid")
        before = await order.view()
        # Before the window opens the balance cannot be asked for and nothing ships.
        refused = await rejection(
            order.handle.execute_update(
                OrderWorkflow.request_payment, o.PaymentRequest(actor=CUSTOMER)
            )
        )
        await order.skip(OPENS_IN)
        opened = await order.fake.wait_status("balance_window_opened")  # the timer fired
        balance_ask = await ask_payment(order)
        await order.pay(BALANCE_FEN)
        await order.fake.wait_status("released_to_warehouses")
        view = await order.view()
        history = await patches(order)
    assert (deposit_ask.amount_fen, deposit_ask.payment_key) == (DEPOSIT_FEN, None)
    assert (before.status, before.paid_fen) == ("awaiting_payment", DEPOSIT_FEN)
    assert "deposit_paid" in order.steps(before)
    assert refused.type == "InvalidStateError"
    starts_at = terms(order).balance_starts_at
    assert starts_at <= opened.at < starts_at + timedelta(minutes=1)
    assert opened.detail["balance_fen"] == BALANCE_FEN
    assert balance_ask.amount_fen == BALANCE_FEN
    assert balance_ask.payment_key == f"{order.order_no}-B"  # a second payment, its own key
    assert view.status == "fulfilling"
    assert view.paid_fen == PAYABLE_FEN
    steps = [c.step for c in sorted(order.fake.of("record_status"), key=lambda c: c.seq)]
    assert steps == [
        "deposit_paid", "balance_window_opened", "paid", "released_to_warehouses"
    ], steps  # fmt: skip
    # Nothing was released to a warehouse before the balance was paid.
    [outbound] = order.fake.times("register_outbound")
    assert outbound >= starts_at
    assert stages(order) == [("deposit_paid", DEPOSIT_FEN), ("balance_paid", BALANCE_FEN)]
    # Each written by the timeline step that reaches it, in one write: an order shown paid is
    # never still counted as awaiting by its presale.
    with_step = {c.step: c.presale.stage for c in order.fake.of("record_status") if c.presale}
    assert with_step == {"deposit_paid": "deposit_paid", "paid": "balance_paid"}
    assert order.fake.of("record_presale_step") == []
    assert order.fake.of("release_stock") == []
    assert PRESALE_PATCH in history and STAGE_WITH_STEP_PATCH in history


async def test_a_balance_unpaid_at_the_window_end_forfeits_the_deposit_and_releases_stock(
    task_queue: str,
) -> None:
    async with presale_order(task_queue) as order:
        await place(order)
        await order.pay(DEPOSIT_FEN)
        view = await order.result()  # every timer skipped: window opens, then ends unpaid
    ends_at = terms(order).balance_ends_at
    assert view.status == "cancelled"
    cancelled = order.at(view, "cancelled")
    assert ends_at <= cancelled < ends_at + timedelta(minutes=1)
    assert "deposit_forfeited" in order.steps(view)
    assert stages(order)[-1] == ("forfeited", DEPOSIT_FEN)  # 100 % kept, per the rule
    assert order.fake.of("refund_payment") == []  # nothing of it goes back
    assert (view.paid_fen, view.refunded_fen) == (DEPOSIT_FEN, 0)
    [release] = order.fake.of("release_stock")
    assert (release.order_no, release.reason) == (order.order_no, "balance not paid in time")
    assert order.fake.of("register_outbound") == []  # never shipped


async def test_a_cancel_before_the_window_refunds_the_deposit_per_the_rule(
    task_queue: str,
) -> None:
    async with presale_order(task_queue) as order:
        await place(order)
        await order.pay(DEPOSIT_FEN)
        await order.skip(timedelta(days=1))  # still before the window
        answered = await order.handle.execute_update(
            OrderWorkflow.cancel, o.CancelRequest(actor=CUSTOMER, reason="changed my mind")
        )
        view = await order.result()
    assert answered.status == "cancelled"
    [refund] = order.fake.of("refund_payment")
    assert refund.amount_fen == DEPOSIT_FEN * 80 // 100  # the refund rule: 80 % back
    assert stages(order)[-1] == ("forfeited", DEPOSIT_FEN - refund.amount_fen)
    assert (view.paid_fen, view.refunded_fen) == (DEPOSIT_FEN, refund.amount_fen)
    assert "balance_window_opened" not in order.steps(view)
    assert order.at(view, "cancelled") < terms(order).balance_starts_at
    [release] = order.fake.of("release_stock")
    assert release.reason == "changed my mind"


async def test_a_cancel_once_the_window_is_open_forfeits_the_deposit(task_queue: str) -> None:
    async with presale_order(task_queue) as order:
        await place(order)
        await order.pay(DEPOSIT_FEN)
        await order.skip(OPENS_IN)
        await order.fake.wait_status("balance_window_opened")
        await order.handle.execute_update(
            OrderWorkflow.cancel, o.CancelRequest(actor=CUSTOMER, reason="too late to want it")
        )
        view = await order.result()
    assert order.fake.of("refund_payment") == []
    assert stages(order)[-1] == ("forfeited", DEPOSIT_FEN)
    assert (view.status, view.paid_fen, view.refunded_fen) == ("cancelled", DEPOSIT_FEN, 0)


async def test_a_payment_of_the_full_amount_is_not_taken_as_the_deposit(task_queue: str) -> None:
    async with presale_order(task_queue) as order:
        await place(order)
        wrong = await order.pay(PAYABLE_FEN)
        await order.fake.wait_for("refund_payment")
        view = await order.view()
    [refund] = order.fake.of("refund_payment")
    assert (refund.transaction_id, refund.amount_fen) == (wrong.transaction_id, PAYABLE_FEN)
    assert view.status == "awaiting_payment"
    assert stages(order) == []


class RefusingPresaleQuote(FakePresale):
    @activity.defn(name="quote_order")
    async def quote_order(self, request: o.QuoteRequest) -> o.Quote:
        await self._record("quote_order", request)
        raise ApplicationError(
            "unserviceable", {}, type="UnserviceableRegionError", non_retryable=True
        )


async def test_a_presale_order_refused_at_placement_leaves_the_presale(task_queue: str) -> None:
    async with presale_order(task_queue, RefusingPresaleQuote) as order:
        with pytest.raises(WorkflowUpdateFailedError):
            await place(order)
    assert [j.presale_id for j in order.fake.of("join_presale")] == [5]
    assert stages(order) == [("cancelled", 0)]  # not counted as awaiting its deposit
    assert order.fake.of("reserve_stock") == []


async def paid_in_full(order: Scenario, policy: o.OrderPolicy | None = None) -> None:
    await place(order, policy)
    await order.pay(DEPOSIT_FEN)
    await order.skip(OPENS_IN)
    await order.fake.wait_status("balance_window_opened")
    await order.pay(BALANCE_FEN)
    await order.fake.wait_status("released_to_warehouses")


def refunds_by_payment(order: Scenario) -> dict[str, int]:
    """Fen refunded per transaction: the deposit's is `…-1`, the balance's `…-2`."""
    made: dict[str, int] = {}
    for refund in order.fake.of("refund_payment"):
        made[refund.transaction_id] = made.get(refund.transaction_id, 0) + refund.amount_fen
    return made


async def test_a_cancel_after_the_balance_refunds_both_payments_in_full(task_queue: str) -> None:
    async with presale_order(task_queue) as order:
        await paid_in_full(order)
        await order.handle.execute_update(
            OrderWorkflow.cancel, o.CancelRequest(actor=CUSTOMER, reason="changed my mind")
        )
        view = await order.result()
    deposit_tx, balance_tx = (f"TX{order.order_no[2:]}-{n}" for n in (1, 2))
    assert refunds_by_payment(order) == {deposit_tx: DEPOSIT_FEN, balance_tx: BALANCE_FEN}
    numbers = sorted(r.refund_no for r in order.fake.of("refund_payment"))
    assert numbers == [f"RF{order.order_no[2:]}C", f"RF{order.order_no[2:]}C-B"]
    assert (view.status, view.paid_fen, view.refunded_fen) == (
        "cancelled",
        PAYABLE_FEN,
        PAYABLE_FEN,
    )
    assert stages(order)[-1] == ("cancelled", 0)  # nothing forfeited


async def test_a_refund_after_the_balance_never_takes_more_from_a_payment_than_it_paid(
    task_queue: str,
) -> None:
    everything = [
        o.PackageLine(line_no=1, sku_id=101, quantity=2),
        o.PackageLine(line_no=2, sku_id=102, quantity=1),
    ]
    async with presale_order(task_queue) as order:
        await paid_in_full(order, o.OrderPolicy(short_pick_policy="cancel_line"))
        package_no = order.fake.plans[0].package_no
        await order.picked(package_no, missing=everything, missing_g=1_400)
        view = await order.result()
    deposit_tx, balance_tx = (f"TX{order.order_no[2:]}-{n}" for n in (1, 2))
    made = refunds_by_payment(order)
    assert made == {deposit_tx: DEPOSIT_FEN, balance_tx: BALANCE_FEN}  # all of it, each within
    assert (view.status, view.refunded_fen) == ("cancelled", PAYABLE_FEN)
