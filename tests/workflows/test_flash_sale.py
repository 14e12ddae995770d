"""Flash sales (DESIGN §6.8) on the time-skipping server with fake activities: the sale's window
(opened at its start, closed when its closing Schedule's workflow says the end has come, a
minute after the end without that word, or stopped early by staff) and a flash order's shorter
payment deadline, whose release gives the units back (the activity sends them to the campaign)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import pytest
from temporalio import activity
from temporalio.api.testservice.v1 import LockTimeSkippingRequest, UnlockTimeSkippingRequest
from temporalio.client import WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.contracts import order as o
from models.contracts.flash_sale import (
    FlashFigures,
    FlashSaleInput,
    FlashStep,
    FlashWindow,
    StopFlashSale,
)
from models.contracts.pricing import CartLine
from tests.support.temporal import time_skipping_server
from tests.workflows.fakes import STAFF, WAIT_S, FakeBackOffice, new_order_no
from workflows.after_sale import AfterSaleWorkflow
from workflows.flash_close import FlashCloseWorkflow
from workflows.flash_sale import BACKSTOP, FlashSaleWorkflow
from workflows.order import FLASH_SALE_PATCH, OrderWorkflow
from workflows.shipment import ShipmentWorkflow


class FakeFlashSale:
    """The open and close activities: record the call and the server's time; answer figures."""

    def __init__(self, env: WorkflowEnvironment) -> None:
        self.env = env
        self.calls: list[tuple[str, FlashStep, datetime]] = []
        self.opened = asyncio.Event()

    async def _at(self) -> datetime:
        return await self.env.get_current_time()

    @activity.defn(name="open_flash_sale")
    async def open_flash_sale(self, step: FlashStep) -> FlashFigures:
        self.calls.append(("open", step, await self._at()))
        self.opened.set()
        return FlashFigures(
            flash_sale_id=step.flash_sale_id, status="open", total=100, sold=0, held=100,
            returned=0,
        )  # fmt: skip

    @activity.defn(name="flash_sale_window")
    async def flash_sale_window(self, step: FlashStep) -> FlashWindow:
        done = [name for name, _, _ in self.calls]
        if "close" in done:
            return FlashWindow(status="closed", workflow_id=self.calls[0][1].workflow_id or None)
        if "open" in done:
            return FlashWindow(status="open", workflow_id=self.calls[0][1].workflow_id)
        return FlashWindow(status="scheduled")

    @activity.defn(name="close_flash_sale")
    async def close_flash_sale(self, step: FlashStep) -> FlashFigures:
        self.calls.append(("close", step, await self._at()))
        return FlashFigures(
            flash_sale_id=step.flash_sale_id, status="closed", total=100, sold=40, held=0,
            returned=60,
        )  # fmt: skip


@asynccontextmanager
async def flash_env(task_queue: str) -> AsyncIterator[tuple[WorkflowEnvironment, FakeFlashSale]]:
    env = await time_skipping_server()
    fake = FakeFlashSale(env)
    try:
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[FlashSaleWorkflow, FlashCloseWorkflow],
            activities=[fake.open_flash_sale, fake.close_flash_sale, fake.flash_sale_window],
        ):
            yield env, fake
    finally:
        await env.shutdown()


def sale_input(now: datetime, opens_in: timedelta, lasts: timedelta) -> FlashSaleInput:
    return FlashSaleInput(
        flash_sale_id=7, flash_no="FS00000007", starts_at=now + opens_in,
        ends_at=now + opens_in + lasts,
    )  # fmt: skip


async def test_the_window_opens_at_its_start_and_its_closing_schedule_closes_it(
    task_queue: str,
) -> None:
    async with flash_env(task_queue) as (env, fake):
        now = await env.get_current_time()
        sale = sale_input(now, timedelta(hours=2), timedelta(minutes=30))
        handle = await env.client.start_workflow(
            FlashSaleWorkflow.run, sale, id="flash-FS00000007", task_queue=task_queue
        )
        await env.sleep(sale.ends_at - now)  # the closing Schedule fires at the end:
        told = await env.client.execute_workflow(
            FlashCloseWorkflow.run, sale, id="flash-close-FS00000007", task_queue=task_queue
        )
        view = await handle.result()
    assert told is True
    [(opened, open_step, opened_at), (closed, close_step, closed_at)] = fake.calls
    assert (opened, closed) == ("open", "close")
    assert sale.starts_at <= opened_at < sale.starts_at + timedelta(minutes=1)
    assert sale.ends_at <= closed_at < sale.ends_at + BACKSTOP  # its word, not the backstop
    assert open_step.workflow_id == "flash-FS00000007"
    assert close_step.reason == "window ended"
    assert close_step.actor == "system:flash-sale"
    assert view.status == "closed"
    assert view.figures is not None and view.figures.returned == 60
    assert view.stopped_by is None


