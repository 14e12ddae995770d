"""Flash sales over the real API (DESIGN §6.8): create one, wait for its status, buy in it, and
read the campaign's stock movements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from models.db import Sku, StockMovement
from tests.support.order_api import Headers, Json, order_body
from tests.support.orders import SHOP, eventually, known_customer
from tests.support.stack import Stack


async def list_price(stack: Stack, sku_id: int) -> int:
    async with stack.sessions() as session:
        price = await session.scalar(select(Sku.list_price_fen).where(Sku.id == sku_id))
    assert price is not None
    return int(price)


async def create_flash_sale(
    api: httpx.AsyncClient,
    headers: Headers,
    *,
    sku_id: int,
    warehouse_id: int,
    price_fen: int,
    quantity: int,
    limit: int = 1,
    opens_in: timedelta = timedelta(0),
    lasts: timedelta = timedelta(hours=1),
    name: str = "双十二秒杀",
) -> Json:
    starts = datetime.now(UTC) + opens_in
    body = {
        "name": name,
        "sku_id": sku_id,
        "warehouse_id": warehouse_id,
        "price_fen": price_fen,
        "quantity": quantity,
        "per_customer_limit": limit,
        "starts_at": starts.isoformat(),
        "ends_at": (starts + lasts).isoformat(),
    }
    answer = await api.post("/v1/flash-sales", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    sale: Json = answer.json()
    return sale


async def flash_sale(api: httpx.AsyncClient, sale_id: int, headers: Headers) -> Json:
    answer = await api.get(f"/v1/flash-sales/{sale_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    shown: Json = answer.json()
    return shown


async def wait_flash_status(
    api: httpx.AsyncClient, sale_id: int, status: str, headers: Headers, seconds: float = 60
) -> Json:
    async def reached() -> Json | None:
        shown = await flash_sale(api, sale_id, headers)
        return shown if shown["status"] == status else None

    found: Json = await eventually(reached, f"flash sale {sale_id} {status}", seconds)
    return found


async def buy(
    api: httpx.AsyncClient, sale_id: int, sku_id: int, customer_id: int, key: str, quantity: int = 1
) -> httpx.Response:
    await known_customer(api, customer_id)
    body: dict[str, Any] = order_body(
        [{"sku_id": sku_id, "quantity": quantity}], key=key, customer_id=customer_id
    )
    body["flash_sale_id"] = sale_id
    return await api.post("/v1/orders", json=body, headers=SHOP)


async def campaign_movements(stack: Stack, flash_no: str) -> list[tuple[str, int]]:
    """(type, reserved delta) of the campaign's own movements (carving and giving back)."""
    async with stack.sessions() as session:
        rows = await session.execute(
            select(StockMovement.movement_type, StockMovement.reserved_delta)
            .where(StockMovement.ref_type == "flash_sale", StockMovement.ref_no == flash_no)
            .order_by(StockMovement.id)
        )
        return [(str(t), int(d)) for t, d in rows]
