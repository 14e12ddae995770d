"""Temporal visibility (issue 12 item 13): an operator finds houtai's workflows with the
`temporal` CLI by business number, status, warehouse and escalation — the search attributes
the workflows set at start and on each change. Visibility is eventually consistent, so each
query is asked again (bounded) until it answers."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from models.contracts.diagnostics import DiagnosticsInput
from models.contracts.order import OrderPolicy
from models.contracts.purchasing import ReplenishInput
from models.contracts.reconciliation import ReconcileInput
from models.contracts.waves import PlannerInput, WaveRules
from tests.support.after_sale_api import delivered, open_after_sale
from tests.support.order_api import (
    lines_of,
    only_in,
    order_body,
    paid_order,
    pay,
    place_order,
    skus_in,
    warehouse_id,
)
from tests.support.stack import Stack, fast_timings
from workers.embedded import temporal_dev_server_path
from workflows.diagnostics import DiagnosticsWorkflow
from workflows.reconciliation import ReconciliationWorkflow
from workflows.replenishment import ReplenishmentWorkflow
from workflows.visibility import SEARCH_ATTRIBUTES
from workflows.waves import WavePlannerWorkflow

Json = dict[str, Any]
CLI_TIMEOUT = 30.0  # one CLI call
VISIBLE_WITHIN = 30.0  # until the visibility store shows a change
HOUTAI = {key.name for key in SEARCH_ATTRIBUTES}


async def temporal_list(stack: Stack, query: str) -> list[Json]:
    """`temporal workflow list --query …` as an operator runs it, its JSON answer parsed."""
    process = await asyncio.create_subprocess_exec(
        str(temporal_dev_server_path()),
        "workflow",
        "list",
        "--address",
        stack.client.service_client.config.target_host,
        "--namespace",
        stack.client.namespace,
        "--query",
        query,
        "--output",
        "json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), CLI_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, err.decode()
    text = out.decode().strip()
    if not text:
        return []
    found = json.loads(text)
    return found if isinstance(found, list) else [found]


async def listed(stack: Stack, query: str, expected: set[str]) -> list[Json]:
    """Ask until the query finds exactly the workflows `expected` (by id)."""
    deadline = asyncio.get_running_loop().time() + VISIBLE_WITHIN
    while True:
        found = await temporal_list(stack, query)
        ids = {w["execution"]["workflowId"] for w in found}
        if ids == expected and len(found) == len(expected):
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{query!r} found {sorted(ids)}, expected {sorted(expected)}")
        await asyncio.sleep(0.3)


def attributes(execution: Json) -> dict[str, Any]:
    """houtai's search attributes of the execution, decoded from their JSON payloads."""
    fields = execution.get("searchAttributes", {}).get("indexedFields", {})
    return {
        name: json.loads(base64.b64decode(payload["data"]))
        for name, payload in fields.items()
        if name in HOUTAI
    }


