"""SettlementWorkflow on the time-skipping server with fake activities: the payable waits on a
durable timer until 10:00 (business time) on its due date, then pays once; a mismatch waits for
finance; a rejected invoice pays nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta, timezone

from temporalio import activity
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.contracts.order import Actor
from models.contracts.purchasing import (
    InvoiceDecision,
    InvoiceRecord,
    PaySupplier,
    SettlementInput,
    SettlementView,
    Staff,
)
from models.domain.purchasing import PoLine, empty_figures
from models.domain.settlement import InvoiceLine
from tests.support.temporal import time_skipping_server
from workflows.settlement import SettlementWorkflow

CST = timezone(timedelta(hours=8))
FINANCE = Staff(actor=Actor(kind="user", name="finance"), user_id=4, roles=frozenset({"finance"}))
BUYER = Staff(actor=Actor(kind="user", name="buyer"), user_id=3, roles=frozenset({"purchasing"}))


class FakeSettlement:
    def __init__(self, env: WorkflowEnvironment) -> None:
        self.env = env
        self.records: list[InvoiceRecord] = []
        self.payments: list[tuple[PaySupplier, datetime]] = []

    @activity.defn(name="record_invoice")
    async def record_invoice(self, record: InvoiceRecord) -> None:
        self.records.append(record)

    @activity.defn(name="pay_supplier")
    async def pay_supplier(self, request: PaySupplier) -> str:
        self.payments.append((request, await self.env.get_current_time()))
        return "trf_1"


def settlement(invoice_date: date, price: int = 250, terms: int = 30) -> SettlementInput:
    lines = [PoLine(line_no=1, sku_id=11, warehouse_id=1, quantity=10, unit_price_fen=250)]
    figures = empty_figures(lines)
    received = figures.lines[0].model_copy(update={"received": 10, "accepted": 10})
    return SettlementInput(
        po_no="PO1",
        supplier_code="SUP001",
        supplier_name="良源",
        payment_terms_days=terms,
        lines=lines,
        figures=figures.model_copy(update={"lines": (received,)}),
        invoice_no="INV-1",
        invoice_date=invoice_date,
        invoice=[InvoiceLine(line_no=1, sku_id=11, quantity=10, unit_price_fen=price)],
        by=BUYER.actor,
    )


@asynccontextmanager
async def running(
    task_queue: str, input: SettlementInput
) -> AsyncIterator[tuple[FakeSettlement, WorkflowHandle[SettlementWorkflow, SettlementView]]]:
    env = await time_skipping_server()
    fake = FakeSettlement(env)
    try:
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[SettlementWorkflow],
            activities=[fake.record_invoice, fake.pay_supplier],
        ):
            handle = await env.client.start_workflow(
                SettlementWorkflow.run, input, id="settle-PO1", task_queue=task_queue
            )
            yield fake, handle
    finally:
        await env.shutdown()


async def test_a_matched_invoice_is_paid_at_ten_on_its_due_date(task_queue: str) -> None:
    # The test server's clock starts at the real time: the invoice is dated today (business
    # time), so its due date (30 days on) is always ahead of the 29 days skipped.
    invoiced = datetime.now(CST).date()
    async with running(task_queue, settlement(invoiced)) as (fake, handle):
        opened = await handle.execute_update(SettlementWorkflow.opened)
        started = await fake.env.get_current_time()
        await fake.env.sleep(timedelta(days=29))
        early = list(fake.payments)
        view = await handle.result()
    due_date = invoiced + timedelta(days=30)
    assert (opened.status, opened.due_date) == ("payable", due_date)
    assert opened.match.payable_fen == 2_500
    assert early == []
    [(paid, at)] = fake.payments
    assert (paid.transfer_key, paid.amount_fen) == ("PAY-PO1", 2_500)
    due = datetime.combine(due_date, datetime.min.time(), tzinfo=CST).replace(hour=10)
    assert due <= at < due + timedelta(minutes=1)
    assert started < due
    assert (view.status, view.transfer_id) == ("paid", "trf_1")
    assert [r.view.status for r in fake.records] == ["payable"]


async def test_a_mismatch_waits_for_finance_and_a_rejection_pays_nothing(task_queue: str) -> None:
    async with running(task_queue, settlement(date(2026, 11, 1), price=300)) as (fake, handle):
        opened = await handle.execute_update(SettlementWorkflow.opened)
        await fake.env.sleep(timedelta(days=60))
        waiting = list(fake.payments)
        try:
            await handle.execute_update(
                SettlementWorkflow.decide, InvoiceDecision(by=BUYER, approve=True, reason="ok")
            )
            refused: BaseException | None = None
        except WorkflowUpdateFailedError as exc:
            refused = exc.cause
        decided = await handle.execute_update(
            SettlementWorkflow.decide,
            InvoiceDecision(by=FINANCE, approve=False, reason="price not agreed"),
        )
        view = await asyncio.wait_for(handle.result(), 20)
    assert opened.status == "mismatch"
    assert [d.kind for d in opened.match.discrepancies][:1] == ["price_mismatch"]
    assert waiting == []
    assert isinstance(refused, ApplicationError) and refused.type == "ApprovalError"
    assert decided.status == "rejected" and view.status == "rejected"
    assert fake.payments == []
    assert [r.view.status for r in fake.records] == ["mismatch", "rejected"]
    assert fake.records[-1].decision_reason == "price not agreed"


async def test_an_approved_mismatch_is_due_by_the_terms_and_paid(task_queue: str) -> None:
    async with running(task_queue, settlement(date(2026, 11, 1), price=300, terms=0)) as (
        fake,
        handle,
    ):
        await handle.execute_update(SettlementWorkflow.opened)
        decided = await handle.execute_update(
            SettlementWorkflow.decide,
            InvoiceDecision(by=FINANCE, approve=True, reason="price rise agreed"),
        )
        view = await handle.result()
    assert (decided.status, decided.due_date) == ("payable", date(2026, 11, 1))
    [(paid, _)] = fake.payments
    assert paid.amount_fen == 3_000  # what was invoiced and approved
    assert view.status == "paid"
    assert [r.view.status for r in fake.records] == ["mismatch", "payable"]
