"""Adjustment bodies and stock read-backs shared by the stock route tests."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select, update

from core.db import SessionFactory
from models.db import LocationStock, Stock, StockMovement
from tests.api.conftest import Ref
from tests.support.api import Headers
from tests.support.invariants import assert_stock_invariants


def body(ref: Ref, sku_id: int, delta: int, **extra: Any) -> dict[str, Any]:
    return {
        "sku_id": sku_id,
        "warehouse_id": ref.warehouse_id,
        "location_id": ref.location_id,
        "quantity_delta": delta,
        "reason": "盘点差异",
        **extra,
    }


async def adjust(
    client: httpx.AsyncClient, headers: Headers, payload: dict[str, Any]
) -> httpx.Response:
    return await client.post("/v1/stock/adjustments", json=payload, headers=headers)


async def figures(
    session_factory: SessionFactory, sku_id: int, warehouse_id: int
) -> tuple[int, int, int]:
    """(on_hand, reserved, safety_hold) of one (SKU, warehouse); invariants checked on the way."""
    async with session_factory() as session:
        await assert_stock_invariants(session)
        stock = await session.get(Stock, (sku_id, warehouse_id))
        return (stock.on_hand, stock.reserved, stock.safety_hold) if stock else (0, 0, 0)


async def batch_quantity(session_factory: SessionFactory, sku_id: int, batch_no: str) -> int:
    async with session_factory() as session:
        quantity = await session.scalar(
            select(LocationStock.quantity).where(
                LocationStock.sku_id == sku_id, LocationStock.batch_no == batch_no
            )
        )
        return quantity or 0


async def reserve(session_factory: SessionFactory, sku_id: int, warehouse_id: int, n: int) -> None:
    """Hold `n` units for an order the way the reservation path does: figure plus ledger row."""
    async with session_factory() as session:
        await session.execute(
            update(Stock)
            .where(Stock.sku_id == sku_id, Stock.warehouse_id == warehouse_id)
            .values(reserved=Stock.reserved + n)
        )
        session.add(
            StockMovement(
                movement_type="reservation", sku_id=sku_id, warehouse_id=warehouse_id,
                reserved_delta=n, ref_type="order", ref_no="SO-1", actor="system",
            )
        )  # fmt: skip
        await session.commit()
