"""Migration 0056_campaign_customer_ids on data (issue 16): flash claims and group-buy members
keyed by the storefront's customer key get their customer record — by their order's storefront,
else their order number's (a claim whose order never started has only that), else the oldest
record with the key; an order's (storefront, key) never upserted gets a record; a key no one has
is dropped. The flash buyers' counts are rebuilt per record from the claims not released, so two
storefronts' "customer 7", who shared one count, each have their own. Down again, keyed by the
storefront's key as before."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from core.db import make_engine
from migrations import alembic_config, upgrade_to_head
from tests.conftest import PgServer

BEFORE = "0055_loyalty_customer_ids"

SETUP = (
    "INSERT INTO warehouses (id, code, name, region_code, timezone, address, active)"
    " VALUES (1, 'SH01', 'sh', '310000', 'Asia/Shanghai', '', true)",
    "INSERT INTO categories (id, code, name) VALUES (1, 'c', 'c')",
    "INSERT INTO spus (id, code, name, category_id, description, active)"
    " VALUES (1, 'p', 'p', 1, '', true)",
    "INSERT INTO skus (id, spu_id, code, name, barcode, weight_g, volume_cm3, list_price_fen,"
    " attributes, batch_managed, active) VALUES (1, 1, 'a', 'a', '1', 1, 1, 1, '{}', false, true)",
    "INSERT INTO flash_sales (id, flash_no, name, sku_id, warehouse_id, price_fen, planned,"
    " per_customer_limit, starts_at, ends_at, status, total, sold, held, returned, created_by)"
    " VALUES (1, 'FS1', 'f', 1, 1, 1, 10, 2, now(), now() + interval '1 hour', 'open', 10, 5, 10,"
    " 0, 't')",
    "INSERT INTO group_buy_offers (id, name, sku_id, group_price_fen, group_size,"
    " time_limit_minutes, starts_at, ends_at) VALUES (1, 'g', 1, 1, 3, 60, now(),"
    " now() + interval '1 day')",
    "INSERT INTO group_buys (group_no, offer_id, status, opened_by, group_size, members, paid,"
    " opened_at, deadline, reason, version) VALUES ('GB1', 1, 'forming', 7, 3, 2, 0, now(),"
    " now() + interval '1 hour', '', 1)",
)
ORDER = (
    "INSERT INTO orders (order_no, api_key_id, customer_id, status, region_code, address, "
    "goods_list_fen, discount_fen, freight_fen, payable_fen, paid_fen, refunded_fen, pricing, "
    "payment_deadline, placed_at, status_seq, under_review, escalated, updated_at) VALUES "
    "(:no, :shop, :key, 'pending_payment', '310115', '{}'::jsonb, 1, 0, 0, 1, 0, 0, "
    "'{}'::jsonb, now(), now(), 1, false, false, now())"
)
NUMBER = (
    "INSERT INTO order_numbers (order_no, api_key_id, client_order_key) VALUES (:no, :shop, :no)"
)
CLAIM = (
    "INSERT INTO flash_claims (order_no, flash_sale_id, customer_id, sku_id, quantity, "
    "price_fen, status) VALUES (:no, 1, :key, 1, :q, 1, :status)"
)
MEMBER = (
    "INSERT INTO group_buy_members (group_no, order_no, customer_id, status, joined_at) "
    "VALUES ('GB1', :no, :key, :status, now())"
)


@pytest_asyncio.fixture
async def database(pg_server: PgServer) -> AsyncIterator[str]:
    name = f"houtai_m0056_{os.getpid()}"
    await pg_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await pg_server.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_server.url(name)
    finally:
        await pg_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_campaign_rows_move_to_the_customer_records(database: str) -> None:
    await asyncio.to_thread(command.upgrade, alembic_config(database), BEFORE)
    engine = make_engine(database, pool_size=1)
    try:
        async with engine.begin() as conn:

            async def one(sql: str, **values: Any) -> Any:
                return (await conn.execute(text(sql), values)).scalar()

            for sql in SETUP:
                await conn.execute(text(sql))
            a, b = [
                await one(
                    "INSERT INTO api_keys (name, prefix, key_hash, role, active) "
                    "VALUES (:n, :n, 'h', 'storefront', true) RETURNING id",
                    n=name,
                )
                for name in ("shop-a", "shop-b")
            ]
            record = (
                "INSERT INTO customers (api_key_id, customer_key, name, phone, addresses, "
                "channel) VALUES (:shop, 7, 'n', '1', '[]'::jsonb, 'app') RETURNING id"
            )
            ra = await one(record, shop=a)  # the older record with key 7
            rb = await one(record, shop=b)
            # Orders placed; SO-B's never started (its number only); SO-C names a/9, never
            # upserted; SO-X has neither order nor number.
            for no, shop, key in (("SO-A", a, 7), ("SO-C", a, 9), ("SO-D", b, 7), ("SO-G", a, 7)):
                await conn.execute(text(ORDER), {"no": no, "shop": shop, "key": key})
            for no, shop in (("SO-A", a), ("SO-B", b), ("SO-C", a), ("SO-D", b), ("SO-G", a),
                             ("SO-H", b)):  # fmt: skip
                await conn.execute(text(NUMBER), {"no": no, "shop": shop})
            for no, key, q, status in (
                ("SO-A", 7, 1, "reserved"),
                ("SO-B", 7, 1, "claimed"),
                ("SO-C", 9, 2, "reserved"),
                ("SO-D", 7, 1, "released"),
            ):
                await conn.execute(text(CLAIM), {"no": no, "key": key, "q": q, "status": status})
            # Keyed by the storefront's key, the two customers 7 shared one count (2 of 2).
            await conn.execute(
                text(
                    "INSERT INTO flash_buyers (flash_sale_id, customer_id, bought) "
                    "VALUES (1, 7, 2), (1, 9, 2)"
                )
            )
            for no, key, status in (
                ("SO-G", 7, "joined"),  # by its order
                ("SO-H", 7, "left"),  # by its number: its order was never placed
                ("SO-X", 7, "left"),  # no storefront to tell: the oldest record with key 7
                ("SO-Y", 12345, "left"),  # a key no storefront has: dropped
            ):
                await conn.execute(text(MEMBER), {"no": no, "key": key, "status": status})

        await asyncio.to_thread(upgrade_to_head, database)

        async with engine.connect() as conn:

            async def rows(sql: str) -> list[tuple[Any, ...]]:
                return [tuple(r) for r in (await conn.execute(text(sql))).all()]

            [(rc, channel)] = await rows(
                f"SELECT id, channel FROM customers WHERE api_key_id = {a} AND customer_key = 9"
            )
            assert channel == "migrated"  # the order's customer, never upserted, has a record
            assert await rows(
                "SELECT order_no, customer_id, customer_record_id FROM flash_claims ORDER BY 1"
            ) == [("SO-A", 7, ra), ("SO-B", 7, rb), ("SO-C", 9, rc), ("SO-D", 7, rb)]
            # Each customer's own count: the units of their claims not released.
            assert await rows(
                "SELECT customer_id, bought FROM flash_buyers WHERE flash_sale_id = 1 ORDER BY 1"
            ) == sorted([(ra, 1), (rb, 1), (rc, 2)])
            assert await rows(
                "SELECT order_no, customer_id, customer_record_id FROM group_buy_members ORDER BY 1"
            ) == [("SO-G", 7, ra), ("SO-H", 7, rb), ("SO-X", 7, ra)]
        # The keys are the records' now: a count for a customer no record is refused.
        for sql in (
            "INSERT INTO flash_buyers (flash_sale_id, customer_id, bought) VALUES (1, 999999, 1)",
            "UPDATE flash_claims SET customer_record_id = 999999 WHERE order_no = 'SO-A'",
            "UPDATE group_buy_members SET customer_record_id = 999999 WHERE order_no = 'SO-G'",
        ):
            with pytest.raises(IntegrityError):
                async with engine.begin() as conn:
                    await conn.execute(text(sql))

        # Down again: keyed by the storefront's key, the two customers 7 share a count again.
        await asyncio.to_thread(command.downgrade, alembic_config(database), BEFORE)
        async with engine.connect() as conn:
            found = await conn.execute(
                text("SELECT customer_id, bought FROM flash_buyers ORDER BY 1")
            )
            assert [tuple(r) for r in found] == [(7, 2), (9, 2)]
            columns = await conn.execute(
                text(
                    "SELECT count(*) FROM information_schema.columns "
                    "WHERE column_name = 'customer_record_id'"
                )
            )
            assert columns.scalar() == 0
    finally:
        await engine.dispose()
