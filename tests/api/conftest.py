"""The API over httpx's ASGI transport, wired by the same create_app production uses."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from api.deps import AppDeps
from api.main import create_app
from core.db import SessionFactory
from core.security import hash_api_key, hash_password, new_api_key
from models.db import ApiKey, Category, Location, Sku, Spu, User, UserRole, Warehouse

TOKEN_SECRET = "test-secret-" + "x" * 40
PASSWORD = "correct-horse-battery"
_names = itertools.count()


@pytest.fixture
def deps(engine: AsyncEngine, session_factory: SessionFactory) -> AppDeps:
    return AppDeps(engine=engine, session_factory=session_factory, token_secret=TOKEN_SECRET)


@pytest_asyncio.fixture
async def client(deps: AppDeps) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(deps), client=("10.1.2.3", 5555))
    async with httpx.AsyncClient(transport=transport, base_url="http://houtai.test") as c:
        yield c


Headers = dict[str, str]


@pytest.fixture
def user_headers(
    client: httpx.AsyncClient, session_factory: SessionFactory
) -> Callable[..., Awaitable[Headers]]:
    """Create a staff user with the given roles, log in over HTTP, return auth headers."""

    async def make(*roles: str) -> Headers:
        username = f"user{next(_names)}"
        async with session_factory() as session:
            user = User(
                username=username, display_name=username, password_hash=hash_password(PASSWORD)
            )
            session.add(user)
            await session.flush()
            session.add_all(UserRole(user_id=user.id, role=r) for r in roles)
            await session.commit()
        answer = await client.post(
            "/v1/auth/login", json={"username": username, "password": PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    return make


@pytest.fixture
def key_headers(session_factory: SessionFactory) -> Callable[..., Awaitable[Headers]]:
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
        loc1 = Location(
            warehouse_id=wh1.id,
            code="A-01-01-1",
            barcode="SH01-A-01-01-1",
            zone="A",
            aisle=1,
            bay=1,
            level=1,
            x_cm=300,
            y_cm=120,
        )
        loc2 = Location(
            warehouse_id=wh2.id,
            code="A-01-01-1",
            barcode="GZ01-A-01-01-1",
            zone="A",
            aisle=1,
            bay=1,
            level=1,
            x_cm=300,
            y_cm=120,
        )
        session.add_all([sku, loc1, loc2])
        await session.commit()
        return Ref(category.id, spu.id, sku.id, wh1.id, wh2.id, loc1.id, loc2.id)
