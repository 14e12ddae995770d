"""Migration 0055_loyalty_customer_ids on data (issue 16): points, level history and coupon
redemptions keyed by the storefront's customer key move to the customer record — by their
order's storefront, or, without an order, to the oldest record with that key; an order's
(storefront, key) never upserted gets a record; a key no one has is dropped; the accounts are
rebuilt from the ledger (a split below 0 adjusted back to 0) with their levels."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from alembic import command
from sqlalchemy import text

from core.db import make_engine
from migrations import alembic_config, upgrade_to_head
from tests.conftest import PgServer

BEFORE = "0040_inventory_cost"


@pytest_asyncio.fixture
async def database(pg_server: PgServer) -> AsyncIterator[str]:
    name = f"houtai_m0055_{os.getpid()}"
    await pg_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await pg_server.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_server.url(name)
    finally:
        await pg_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


ORDER = (
    "INSERT INTO orders (order_no, api_key_id, customer_id, status, region_code, address, "
    "goods_list_fen, discount_fen, freight_fen, payable_fen, paid_fen, refunded_fen, pricing, "
    "payment_deadline, placed_at, status_seq, under_review, escalated, updated_at) VALUES "
    "(:no, :shop, :key, 'completed', '310115', '{}'::jsonb, 100, 0, 0, 100, 100, 0, "
    "'{}'::jsonb, now(), now(), 9, false, false, now())"
)
LEDGER = (
    "INSERT INTO points_ledger (customer_id, kind, points, growth, order_no, key, detail) "
    "VALUES (:key, :kind, :points, :growth, :no, :k, '{}'::jsonb)"
)


async def test_loyalty_rows_move_to_the_customer_records(database: str) -> None:
    await asyncio.to_thread(command.upgrade, alembic_config(database), BEFORE)
    engine = make_engine(database, pool_size=1)
    try:
        async with engine.begin() as conn:

            async def one(sql: str, **values: Any) -> Any:
                return (await conn.execute(text(sql), values)).scalar()

            shops = [
                await one(
                    "INSERT INTO api_keys (name, prefix, key_hash, role, active) "
                    "VALUES (:n, :n, 'h', 'storefront', true) RETURNING id",
                    n=name,
                )
                for name in ("shop-a", "shop-b")
            ]
            a, b = shops
            record = (
                "INSERT INTO customers (api_key_id, customer_key, name, phone, addresses, "
                "channel) VALUES (:shop, 7, 'n', '1', '[]'::jsonb, 'app') RETURNING id"
            )
            ra = await one(record, shop=a)  # the older record with key 7
            rb = await one(record, shop=b)
            for no, shop, key in (("SO-A", a, 7), ("SO-B", b, 7), ("SO-C", a, 9)):
                await conn.execute(text(ORDER), {"no": no, "shop": shop, "key": key})
            bookings: list[tuple[int, str, int, int, str | None, str]] = [
                (7, "earn", 100, 100, "SO-A", "SO-A:earn"),
                (7, "spend", -30, 0, "SO-B", "SO-B:spend"),  # B's customer spent A's points
                (7, "adjust", 50, 0, None, "adjust:w"),
                (9, "earn", 20, 20, "SO-C", "SO-C:earn"),
                (12345, "adjust", 5, 0, None, "adjust:x"),  # a key no storefront has
            ]
            for key, kind, points, growth, no, k in bookings:
                await conn.execute(
                    text(LEDGER),
                    {"key": key, "kind": kind, "points": points, "growth": growth, "no": no,
                     "k": k},
                )  # fmt: skip
            for key, balance, growth in ((7, 120, 100), (9, 20, 20), (12345, 5, 0)):
                await conn.execute(
                    text(
                        "INSERT INTO points_accounts (customer_id, balance, growth) "
                        "VALUES (:key, :balance, :growth)"
                    ),
                    {"key": key, "balance": balance, "growth": growth},
                )
            level = await one(
                "INSERT INTO member_levels (code, name, growth_threshold, discount_percent, "
                "free_shipping) VALUES ('L', 'L', 50, 0, false) RETURNING id"
            )
            await conn.execute(
                text(
                    "INSERT INTO member_level_history (customer_id, from_level_id, to_level_id, "
                    "growth, order_no) VALUES (7, NULL, :level, 100, 'SO-A')"
                ),
                {"level": level},
            )
            coupon = await one(
                "INSERT INTO coupons (code, rule, active) VALUES "
                "('C1', '{}'::jsonb, true) RETURNING id"
            )
            await conn.execute(
                text(
                    "INSERT INTO coupon_redemptions (coupon_id, order_no, customer_id, status) "
                    "VALUES (:coupon, 'SO-B', 7, 'used')"
                ),
                {"coupon": coupon},
            )

        await asyncio.to_thread(upgrade_to_head, database)

        async with engine.connect() as conn:

            async def rows(sql: str) -> list[tuple[Any, ...]]:
                return [tuple(r) for r in (await conn.execute(text(sql))).all()]

            [(rc, channel)] = await rows(
                f"SELECT id, channel FROM customers WHERE api_key_id = {a} AND customer_key = 9"
            )
            assert channel == "migrated"  # the order's customer, never upserted, has a record
            assert await rows(
                "SELECT customer_id, kind, points, key FROM points_ledger ORDER BY customer_id, id"
            ) == [
                (ra, "earn", 100, "SO-A:earn"),
                (ra, "adjust", 50, "adjust:w"),
                (rb, "spend", -30, "SO-B:spend"),
                (rb, "adjust", 30, "adjust:migration-0055"),  # split below 0: back to 0
                (rc, "earn", 20, "SO-C:earn"),
            ]
            assert await rows(
                "SELECT customer_id, balance, growth, level_id FROM points_accounts "
                "ORDER BY customer_id"
            ) == [(ra, 150, 100, level), (rb, 0, 0, None), (rc, 20, 20, None)]
            assert await rows("SELECT customer_id, order_no FROM member_level_history") == [
                (ra, "SO-A")
            ]
            assert await rows("SELECT customer_id FROM coupon_redemptions") == [(rb,)]
            assert await rows(
                "SELECT count(*) FROM customer_coupons WHERE used_order_no IS NOT NULL"
            ) == [(0,)]

        # Down again: keyed by the storefront's key, the two customers 7 merged as before.
        await asyncio.to_thread(command.downgrade, alembic_config(database), BEFORE)
        async with engine.connect() as conn:
            found = await conn.execute(
                text("SELECT customer_id, balance, growth FROM points_accounts ORDER BY 1")
            )
            assert [tuple(r) for r in found] == [(7, 150, 100), (9, 20, 20)]
    finally:
        await engine.dispose()
