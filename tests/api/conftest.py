"""The API over httpx's ASGI transport, wired by the same create_app production uses."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from api.deps import AppDeps
from core.db import SessionFactory
from core.security import hash_api_key, new_api_key
from models.db import ApiKey, Category, Location, Sku, Spu, Warehouse
from tests.support.api import (
    CLIENT_IP,
    PASSWORD,
    Headers,
    MakeHeaders,
    add_user,
    asgi_client,
    bearer,
    login,
)
from tests.support.order_api import http, order_stack
from tests.support.stack import Stack

TOKEN_SECRET = "test-secret-" + "x" * 40
_names = itertools.count()


@pytest.fixture
def deps(engine: AsyncEngine, session_factory: SessionFactory) -> AppDeps:
    return AppDeps(engine=engine, session_factory=session_factory, token_secret=TOKEN_SECRET)


@pytest_asyncio.fixture
async def client(deps: AppDeps) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(deps, (CLIENT_IP, 5555)) as c:
        yield c


@pytest.fixture
def user_headers(client: httpx.AsyncClient, session_factory: SessionFactory) -> MakeHeaders:
    """Create a staff user with the given roles, log in over HTTP, return auth headers."""

    async def make(*roles: str) -> Headers:
        username = f"user{next(_names)}"
        await add_user(session_factory, username, *roles)
        answer = await login(client, username, PASSWORD)
        assert answer.status_code == 200, answer.text
        return bearer(answer.json()["access_token"])

    return make


@pytest.fixture
def key_headers(session_factory: SessionFactory) -> MakeHeaders:
    async def make(role: str, warehouse_id: int | None = None) -> Headers:
        key, prefix = new_api_key()
        async with session_factory() as session:
            session.add(
                ApiKey(
                    name=f"{role}-{prefix}",
                    prefix=prefix,
                    key_hash=hash_api_key(key),
                    role=role,
                    warehouse_id=warehouse_id,
                )
            )
            await session.commit()
        return {"X-API-Key": key}

    return make


@dataclass
class Ref:
    """A small set of reference data for route tests."""

    category_id: int
    product_id: int
    sku_id: int
    warehouse_id: int
    other_warehouse_id: int
    location_id: int
    other_location_id: int


def _first_location(warehouse: Warehouse) -> Location:
    """Location A-01-01-1 of a flushed warehouse, its barcode prefixed by the warehouse code."""
    return Location(
        warehouse_id=warehouse.id,
        code="A-01-01-1",
        barcode=f"{warehouse.code}-A-01-01-1",
        zone="A",
        aisle=1,
        bay=1,
        level=1,
        x_cm=300,
        y_cm=120,
    )


@pytest_asyncio.fixture
async def ref(session_factory: SessionFactory) -> Ref:
    async with session_factory() as session:
        category = Category(code="food", name="食品")
        wh1 = Warehouse(code="SH01", name="上海仓", region_code="310000")
        wh2 = Warehouse(code="GZ01", name="广州仓", region_code="440000")
        session.add_all([category, wh1, wh2])
        await session.flush()
        spu = Spu(code="P1", name="坚果礼盒", category_id=category.id)
        session.add(spu)
        await session.flush()
        sku = Sku(
            spu_id=spu.id,
            code="P1-500",
            name="坚果礼盒 500g",
            barcode="6900000000017",
            weight_g=520,
            volume_cm3=3000,
            list_price_fen=9900,
        )
        loc1, loc2 = _first_location(wh1), _first_location(wh2)
        session.add_all([sku, loc1, loc2])
        await session.commit()
        return Ref(category.id, spu.id, sku.id, wh1.id, wh2.id, loc1.id, loc2.id)


@pytest_asyncio.fixture
async def admin(user_headers: MakeHeaders) -> Headers:
    return await user_headers("admin")


@pytest_asyncio.fixture
async def batch_sku(session_factory: SessionFactory, ref: Ref) -> int:
    """A batch-managed SKU of the reference product."""
    async with session_factory() as session:
        sku = Sku(
            spu_id=ref.product_id, code="P1-MILK", name="鲜奶 1L", barcode="6900000000024",
            weight_g=1050, volume_cm3=1100, list_price_fen=1290,
            batch_managed=True, shelf_life_days=21,
        )  # fmt: skip
        session.add(sku)
        await session.commit()
        return sku.id


async def created(client: httpx.AsyncClient, path: str, body: Any, headers: Headers) -> Any:
    answer = await client.post(path, json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return answer.json()


# --- the whole back office (PostgreSQL, the dev server, sandboxes, a worker), for route tests
# of processes; indirect parametrization of `stack` passes running_stack's keywords.


@pytest_asyncio.fixture
async def stack(
    request: pytest.FixtureRequest, seeded_engine: AsyncEngine, dev_client: Client, task_queue: str
) -> AsyncIterator[Stack]:
    async with order_stack(request, seeded_engine, dev_client, task_queue) as running:
        yield running


@pytest_asyncio.fixture
async def api(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with http(stack.api) as client:
        yield client


@pytest_asyncio.fixture
async def provider(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with http(stack.payments) as client:
        yield client


@pytest_asyncio.fixture
async def carrier(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with http(stack.carrier) as client:
        yield client
