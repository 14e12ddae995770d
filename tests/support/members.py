"""Shared pieces of the members tests (customers, segments, coupon batches): customers and
their orders written straight into the tables a segment rule reads, so a test can place an
order 100 days ago; and waiting for a coupon batch to finish."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, text

from core.security import hash_api_key, new_api_key
from models.db import ApiKey, Coupon
from tests.support.orders import ADDRESS, SHOP, eventually
from tests.support.stack import Stack

Json = dict[str, Any]


async def storefront_id(stack: Stack) -> int:
    async with stack.sessions() as session:
        found = await session.scalar(
            select(ApiKey.id).where(ApiKey.role == "storefront").order_by(ApiKey.id).limit(1)
        )
    assert found is not None
    return int(found)


async def another_storefront(stack: Stack) -> dict[str, str]:
    """A second storefront's key headers, on the stack's database."""
    key, prefix = new_api_key()
    async with stack.sessions() as session:
        session.add(
            ApiKey(
                name=f"shop-{prefix}", prefix=prefix, key_hash=hash_api_key(key), role="storefront"
            )
        )
        await session.commit()
    return {"X-API-Key": key}


async def upsert(
    api: httpx.AsyncClient, key: int, name: str, phone: str, headers: dict[str, str] = SHOP
) -> Json:
    body = {"name": name, "phone": phone, "channel": "app", "addresses": [ADDRESS]}
    answer = await api.put(f"/v1/customers/{key}", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    found: Json = answer.json()
    return found


async def past_order(
    stack: Stack, order_no: str, customer_key: int, *, days_ago: int, paid_fen: int,
    refunded_fen: int = 0, status: str = "completed",
) -> None:  # fmt: skip
    """An order row of the demo storefront's customer, placed `days_ago` days ago."""
    placed = datetime.now(UTC) - timedelta(days=days_ago)
    async with stack.sessions() as session:
        await session.execute(
            text(
                "INSERT INTO orders (order_no, api_key_id, customer_id, status, region_code, "
                "address, goods_list_fen, discount_fen, freight_fen, payable_fen, paid_fen, "
                "refunded_fen, pricing, payment_deadline, placed_at, status_seq, under_review, "
                "escalated, updated_at) VALUES (:no, :key, :customer, :status, '310115', "
                "'{}'::jsonb, :paid, 0, 0, :paid, :paid, :refunded, '{}'::jsonb, :placed, :placed, "
                "9, false, false, now())"
            ),
            {
                "no": order_no,
                "key": await storefront_id(stack),
                "customer": customer_key,
                "status": status,
                "paid": paid_fen,
                "refunded": refunded_fen,
                "placed": placed,
            },
        )
        await session.commit()


async def a_coupon(stack: Stack, code: str) -> int:
    async with stack.sessions() as session:
        coupon = Coupon(
            code=code,
            rule={"kind": "fixed", "amount_off_fen": 1000, "scope": {"all_items": True}},
        )
        session.add(coupon)
        await session.commit()
        return coupon.id


async def batch_done(api: httpx.AsyncClient, batch_id: int, headers: dict[str, str]) -> Json:
    async def done() -> Json | None:
        shown: Json = (await api.get(f"/v1/coupon-batches/{batch_id}", headers=headers)).json()
        return shown if shown["status"] == "done" else None

    found: Json = await eventually(done, f"coupon batch {batch_id} done")
    return found
