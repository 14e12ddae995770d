"""The order lifecycle over HTTP on the dev server: a two-warehouse order is placed, paid
through the sandbox provider's signed webhook, packed and weighed by each warehouse's device,
given waybills by the sandbox carrier, handed over, tracked to delivery, confirmed, completed
and closed — with the stock and money ledgers checked at the end."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from models.db import MoneyEntry
from tests.support.invariants import assert_stock_invariants
from tests.support.orders import (
    ADDRESS,
    SHOP,
    deliver,
    known_customer,
    one_warehouse_skus,
    pack_and_hand_over,
    pay,
    stock_of,
    wait_status,
)
from tests.support.stack import Stack, running_stack


@pytest_asyncio.fixture
async def stack(
    seeded_engine: AsyncEngine, dev_client: Client, task_queue: str
) -> AsyncIterator[Stack]:
    async with running_stack(seeded_engine, dev_client, task_queue) as running:
        yield running


@pytest.mark.e2e
async def test_two_warehouse_order_from_placement_to_closed(stack: Stack) -> None:
    sku_sh, sku_gz = await one_warehouse_skus(stack)
    before = {sku: await stock_of(stack, sku) for sku in (sku_sh, sku_gz)}
    body = {
        "client_order_key": "cart-42",
        "customer_id": 42,
        "address": ADDRESS,
        "lines": [{"sku_id": sku_sh, "quantity": 1}, {"sku_id": sku_gz, "quantity": 2}],
    }
    async with (
        httpx.AsyncClient(base_url=stack.api, timeout=30) as api,
        httpx.AsyncClient(base_url=stack.payments, timeout=30) as provider,
        httpx.AsyncClient(base_url=stack.carrier, timeout=30) as carrier,
    ):
        await known_customer(api, 42)
        placed = await api.post("/v1/orders", json=body, headers=SHOP)
        assert placed.status_code == 201, placed.text
        order = placed.json()
        order_no = order["order_no"]
        assert order["status"] == "awaiting_payment"
        assert len(order["packages"]) == 2
        assert (
            order["payable_fen"]
            == sum(li["paid_fen"] for li in order["lines"]) + order["freight_fen"]
        )
        again = await api.post("/v1/orders", json=body, headers=SHOP)
        assert again.status_code == 201 and again.json()["order_no"] == order_no
        assert {sku: await stock_of(stack, sku) for sku in (sku_sh, sku_gz)} == {
            sku_sh: (before[sku_sh][0], before[sku_sh][1] + 1),
            sku_gz: (before[sku_gz][0], before[sku_gz][1] + 2),
        }

        await pay(api, provider, order_no)
        view = await wait_status(api, order_no, "fulfilling")
        assert view["paid_fen"] == order["payable_fen"]
        for package in view["packages"]:
            await deliver(carrier, await pack_and_hand_over(api, package))
        await wait_status(api, order_no, "delivered")
        confirmed = await api.post(f"/v1/orders/{order_no}/confirm-receipt", headers=SHOP)
        assert confirmed.status_code == 200, confirmed.text
        final = await wait_status(api, order_no, "closed")
    steps = [event["step"] for event in final["timeline"]]
    for step in (
        "placed",
        "paid",
        "released_to_warehouses",
        "packed",
        "waybill_created",
        "shipped",
        "delivered",
        "completed",
        "closed",
    ):
        assert step in steps, (step, steps)
    assert steps.count("shipped") == 2
    assert {sku: await stock_of(stack, sku) for sku in (sku_sh, sku_gz)} == {
        sku_sh: (before[sku_sh][0] - 1, before[sku_sh][1]),
        sku_gz: (before[sku_gz][0] - 2, before[sku_gz][1]),
    }
    async with stack.sessions() as session:
        await assert_stock_invariants(session)
        balance = await session.scalar(
            select(func.sum(MoneyEntry.amount_fen)).where(MoneyEntry.order_no == order_no)
        )
    assert balance == final["paid_fen"] - final["refunded_fen"] == order["payable_fen"]