async def test_without_word_from_its_closing_schedule_the_sale_closes_by_its_backstop(
    task_queue: str,
) -> None:
    async with flash_env(task_queue) as (env, fake):
        now = await env.get_current_time()
        sale = sale_input(now, timedelta(0), timedelta(minutes=30))
        view = await env.client.execute_workflow(
            FlashSaleWorkflow.run, sale, id="flash-FS00000007", task_queue=task_queue
        )
        # Its closing workflow, late (the schedule's run after the sale closed): nothing to do.
        told = await env.client.execute_workflow(
            FlashCloseWorkflow.run, sale, id="flash-close-FS00000007", task_queue=task_queue
        )
    assert told is False
    assert [name for name, _, _ in fake.calls] == ["open", "close"]
    _, close_step, closed_at = fake.calls[1]
    assert sale.ends_at + BACKSTOP <= closed_at < sale.ends_at + BACKSTOP + timedelta(minutes=1)
    assert (close_step.reason, close_step.actor) == ("window ended", "system:flash-sale")
    assert view.status == "closed"


async def test_the_closing_schedule_tells_nothing_to_a_sale_that_never_opened(
    task_queue: str,
) -> None:
    async with flash_env(task_queue) as (env, fake):
        now = await env.get_current_time()
        sale = sale_input(now, timedelta(hours=1), timedelta(hours=1))
        told = await env.client.execute_workflow(
            FlashCloseWorkflow.run, sale, id="flash-close-FS00000007", task_queue=task_queue
        )
    assert told is False and fake.calls == []


async def test_staff_stop_the_sale_early_and_it_closes_at_once(task_queue: str) -> None:
    async with flash_env(task_queue) as (env, fake):
        now = await env.get_current_time()
        sale = sale_input(now, timedelta(0), timedelta(days=1))
        handle = await env.client.start_workflow(
            FlashSaleWorkflow.run, sale, id="flash-FS00000007", task_queue=task_queue
        )
        await asyncio.wait_for(fake.opened.wait(), WAIT_S)
        stopped = await handle.execute_update(
            FlashSaleWorkflow.stop, StopFlashSale(actor=STAFF, reason="供应商断货")
        )
        view = await handle.result()
    assert [name for name, _, _ in fake.calls] == ["open", "close"]
    _, close_step, closed_at = fake.calls[1]
    assert closed_at < sale.ends_at
    assert close_step.reason == "供应商断货"
    assert close_step.actor == "user:ops"
    assert stopped.status == view.status == "closed"
    assert view.stopped_by == STAFF


async def test_a_sale_stopped_before_it_opens_never_carves_stock(task_queue: str) -> None:
    async with flash_env(task_queue) as (env, fake):
        now = await env.get_current_time()
        sale = sale_input(now, timedelta(hours=5), timedelta(hours=1))
        handle = await env.client.start_workflow(
            FlashSaleWorkflow.run, sale, id="flash-FS00000007", task_queue=task_queue
        )
        await handle.execute_update(
            FlashSaleWorkflow.stop, StopFlashSale(actor=STAFF, reason="cancelled")
        )
        view = await handle.result()
    assert [name for name, _, _ in fake.calls] == ["close"]
    assert fake.calls[0][2] < sale.starts_at
    assert view.status == "closed"


# --- a flash sale's order --------------------------------------------------------------------


class RefusingQuote(FakeBackOffice):
    @activity.defn(name="quote_order")
    async def quote_order(self, request: o.QuoteRequest) -> o.Quote:
        await self._record("quote_order", request)
        raise ApplicationError(
            "unserviceable", {}, type="UnserviceableRegionError", non_retryable=True
        )


@asynccontextmanager
async def order_env(task_queue: str, fake: FakeBackOffice) -> AsyncIterator[WorkflowEnvironment]:
    env = await time_skipping_server()
    fake.clock = env.get_current_time
    try:
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[OrderWorkflow, ShipmentWorkflow, AfterSaleWorkflow],
            activities=fake.activities(),
        ):
            yield env
    finally:
        await env.shutdown()


