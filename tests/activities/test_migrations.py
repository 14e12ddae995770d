"""Migrations: up from an empty database to head, and the tables match the models exactly."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from core.db import SessionFactory, make_engine
from migrations import current_revision, head_revision, upgrade_to_head
from models.db import Base, Category, Sku, Spu, Stock, Warehouse
from models.domain.access import ALL_ROLES
from tests.conftest import PgServer


@pytest_asyncio.fixture
async def empty_database(pg_server: PgServer) -> AsyncIterator[str]:
    name = f"houtai_empty_{os.getpid()}"
    await pg_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await pg_server.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_server.url(name)
    finally:
        await pg_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_upgrade_from_empty_reaches_head_and_matches_the_models(empty_database: str) -> None:
    engine = make_engine(empty_database, pool_size=1)
    try:
        assert await current_revision(engine) is None
        await asyncio.to_thread(upgrade_to_head, empty_database)
        assert await current_revision(engine) == head_revision()
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            assert set(Base.metadata.tables) <= tables
            assert await conn.run_sync(_diff) == []
            roles = set((await conn.execute(text("SELECT name FROM roles"))).scalars())
            assert roles == ALL_ROLES  # every role the permissions name exists in the database
        # A second upgrade is a no-op.
        await asyncio.to_thread(upgrade_to_head, empty_database)
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_the_database_refuses_what_the_ledger_forbids(
    session_factory: SessionFactory,
) -> None:
    """Constraints back up the code: negative stock or reserved above on-hand cannot be stored."""
    async with session_factory() as session:
        category = Category(code="c", name="c")
        warehouse = Warehouse(code="w", name="w", region_code="310000")
        session.add_all([category, warehouse])
        await session.flush()
        spu = Spu(code="p", name="p", category_id=category.id)
        session.add(spu)
        await session.flush()
        sku = Sku(
            spu_id=spu.id,
            code="s",
            name="s",
            barcode="1234",
            weight_g=1,
            volume_cm3=1,
            list_price_fen=1,
        )
        session.add(sku)
        await session.commit()
        ids = (sku.id, warehouse.id)
    for on_hand, reserved, constraint in (
        (-1, 0, "on_hand_not_negative"),
        (1, 2, "reserved_within_on_hand"),
    ):
        async with session_factory() as session:
            session.add(
                Stock(sku_id=ids[0], warehouse_id=ids[1], on_hand=on_hand, reserved=reserved)
            )
            with pytest.raises(IntegrityError, match=f"ck_stocks_{constraint}"):
                await session.commit()
