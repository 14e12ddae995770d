"""Search attributes of a purchase order (issue 12 item 13) on the time-skipping server, which
keeps them (it only lacks the list query; tests/api/test_visibility.py asks the dev server with
the `temporal` CLI): its number, status on each change, its warehouse, and the escalation
once the approval SLA passed twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from tests.workflows.fakes import WAIT_S
from tests.workflows.po_fakes import MANAGER, PoScenario, running
from workflows.visibility import BUSINESS_NO, ESCALATED, STATUS, WAREHOUSE

SLA = timedelta(hours=24)
MINUTE = timedelta(minutes=1)


async def shown(po: PoScenario, **expected: Any) -> dict[str, Any]:
    """The PO's search attributes once they are `expected`: a step's projection write runs
    (as a local activity) before the workflow task carrying the upsert completes."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        attributes = (await po.handle.describe()).typed_search_attributes
        found = {
            key.name: attributes.get(key) for key in (BUSINESS_NO, STATUS, WAREHOUSE, ESCALATED)
        }
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
        assert await shown(po, **drafted) == drafted
        await po.submit()
        submitted = drafted | {"HoutaiStatus": "pending_approval"}
        assert await shown(po, **submitted) == submitted
        await po.skip(SLA + MINUTE)
        await po.fake.wait_step("approval_reminder")
        assert await shown(po, **submitted) == submitted  # a reminder is no escalation
        await po.skip(SLA + MINUTE)
        await po.fake.wait_step("approval_escalated")
        escalated = submitted | {"HoutaiEscalated": True}
        assert await shown(po, **escalated) == escalated
        await po.approve(MANAGER, "purchasing_manager")
        await po.fake.wait_step("sent_to_supplier")
        sent = escalated | {"HoutaiStatus": "sent"}
        assert await shown(po, **sent) == sent
