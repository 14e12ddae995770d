"""Migration 0053_stock_rollups on a database that already holds stock and waves: the rollups
start from the rows there (shipments per Shanghai day, the last shipment, a SKU already out of
sellable stock, finished waves), and going down and up again gives the same."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import date

import pytest_asyncio
from alembic import command
from sqlalchemy import text

from core.db import make_engine
from migrations import alembic_config
from tests.conftest import PgServer

BEFORE = (
    "INSERT INTO warehouses (id, code, name, region_code, timezone, address, active)"
    " VALUES (1, 'SH01', 'sh', '310000', 'Asia/Shanghai', '', true)",
    "INSERT INTO categories (id, code, name) VALUES (1, 'c', 'c')",
    "INSERT INTO spus (id, code, name, category_id, description, active)"
    " VALUES (1, 'p', 'p', 1, '', true)",
    "INSERT INTO skus (id, spu_id, code, name, barcode, weight_g, volume_cm3, list_price_fen,"
    " attributes, batch_managed, active) VALUES (1, 1, 'a', 'a', '1', 1, 1, 1, '{}', false, true),"
    " (2, 1, 'b', 'b', '2', 1, 1, 1, '{}', false, true)",
    "INSERT INTO stocks (sku_id, warehouse_id, on_hand, reserved, in_transit, safety_hold)"
    " VALUES (1, 1, 4, 4, 0, 0), (2, 1, 0, 0, 0, 0)",
    # SKU 1: 10 in, 3 out on 5 Nov 23:00 Shanghai (15:00 UTC), 3 out on 6 Nov 01:00 Shanghai
    # (17:00 UTC on the 5th); 4 left, all reserved: out of sellable stock. SKU 2: never stocked.
    "INSERT INTO stock_movements (created_at, movement_type, sku_id, warehouse_id, on_hand_delta,"
    " reserved_delta, in_transit_delta, ref_type, ref_no, actor, reason, unit_cost_fen) VALUES"
    " ('2026-11-01T02:00:00Z', 'purchase_in', 1, 1, 10, 0, 0, 'r', 'r1', 't', '', 100),"
    " ('2026-11-05T15:00:00Z', 'sales_out', 1, 1, -3, 0, 0, 'p', 'p1', 't', '', NULL),"
    " ('2026-11-05T17:00:00Z', 'sales_out', 1, 1, -3, 0, 0, 'p', 'p2', 't', '', NULL)",
    "INSERT INTO waves (wave_no, warehouse_id, plan_key, carrier_code, cutoff_at, profile, zone,"
    " release_reason, status, orders, lines, units, built, escalated, finished_at) VALUES"
    " ('W1', 1, 'k', 'SF', '2026-11-30T16:30:00Z', 's', 'A', 'manual', 'done', 1, 1, 1, true,"
    " false, '2026-11-30T16:00:00Z'),"
    " ('W2', 1, 'k', 'SF', '2026-11-30T16:30:00Z', 's', 'A', 'manual', 'done', 1, 1, 1, true,"
    " false, '2026-11-30T17:00:00Z')",
)


@pytest_asyncio.fixture
async def database(pg_server: PgServer) -> AsyncIterator[str]:
    name = f"houtai_rollups_{os.getpid()}"
    await pg_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await pg_server.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_server.url(name)
    finally:
        await pg_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _rollups(url: str) -> tuple[object, ...]:
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            out = (await conn.execute(text("SELECT day, sku_id, units FROM stock_daily_out"))).all()
            activity = (
                await conn.execute(
                    text(
                        "SELECT sku_id, last_out_on, zero_since IS NOT NULL FROM stock_activity"
                        " ORDER BY sku_id"
                    )
                )
            ).all()
            days = (
                await conn.execute(
                    text("SELECT day, waves_done, waves_on_time FROM warehouse_daily")
                )
            ).all()
        return sorted(out), activity, days
    finally:
        await engine.dispose()


async def test_the_rollups_start_from_the_rows_already_there(database: str) -> None:
    config = alembic_config(database)
    await asyncio.to_thread(command.upgrade, config, "0040_inventory_cost")
    engine = make_engine(database, pool_size=1)
    try:
        async with engine.begin() as conn:
            for sql in BEFORE:
                await conn.execute(text(sql))
    finally:
        await engine.dispose()
    await asyncio.to_thread(command.upgrade, config, "0053_stock_rollups")
    expected = (
        [(date(2026, 11, 5), 1, 3), (date(2026, 11, 6), 1, 3)],
        [(1, date(2026, 11, 6), True), (2, None, False)],
        [(date(2026, 12, 1), 2, 1)],  # cutoff 00:30 on 1 December in Shanghai; one was late
    )
    assert await _rollups(database) == expected
    await asyncio.to_thread(command.downgrade, config, "0040_inventory_cost")
    await asyncio.to_thread(command.upgrade, config, "0053_stock_rollups")
    assert await _rollups(database) == expected
