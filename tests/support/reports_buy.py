"""Data for the purchasing and finance reports, made through the real processes: POs with
partial and late receipts at different prices, a supplier paid, refunds of two causes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from models.domain.reconciliation import business_day
from tests.support.order_api import DEVICE, staff, warehouse_id
from tests.support.purchasing import location_in, sent, supplier_with_products, wait_po
from tests.support.stack import Stack

Json = dict[str, Any]


def today() -> date:
    return business_day(datetime.now(UTC))


async def approve(
    api: httpx.AsyncClient,
    supplier: int,
    lines: list[tuple[int, int, int]],
    wh: int,
    expected_on: date | None = None,
) -> str:
    """A PO of (sku, quantity, unit price) lines, submitted and approved: its number."""
    buyer = await staff(api, "purchasing")
    body: Json = {
        "supplier_id": supplier,
        "lines": [
            {"sku_id": sku, "warehouse_id": wh, "quantity": q, "unit_price_fen": price}
            for sku, q, price in lines
        ],
    }
    if expected_on is not None:
        body["expected_on"] = expected_on.isoformat()
    created = await api.post("/v1/purchase-orders", json=body, headers=buyer)
    assert created.status_code == 201, created.text
    number: str = created.json()["po_no"]
    submitted = await api.post(f"/v1/purchase-orders/{number}/submit", headers=buyer)
    assert submitted.status_code == 200, submitted.text
    for role in submitted.json()["required_roles"]:
        approved = await api.post(
            f"/v1/purchase-orders/{number}/approve",
            json={"role": role},
            headers=await staff(api, role),
        )
        assert approved.status_code == 200, approved.text
    await sent(api, number, buyer)
    return number


async def receive(
    stack: Stack, api: httpx.AsyncClient, number: str, key: str, lines: list[tuple[int, int, int]]
) -> None:
    """A delivery of (line_no, sku, received) lines, all accepted."""
    sh = await warehouse_id(stack, "SH01")
    body = {
        "receipt_key": key,
        "warehouse_id": sh,
        "location_id": await location_in(stack, "SH01"),
        "lines": [
            {"line_no": no, "sku_id": sku, "received": q, "accepted": q, "batch_no": key}
            for no, sku, q in lines
        ],
    }
    answer = await api.post(
        f"/v1/purchase-orders/{number}/receipts", json=body, headers=DEVICE["SH01"]
    )
    assert answer.status_code == 201, answer.text


async def close_short(api: httpx.AsyncClient, number: str) -> None:
    buyer = await staff(api, "purchasing")
    closing = await api.post(
        f"/v1/purchase-orders/{number}/close", json={"reason": "rest not coming"}, headers=buyer
    )
    assert closing.status_code == 200, closing.text
    await wait_po(api, number, "closed", buyer)


@dataclass
class Buying:
    supplier: int
    sku_a: int
    sku_b: int
    late: str  # 100 A @2.50 + 40 B @2.50, due yesterday, 60 A received today, closed short
    on_time: str  # 50 A @3.00, due in 5 days, all received today (closed by itself)
    open_po: str  # 10 A @2.80, approved today, nothing received


async def buying(stack: Stack, api: httpx.AsyncClient) -> Buying:
    supplier, (sku_a, sku_b) = await supplier_with_products(stack)
    sh = await warehouse_id(stack, "SH01")
    late = await approve(
        api, supplier, [(sku_a, 100, 250), (sku_b, 40, 250)], sh, today() - timedelta(days=1)
    )
    await receive(stack, api, late, "late-1", [(1, sku_a, 60)])
    await close_short(api, late)
    on_time = await approve(api, supplier, [(sku_a, 50, 300)], sh, today() + timedelta(days=5))
    await receive(stack, api, on_time, "on-time-1", [(1, sku_a, 50)])
    await wait_po(api, on_time, "closed", await staff(api, "purchasing"))
    open_po = await approve(api, supplier, [(sku_a, 10, 280)], sh)
    return Buying(supplier, sku_a, sku_b, late, on_time, open_po)