async def finished(env: WorkflowEnvironment, order_no: str) -> tuple[o.OrderView, str]:
    """The order's final view (every timer skipped) and the patches its history marks.
    Update-with-Start gives a plain handle: time skipping is unlocked around its result as the
    SDK would."""
    handle = env.client.get_workflow_handle_for(OrderWorkflow.run, f"order-{order_no}")
    service = env.client.test_service
    await service.unlock_time_skipping(UnlockTimeSkippingRequest())
    try:
        async with asyncio.timeout(WAIT_S):
            view = await handle.result()
    finally:
        await service.lock_time_skipping(LockTimeSkippingRequest())
    history = await handle.fetch_history()
    patches = [
        payload.data.decode()
        for event in history.events
        if event.HasField("marker_recorded_event_attributes")
        for details in event.marker_recorded_event_attributes.details.values()
        for payload in details.payloads
    ]
    return view, " ".join(patches)


async def place(
    env: WorkflowEnvironment, task_queue: str, order_no: str, flash_sale_id: int | None
) -> o.PlacedOrder:
    timings = o.OrderTimings(
        payment_window=timedelta(minutes=30), flash_payment_window=timedelta(minutes=5)
    )
    request = o.PlaceOrderRequest(
        order_no=order_no, storefront="shop", api_key_id=1, customer_id=42,
        lines=[CartLine(sku_id=101, quantity=1)], flash_sale_id=flash_sale_id,
        address=o.ShippingAddress(
            name="张三", phone="13800000000", region_code="310115", detail="世纪大道 1 号"
        ),
    )  # fmt: skip
    start = WithStartWorkflowOperation(
        OrderWorkflow.run,
        o.OrderInput(order_no=order_no, timings=timings),
        id=f"order-{order_no}",
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    return await env.client.execute_update_with_start_workflow(
        OrderWorkflow.place, request, start_workflow_operation=start, id=f"place-{order_no}"
    )


async def test_an_unpaid_flash_order_gives_its_units_back_at_the_shorter_deadline(
    task_queue: str,
) -> None:
    fake = FakeBackOffice(new_order_no())
    async with order_env(task_queue, fake) as env:
        placed = await place(env, task_queue, fake.order_no, flash_sale_id=7)
        view, history = await finished(env, fake.order_no)
    [quote] = fake.of("quote_order")
    assert quote.flash_sale_id == 7  # priced at the flash price
    [reserve] = fake.of("reserve_stock")
    assert reserve.flash_sale_id == 7  # from the campaign's stock
    assert placed.payment_deadline - quote.at == timedelta(minutes=5)  # not the 30 of others
    assert view.status == "cancelled"
    cancelled_at = next(e.at for e in view.timeline if e.step == "cancelled")
    assert placed.payment_deadline <= cancelled_at < quote.at + timedelta(minutes=30)
    [release] = fake.of("release_stock")
    assert (release.order_no, release.package_no) == (fake.order_no, None)
    assert release.reason == "payment deadline passed"
    assert FLASH_SALE_PATCH in history  # its marker: older runs replay without it


async def test_an_ordinary_order_keeps_its_window_and_no_flash_marker(task_queue: str) -> None:
    fake = FakeBackOffice(new_order_no())
    async with order_env(task_queue, fake) as env:
        placed = await place(env, task_queue, fake.order_no, flash_sale_id=None)
        _, history = await finished(env, fake.order_no)
    [quote] = fake.of("quote_order")
    assert quote.flash_sale_id is None
    assert fake.of("reserve_stock")[0].flash_sale_id is None
    assert placed.payment_deadline - quote.at == timedelta(minutes=30)
    assert FLASH_SALE_PATCH not in history


async def test_a_flash_order_refused_by_pricing_gives_the_claimed_units_back(
    task_queue: str,
) -> None:
    for flash_sale_id, releases in ((7, 1), (None, 0)):
        fake = RefusingQuote(new_order_no())
        async with order_env(task_queue, fake) as env:
            with pytest.raises(WorkflowUpdateFailedError):
                await place(env, task_queue, fake.order_no, flash_sale_id=flash_sale_id)
        assert fake.of("reserve_stock") == []
        released = fake.of("release_stock")
        assert len(released) == releases
        assert all(r.order_no == fake.order_no for r in released)
