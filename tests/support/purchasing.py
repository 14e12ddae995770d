"""Purchase order helpers for whole-stack tests: demo suppliers, an approved PO, waits."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import select

from models.db import Location, Stock, Supplier, SupplierProduct
from tests.support.order_api import staff, warehouse_id
from tests.support.stack import Stack

Json = dict[str, Any]


async def supplier_with_products(stack: Stack, status: str = "approved") -> tuple[int, list[int]]:
    """A demo supplier in `status` and two SKUs it supplies that are not batch-managed."""
    async with stack.sessions() as session:
        rows = (
            await session.execute(
                select(Supplier.id, SupplierProduct.sku_id)
                .join(SupplierProduct, SupplierProduct.supplier_id == Supplier.id)
                .where(Supplier.status == status)
                .order_by(Supplier.id, SupplierProduct.sku_id)
            )
        ).all()
    supplier = rows[0][0]
    return supplier, [sku for sid, sku in rows if sid == supplier][:2]


async def location_in(stack: Stack, code: str) -> int:
    wh = await warehouse_id(stack, code)
    async with stack.sessions() as session:
        found = await session.scalar(
            select(Location.id).where(Location.warehouse_id == wh).order_by(Location.id)
        )
    assert found is not None
    return int(found)


async def stock_of(stack: Stack, sku: int, wh: int) -> tuple[int, int]:
    async with stack.sessions() as session:
        row = await session.get(Stock, (sku, wh), populate_existing=True)
        return (row.on_hand, row.in_transit) if row else (0, 0)


async def approved_po(
    stack: Stack, api: httpx.AsyncClient, quantities: tuple[int, int] = (100, 40)
) -> tuple[Json, list[int], int]:
    supplier, skus = await supplier_with_products(stack)
    sh = await warehouse_id(stack, "SH01")
    buyer = await staff(api, "purchasing")
    body = {
        "supplier_id": supplier,
        "lines": [
            {"sku_id": sku, "warehouse_id": sh, "quantity": q, "unit_price_fen": 250}
            for sku, q in zip(skus, quantities, strict=True)
        ],
    }
    created = await api.post("/v1/purchase-orders", json=body, headers=buyer)
    assert created.status_code == 201, created.text
    po = created.json()
    submitted = await api.post(f"/v1/purchase-orders/{po['po_no']}/submit", headers=buyer)
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["required_roles"] == ["purchasing_manager"]  # 35 000 fen: one level
    manager = await staff(api, "purchasing_manager")
    approved = await api.post(
        f"/v1/purchase-orders/{po['po_no']}/approve", json={}, headers=manager
    )
    assert approved.status_code == 200, approved.text
    return approved.json(), skus, sh


async def sent(api: httpx.AsyncClient, po_no: str, headers: dict[str, str]) -> Json:
    for _ in range(100):
        shown = (await api.get(f"/v1/purchase-orders/{po_no}", headers=headers)).json()
        if shown["status"] == "sent":
            return shown
        await asyncio.sleep(0.1)
    raise AssertionError(f"{po_no} never sent: {shown}")


async def wait_po(api: httpx.AsyncClient, po_no: str, status: str, headers: dict[str, str]) -> Json:
    for _ in range(150):
        shown: Json = (await api.get(f"/v1/purchase-orders/{po_no}", headers=headers)).json()
        if shown["status"] == status:
            return shown
        await asyncio.sleep(0.1)
    raise AssertionError(f"{po_no} never {status}: {shown}")