async def test_an_order_is_found_by_number_and_status_and_its_status_moves_when_paid(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    number = (await place_order(api, order_body(lines_of((sku, 1)))))["order_no"]
    workflow_id = f"order-{number}"
    awaiting = f"HoutaiStatus='awaiting_payment' AND HoutaiBusinessNo='{number}'"

    [found] = await listed(stack, awaiting, {workflow_id})
    assert attributes(found) == {
        "HoutaiBusinessNo": number,
        "HoutaiStatus": "awaiting_payment",
        "HoutaiEscalated": False,
    }
    await listed(stack, f"HoutaiEscalated=false AND HoutaiBusinessNo='{number}'", {workflow_id})
    await listed(stack, f"HoutaiStatus='paid' AND HoutaiBusinessNo='{number}'", set())

    await pay(api, provider, number)
    # Paid, the order goes on to its warehouses at once: it is found as fulfilling.
    fulfilling = f"HoutaiStatus='fulfilling' AND HoutaiBusinessNo='{number}'"
    [moved] = await listed(stack, fulfilling, {workflow_id})
    assert attributes(moved)["HoutaiStatus"] == "fulfilling"
    await listed(stack, awaiting, set())


async def test_a_shipment_is_found_by_its_warehouse(stack: Stack, api: httpx.AsyncClient) -> None:
    sku = await only_in(stack, "SH01")
    order = await paid_order(stack, api, [(sku, 1)])
    [parcel] = order["packages"]
    number, warehouse = parcel["package_no"], parcel["warehouse_id"]

    query = f"HoutaiWarehouse='{warehouse}' AND HoutaiBusinessNo='{number}'"
    [found] = await listed(stack, query, {f"shipment-{number}"})
    assert found["type"]["name"] == "ShipmentWorkflow"
    assert attributes(found) == {
        "HoutaiBusinessNo": number,
        "HoutaiStatus": "released",
        "HoutaiWarehouse": str(warehouse),
    }
    other = f"HoutaiWarehouse='{warehouse + 1000}' AND HoutaiBusinessNo='{number}'"
    await listed(stack, other, set())
    released = f"HoutaiWarehouse='{warehouse}' AND HoutaiStatus='released'"
    assert f"shipment-{number}" in {
        w["execution"]["workflowId"] for w in await temporal_list(stack, released)
    }


ESCALATE_REVIEW = {
    "policy": OrderPolicy(risk_review_over_fen=1),
    "timings": fast_timings().model_copy(update={"risk_review_sla": timedelta(seconds=1)}),
}


@pytest.mark.parametrize("stack", [ESCALATE_REVIEW], indirect=True, ids=["review-sla-1s"])
async def test_an_order_whose_risk_review_passed_its_sla_is_found_as_escalated(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    order = await place_order(api, order_body(lines_of((sku, 1))))
    number = order["order_no"]
    assert order["under_review"] is True

    query = f"HoutaiEscalated=true AND HoutaiBusinessNo='{number}'"
    [found] = await listed(stack, query, {f"order-{number}"})
    assert attributes(found)["HoutaiEscalated"] is True
    await listed(stack, f"HoutaiEscalated=false AND HoutaiBusinessNo='{number}'", set())


async def test_an_overdue_wave_is_found_as_escalated_in_its_warehouse(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    sku = await only_in(stack, "SH01")
    order = await paid_order(stack, api, [(sku, 1)])
    warehouse = order["packages"][0]["warehouse_id"]
    planner_id = f"plan-waves-SH01-test-{uuid.uuid4().hex[:8]}"
    # A planning run whose SLA margin is two days: its wave is overdue as soon as it is built.
    [wave_no] = await stack.client.execute_workflow(
        WavePlannerWorkflow.run,
        PlannerInput(
            warehouse_id=warehouse, rules=WaveRules(sla_margin=timedelta(days=2)), release_all=True
        ),
        id=planner_id,
        task_queue=stack.task_queue,
    )

    query = (
        f"HoutaiEscalated=true AND HoutaiWarehouse='{warehouse}' AND HoutaiBusinessNo='{wave_no}'"
    )
    [found] = await listed(stack, query, {f"wave-{wave_no}"})
    assert attributes(found) == {
        "HoutaiBusinessNo": wave_no,
        "HoutaiStatus": "picking",
        "HoutaiWarehouse": str(warehouse),
        "HoutaiEscalated": True,
    }
    planned = f"WorkflowId='{planner_id}' AND HoutaiStatus='planned'"
    await listed(stack, planned, {planner_id})


async def test_an_after_sale_is_found_by_number_and_status_in_its_return_warehouse(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> None:
    sku = await only_in(stack, "SH01")
    order = await delivered(stack, api, carrier, [(sku, 1)])
    warehouse = order["packages"][0]["warehouse_id"]
    as_no = await open_after_sale(api, order["order_no"], "as-1", "return_and_refund", [(1, 1)])

    query = f"HoutaiStatus='requested' AND HoutaiBusinessNo='{as_no}'"
    [found] = await listed(stack, query, {f"aftersale-{as_no}"})
    assert found["type"]["name"] == "AfterSaleWorkflow"
    assert attributes(found) == {
        "HoutaiBusinessNo": as_no,
        "HoutaiStatus": "requested",
        "HoutaiWarehouse": str(warehouse),
    }


async def test_system_runs_are_found_by_status_and_warehouse(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    warehouse = await warehouse_id(stack, "SH01")
    suffix = uuid.uuid4().hex[:8]
    checked = await stack.client.execute_workflow(
        DiagnosticsWorkflow.run,
        DiagnosticsInput(requested_by="test"),
        id=f"diagnostics-{suffix}",
        task_queue=stack.task_queue,
    )
    assert checked.database.schema_revision
    await stack.client.execute_workflow(
        ReplenishmentWorkflow.run,
        ReplenishInput(warehouse_id=warehouse),
        id=f"replenish-SH01-{suffix}",
        task_queue=stack.task_queue,
    )
    day = date(2026, 11, 30)
    await stack.client.execute_workflow(
        ReconciliationWorkflow.run,
        ReconcileInput(day=day),
        id=f"reconcile-{suffix}",
        task_queue=stack.task_queue,
    )

    diagnostics = f"WorkflowId='diagnostics-{suffix}' AND HoutaiStatus='ok'"
    await listed(stack, diagnostics, {f"diagnostics-{suffix}"})
    replenished = (
        f"WorkflowId='replenish-SH01-{suffix}' AND HoutaiStatus='drafted'"
        f" AND HoutaiWarehouse='{warehouse}'"
    )
    await listed(stack, replenished, {f"replenish-SH01-{suffix}"})
    reconciled = (
        f"WorkflowId='reconcile-{suffix}' AND HoutaiBusinessNo='{day.isoformat()}'"
        " AND HoutaiStatus='reconciled'"
    )
    await listed(stack, reconciled, {f"reconcile-{suffix}"})
