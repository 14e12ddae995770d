"""Search attributes (issue 12 item 13) on the time-skipping server, which keeps them (it only
lacks the list query; tests/api/test_visibility.py asks the dev server with the `temporal` CLI):
a purchase order's number, status on each change, warehouse, and escalation once the approval
SLA passed twice; a supplier invoice's status from mismatch to paid."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

from temporalio.client import WorkflowHandle

from models.contracts.purchasing import InvoiceDecision
from tests.workflows.fakes import WAIT_S
from tests.workflows.po_fakes import MANAGER, running
from tests.workflows.test_settlement_workflow import FINANCE, settlement
from tests.workflows.test_settlement_workflow import running as settling
from workflows.settlement import SettlementWorkflow
from workflows.visibility import SEARCH_ATTRIBUTES

SLA = timedelta(hours=24)
MINUTE = timedelta(minutes=1)


async def shown(handle: WorkflowHandle[Any, Any], expected: dict[str, Any]) -> dict[str, Any]:
    """The workflow's houtai search attributes once they are `expected` (or what they are at
    the deadline): a step's projection write runs as a local activity before the workflow task
    carrying the upsert completes."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        attributes = (await handle.describe()).typed_search_attributes
        found = {key.name: attributes.get(key) for key in SEARCH_ATTRIBUTES}
        found = {name: value for name, value in found.items() if value is not None}
        if found == expected or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.1)


async def test_a_purchase_order_shows_its_status_warehouse_and_escalation(
    task_queue: str,
) -> None:
    async with running(task_queue) as po:
        drafted = {
            "HoutaiBusinessNo": po.input.po_no,
            "HoutaiStatus": "draft",
            "HoutaiWarehouse": "1",  # every line of the PO is for warehouse 1
            "HoutaiEscalated": False,
        }
        assert await shown(po.handle, drafted) == drafted
        await po.submit()
        submitted = drafted | {"HoutaiStatus": "pending_approval"}
        assert await shown(po.handle, submitted) == submitted
        await po.skip(SLA + MINUTE)
        await po.fake.wait_step("approval_reminder")
        assert await shown(po.handle, submitted) == submitted  # a reminder is no escalation
        await po.skip(SLA + MINUTE)
        await po.fake.wait_step("approval_escalated")
        escalated = submitted | {"HoutaiEscalated": True}
        assert await shown(po.handle, escalated) == escalated
        await po.approve(MANAGER, "purchasing_manager")
        await po.fake.wait_step("sent_to_supplier")
        sent = escalated | {"HoutaiStatus": "sent"}
        assert await shown(po.handle, sent) == sent


async def test_a_supplier_invoice_shows_its_status_from_mismatch_to_paid(task_queue: str) -> None:
    invoice = settlement(date(2026, 11, 1), price=300, terms=0)
    async with settling(task_queue, invoice) as (_, handle):
        await handle.execute_update(SettlementWorkflow.opened)
        mismatch = {"HoutaiBusinessNo": "PO1", "HoutaiStatus": "mismatch"}
        assert await shown(handle, mismatch) == mismatch
        await handle.execute_update(
            SettlementWorkflow.decide,
            InvoiceDecision(by=FINANCE, approve=True, reason="price rise agreed"),
        )
        await handle.result()
        paid = mismatch | {"HoutaiStatus": "paid"}
        assert await shown(handle, paid) == paid
