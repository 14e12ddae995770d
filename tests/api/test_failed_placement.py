"""A placement the database refuses (issue 12, item 1), started on OrderWorkflow directly as a
client past the API's validation could: the refusal is a business failure answered at once
(never an activity retried for ever), and a placement that fails after reserving gives back
every unit it reserved — reservations released, ledger balanced, figures as before."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.client import WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError

from models.contracts.order import (
    OrderInput,
    OrderPolicy,
    PlaceOrderRequest,
    ShippingAddress,
)
from models.contracts.pricing import CartLine
from models.db import ApiKey, Reservation, StockMovement
from tests.support.invariants import assert_stock_invariants
from tests.support.order_api import figures, skus_in
from tests.support.orders import ADDRESS
from tests.support.stack import Stack, fast_timings
from workflows.order import OrderWorkflow


async def place_directly(stack: Stack, **changes: Any) -> tuple[str, ApplicationError]:
    """Place an order of 2 units on the workflow itself; the refusal it answers with."""
    [sku] = await skus_in(stack, "SH01")
    async with stack.sessions() as session:
        key_id = await session.scalar(select(ApiKey.id).where(ApiKey.role == "storefront"))
    assert key_id is not None
    order_no = f"SOX{uuid.uuid4().hex[:12]}"
    request = PlaceOrderRequest(
        order_no=order_no,
        storefront="演示商城",
        api_key_id=key_id,
        customer_id=7,
        lines=[CartLine(sku_id=sku, quantity=2)],
        address=ShippingAddress(**ADDRESS),
    ).model_copy(update=changes)
    start = WithStartWorkflowOperation(
        OrderWorkflow.run,
        OrderInput(order_no=order_no, timings=fast_timings(), policy=OrderPolicy()),
        id=f"order-{order_no}",
        task_queue=stack.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        # Before: the activity retried for ever and this never answered.
        await asyncio.wait_for(
            stack.client.execute_update_with_start_workflow(
                OrderWorkflow.place, request, start_workflow_operation=start, id=f"place-{order_no}"
            ),
            timeout=60,
        )
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError), failed.value
    return order_no, cause


async def reservation_rows(stack: Stack, order_no: str) -> list[tuple[str, int]]:
    async with stack.sessions() as session:
        rows = await session.scalars(select(Reservation).where(Reservation.order_no == order_no))
        return [(row.status, row.quantity) for row in rows]


async def ledger_rows(stack: Stack, order_no: str) -> list[tuple[str, int]]:
    async with stack.sessions() as session:
        rows = await session.scalars(
            select(StockMovement).where(StockMovement.ref_no == order_no).order_by(StockMovement.id)
        )
        return [(row.movement_type, row.reserved_delta) for row in rows]


@pytest.mark.parametrize(
    "changes",
    [{"address": ShippingAddress(**{**ADDRESS, "name": "张\x00三"})}],  # text PG cannot store
    ids=["nul-in-name"],
)
async def test_recording_refused_after_reserving_releases_the_reservation(
    stack: Stack, changes: dict[str, Any]
) -> None:
    before = await figures(stack)

    order_no, refusal = await place_directly(stack, **changes)

    assert refusal.type == "InvalidDataError"
    assert refusal.non_retryable
    # Reserved, then given back: the compensation ran, and the ledger says both.
    assert await reservation_rows(stack, order_no) == [("released", 2)]
    assert await ledger_rows(stack, order_no) == [("reservation", 2), ("release", -2)]
    assert await figures(stack) == before
    async with stack.sessions() as session:
        await assert_stock_invariants(session)
    handle = stack.client.get_workflow_handle_for(OrderWorkflow.run, f"order-{order_no}")
    view = await handle.result()
    assert view.status == "rejected"


@pytest.mark.parametrize(
    "changes",
    [
        {"lines": [CartLine(sku_id=99999999999, quantity=2)]},
        # Pricing asks for the customer's level and points: refused there, before reserving.
        {"customer_id": 2**63},
    ],
    ids=["sku-id", "customer-id-2-63"],
)
async def test_pricing_refused_for_an_id_beyond_its_column_reserves_nothing(
    stack: Stack, changes: dict[str, Any]
) -> None:
    before = await figures(stack)

    order_no, refusal = await place_directly(stack, **changes)

    assert refusal.type == "InvalidDataError"
    assert await reservation_rows(stack, order_no) == []
    assert await ledger_rows(stack, order_no) == []
    assert await figures(stack) == before
