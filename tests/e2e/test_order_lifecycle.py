"""The order lifecycle over HTTP on the dev server: a two-warehouse order is placed, paid
through the sandbox provider's signed webhook, packed and weighed by each warehouse's device,
given waybills by the sandbox carrier, handed over, tracked to delivery, confirmed, completed
and closed — with the stock and money ledgers checked at the end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from models.db import MoneyEntry, Stock
from tests.support.invariants import assert_stock_invariants
from tests.support.stack import Stack, running_stack
from workers.seed import DEMO_DEVICE_KEYS, DEMO_STOREFRONT_KEY

SHOP = {"X-API-Key": DEMO_STOREFRONT_KEY}
ADDRESS = {
    "name": "张三",
    "phone": "13800000000",
    "region_code": "310115",
    "detail": "浦东新区世纪大道 100 号",
}


@pytest_asyncio.fixture
async def stack(engine: AsyncEngine, dev_client: Client, task_queue: str) -> AsyncIterator[Stack]:
    async with running_stack(engine, dev_client, task_queue) as running:
        yield running


async def eventually(check: Callable[[], Awaitable[Any]], what: str, seconds: float = 30) -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def one_warehouse_skus(stack: Stack) -> tuple[int, int]:
    """A SKU stocked only in SH01 and one stocked only in GZ01 (with sellable stock)."""
    async with stack.sessions() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT s.sku_id, w.code FROM stocks s "
                    "JOIN warehouses w ON w.id = s.warehouse_id "
                    "WHERE s.on_hand - s.reserved - s.safety_hold >= 5 AND s.sku_id IN ("
                    "  SELECT sku_id FROM stocks GROUP BY sku_id HAVING COUNT(*) = 1) "
                    "ORDER BY s.sku_id"
                )
            )
        ).all()
    only = {code: sku for sku, code in reversed(rows)}
    return only["SH01"], only["GZ01"]


async def stock_of(stack: Stack, sku_id: int) -> tuple[int, int]:
    async with stack.sessions() as session:
        row = (await session.scalars(select(Stock).where(Stock.sku_id == sku_id))).one()
        return row.on_hand, row.reserved


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

        payment = await api.post(f"/v1/orders/{order_no}/payments", headers=SHOP)
        assert payment.status_code == 201, payment.text
        paid = await provider.post(
            f"/v1/payments/{payment.json()['payment_id']}/simulate", json={"outcome": "succeeded"}
        )
        assert paid.status_code == 200, paid.text

        async def released() -> dict[str, Any] | None:
            view = (await api.get(f"/v1/orders/{order_no}", headers=SHOP)).json()
            ready = view["status"] == "fulfilling" and all(
                p["status"] == "released" for p in view["packages"]
            )
            return view if ready else None

        view = await eventually(released, "both packages released")
        assert view["paid_fen"] == order["payable_fen"]
        warehouses = {
            w["id"]: w["code"]
            for w in (
                await api.get("/v1/warehouses", headers={"X-API-Key": DEMO_DEVICE_KEYS["SH01"]})
            ).json()["data"]
        }
        for package in view["packages"]:
            await ship_package(api, carrier, package, warehouses)

        async def delivered() -> bool:
            view = (await api.get(f"/v1/orders/{order_no}", headers=SHOP)).json()
            return bool(view["status"] == "delivered")

        await eventually(delivered, "order delivered")
        confirmed = await api.post(f"/v1/orders/{order_no}/confirm-receipt", headers=SHOP)
        assert confirmed.status_code == 200, confirmed.text

        async def closed() -> dict[str, Any] | None:
            view = (await api.get(f"/v1/orders/{order_no}", headers=SHOP)).json()
            return view if view["status"] == "closed" else None

        final = await eventually(closed, "order closed")
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


async def ship_package(
    api: httpx.AsyncClient,
    carrier: httpx.AsyncClient,
    package: dict[str, Any],
    warehouses: dict[int, str],
) -> None:
    device = {"X-API-Key": DEMO_DEVICE_KEYS[await warehouse_code(api, package)]}
    number = package["package_no"]
    shown = (await api.get(f"/v1/packages/{number}", headers=device)).json()
    packed = await api.post(
        f"/v1/packages/{number}/pack",
        headers=device,
        json={"measured_weight_g": shown["expected_weight_g"] + 3},
    )
    assert packed.status_code == 200, packed.text
    assert packed.json()["status"] == "packed"

    async def waybill() -> dict[str, Any] | None:
        view = (await api.get(f"/v1/packages/{number}", headers=device)).json()
        return view if view["status"] == "waybill_created" else None

    view = await eventually(waybill, f"waybill for {number}")
    handed = await api.post(f"/v1/packages/{number}/handover", headers=device)
    assert handed.status_code == 200, handed.text
    assert handed.json()["status"] == "shipped"
    for code in ("picked_up", "delivered"):
        pushed = await carrier.post(
            f"/_sandbox/tracking/{view['tracking_no']}/events", json={"code": code}
        )
        assert pushed.status_code == 201, pushed.text


async def warehouse_code(api: httpx.AsyncClient, package: dict[str, Any]) -> str:
    for code, key in DEMO_DEVICE_KEYS.items():
        mine = (await api.get("/v1/warehouses", headers={"X-API-Key": key})).json()["data"]
        if mine[0]["id"] == package["warehouse_id"]:
            return code
    raise AssertionError("no device for the package's warehouse")
