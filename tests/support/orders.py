"""Helpers for driving orders over HTTP in tests: waiting, picking SKUs, shipping packages."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import select, text

from models.db import Stock
from tests.support.stack import Stack
from workers.seed import DEMO_DEVICE_KEYS, DEMO_STOREFRONT_KEY

SHOP = {"X-API-Key": DEMO_STOREFRONT_KEY}
ADDRESS = {
    "name": "张三",
    "phone": "13800000000",
    "region_code": "310115",
    "detail": "浦东新区世纪大道 100 号",
}
# The storefront's customer an order names (orders must name one it has upserted).
CUSTOMER = {"name": "张三", "phone": "13800000000", "channel": "app", "addresses": [ADDRESS]}


async def known_customer(
    api: httpx.AsyncClient, customer_id: int, headers: dict[str, str] = SHOP
) -> dict[str, Any]:
    """Upsert the storefront's customer `customer_id` (PUT /v1/customers/…), as a storefront
    does before its customer's first order; the record as the API answers it."""
    answer = await api.put(f"/v1/customers/{customer_id}", json=CUSTOMER, headers=headers)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def known_customer_now(
    http: httpx.Client, customer_id: int, headers: dict[str, str] = SHOP, seconds: float = 90
) -> None:
    """known_customer for a synchronous client, retried while the API says it is busy (503)."""
    deadline = time.monotonic() + seconds
    path = f"/v1/customers/{customer_id}"
    while (answer := http.put(path, json=CUSTOMER, headers=headers)).status_code == 503:
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.5)
    assert answer.status_code == 200, answer.text


async def eventually(check: Callable[[], Awaitable[Any]], what: str, seconds: float = 60) -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)  # one cheap GET a poll; a wait overshoots 0.05 s on average


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
    """(on_hand, reserved) of a SKU stocked in one warehouse."""
    async with stack.sessions() as session:
        row = (await session.scalars(select(Stock).where(Stock.sku_id == sku_id))).one()
        return row.on_hand, row.reserved


async def order_status(api: httpx.AsyncClient, order_no: str) -> dict[str, Any]:
    answer = await api.get(f"/v1/orders/{order_no}", headers=SHOP)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def wait_status(
    api: httpx.AsyncClient, order_no: str, status: str, seconds: float = 60
) -> dict[str, Any]:
    last: dict[str, Any] = {}

    async def reached() -> dict[str, Any] | None:
        last.update(await order_status(api, order_no))
        return dict(last) if last["status"] == status else None

    try:
        found: dict[str, Any] = await eventually(reached, f"order {order_no} {status}", seconds)
    except AssertionError as exc:
        steps = [(e["step"], e["package_no"]) for e in last.get("timeline", [])]
        raise AssertionError(f"{exc}; it is {last.get('status')} after {steps}") from exc
    return found


async def wait_cancelled(api: httpx.AsyncClient, order_no: str) -> dict[str, Any]:
    """Until the order is cancelled and owes no refund any more (a cancel answers before its
    refund is made)."""

    async def settled() -> dict[str, Any] | None:
        order = await order_status(api, order_no)
        done = order["status"] == "cancelled" and order["refund_pending_fen"] == 0
        return order if done else None

    found: dict[str, Any] = await eventually(settled, f"order {order_no} cancelled and refunded")
    return found


async def pay(api: httpx.AsyncClient, provider: httpx.AsyncClient, order_no: str) -> None:
    payment = await api.post(f"/v1/orders/{order_no}/payments", headers=SHOP)
    assert payment.status_code == 201, payment.text
    paid = await provider.post(
        f"/v1/payments/{payment.json()['payment_id']}/simulate", json={"outcome": "succeeded"}
    )
    assert paid.status_code == 200, paid.text


async def device_for(api: httpx.AsyncClient, warehouse_id: int) -> dict[str, str]:
    for key in DEMO_DEVICE_KEYS.values():
        mine = (await api.get("/v1/warehouses", headers={"X-API-Key": key})).json()["data"]
        if mine[0]["id"] == warehouse_id:
            return {"X-API-Key": key}
    raise AssertionError(f"no demo device for warehouse {warehouse_id}")


async def pack_and_hand_over(api: httpx.AsyncClient, package: dict[str, Any]) -> str:
    """Pick it in a wave, pack at the expected weight, wait for the waybill, hand over;
    returns the tracking no."""
    from tests.support.picking import pick_package

    device = await device_for(api, package["warehouse_id"])
    number = package["package_no"]
    shown = await pick_package(api, package)
    packed = await api.post(
        f"/v1/packages/{number}/pack",
        headers=device,
        json={"measured_weight_g": shown["expected_weight_g"] + 3},
    )
    assert packed.status_code == 200, packed.text
    # The waybill request starts as soon as the package is packed, so the answer may be later.
    assert packed.json()["status"] in ("packed", "waybill_created"), packed.text

    async def waybill() -> dict[str, Any] | None:
        view = (await api.get(f"/v1/packages/{number}", headers=device)).json()
        return view if view["status"] == "waybill_created" else None

    view = await eventually(waybill, f"waybill for {number}")
    handed = await api.post(f"/v1/packages/{number}/handover", headers=device)
    assert handed.status_code == 200, handed.text
    assert handed.json()["status"] == "shipped"
    return str(view["tracking_no"])


async def deliver(carrier: httpx.AsyncClient, tracking_no: str) -> None:
    for code in ("picked_up", "delivered"):
        pushed = await carrier.post(f"/_sandbox/tracking/{tracking_no}/events", json={"code": code})
        assert pushed.status_code == 201, pushed.text


async def place(
    api: httpx.AsyncClient, client_key: str, customer_id: int, lines: dict[int, int]
) -> str:
    """Place an order for {sku_id: quantity} as the demo storefront; returns its number."""
    await known_customer(api, customer_id)
    placed = await api.post(
        "/v1/orders",
        headers=SHOP,
        json={
            "client_order_key": client_key,
            "customer_id": customer_id,
            "address": ADDRESS,
            "lines": [{"sku_id": sku, "quantity": qty} for sku, qty in lines.items()],
        },
    )
    assert placed.status_code == 201, placed.text
    return str(placed.json()["order_no"])


async def customer_parcel(carrier: httpx.AsyncClient) -> str:
    """A customer sends a parcel back with the (sandbox) carrier: its tracking number."""
    party = {"name": "张三", "phone": "13800000000", "region_code": "310115", "address": "世纪大道"}
    body = {
        "package_key": f"customer-{uuid.uuid4().hex[:12]}",
        "carrier_service": "standard",
        "sender": party,
        "receiver": {**party, "name": "上海仓"},
        "weight_g": 600,
    }
    made = await carrier.post("/v1/waybills", json=body)
    assert made.status_code == 201, made.text
    return str(made.json()["tracking_no"])
