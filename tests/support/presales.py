"""Presales over the real API (预售, DESIGN §6.8): create one, buy in it, pay its deposit or its
balance at the sandbox provider, wait for a step on the order's timeline, and read the order's
money ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from models.db import MoneyEntry
from tests.support.order_api import Headers, Json, open_payment, order_body, view
from tests.support.orders import SHOP, eventually, known_customer
from tests.support.stack import Stack


async def create_presale(
    api: httpx.AsyncClient,
    headers: Headers,
    *,
    sku_id: int,
    price_fen: int,
    deposit_fen: int,
    opens_in: timedelta,
    lasts: timedelta,
    forfeit_percent: int = 100,
    refund_percent: int = 80,
    name: str = "新品预售",
) -> Json:
    now = datetime.now(UTC)
    body = {
        "name": name,
        "sku_id": sku_id,
        "price_fen": price_fen,
        "deposit_fen": deposit_fen,
        "starts_at": (now - timedelta(seconds=1)).isoformat(),
        "balance_starts_at": (now + opens_in).isoformat(),
        "balance_ends_at": (now + opens_in + lasts).isoformat(),
        "forfeit_percent": forfeit_percent,
        "refund_percent": refund_percent,
    }
    answer = await api.post("/v1/presales", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    sale: Json = answer.json()
    return sale


async def presale(api: httpx.AsyncClient, sale_id: int, headers: Headers) -> Json:
    answer = await api.get(f"/v1/presales/{sale_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    shown: Json = answer.json()
    return shown


async def buy_presale(
    api: httpx.AsyncClient, sale_id: int, sku_id: int, customer_id: int, key: str, quantity: int = 1
) -> httpx.Response:
    await known_customer(api, customer_id)
    body: dict[str, Any] = order_body(
        [{"sku_id": sku_id, "quantity": quantity}], key=key, customer_id=customer_id
    )
    body["presale_id"] = sale_id
    return await api.post("/v1/orders", json=body, headers=SHOP)


async def pay_stage(api: httpx.AsyncClient, provider: httpx.AsyncClient, order_no: str) -> Json:
    """Open the payment the order asks for now (deposit, or balance once its window is open)
    and settle it at the sandbox provider; returns the payment session."""
    payment = await open_payment(api, order_no)
    paid = await provider.post(
        f"/v1/payments/{payment['payment_id']}/simulate", json={"outcome": "succeeded"}
    )
    assert paid.status_code == 200, paid.text
    return payment


async def wait_step(api: httpx.AsyncClient, order_no: str, step: str, seconds: float = 60) -> Json:
    async def reached() -> Json | None:
        order = await view(api, order_no)
        return order if any(e["step"] == step for e in order["timeline"]) else None

    found: Json = await eventually(reached, f"order {order_no} step {step}", seconds)
    return found


async def ledger(stack: Stack, order_no: str) -> list[tuple[str, int]]:
    """(type, amount) of the order's money ledger rows, in booking order."""
    async with stack.sessions() as session:
        rows = await session.execute(
            select(MoneyEntry.entry_type, MoneyEntry.amount_fen)
            .where(MoneyEntry.order_no == order_no)
            .order_by(MoneyEntry.id)
        )
        return [(str(t), int(a)) for t, a in rows]
