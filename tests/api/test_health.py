"""Liveness and readiness, against the dev server and a real worker."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from api.deps import AppDeps
from core.db import make_session_factory
from tests.api.conftest import TOKEN_SECRET
from tests.support.api import asgi_client
from workers.worker import WorkerDeps, build_worker


async def test_healthz_needs_nothing(client: httpx.AsyncClient) -> None:
    answer = await client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


async def test_readyz_without_temporal_is_503(client: httpx.AsyncClient) -> None:
    answer = await client.get("/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["database"]["ok"] is True
    assert body["temporal"]["ok"] is False


async def test_readyz_deep_runs_a_workflow_on_the_worker(
    engine: AsyncEngine, dev_client: Client, task_queue: str
) -> None:
    factory = make_session_factory(engine)
    deps = AppDeps(
        engine=engine,
        session_factory=factory,
        token_secret=TOKEN_SECRET,
        temporal=dev_client,
        task_queue=task_queue,
    )
    worker = build_worker(dev_client, WorkerDeps(engine, factory), task_queue=task_queue)
    async with worker, asgi_client(deps) as client:
        shallow = await client.get("/readyz")
        deep = await client.get("/readyz?deep=true")
    assert shallow.status_code == 200, shallow.text
    assert deep.status_code == 200, deep.text
    assert deep.json()["temporal"]["worker"] == task_queue


async def test_readyz_is_503_when_migrations_are_behind(
    engine: AsyncEngine, dev_client: Client
) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    deps = AppDeps(
        engine=engine,
        session_factory=make_session_factory(engine),
        token_secret=TOKEN_SECRET,
        temporal=dev_client,
    )
    async with asgi_client(deps) as client:
        answer = await client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["database"] == {
        "ok": False,
        "revision": "old",
        "head": answer.json()["database"]["head"],
    }
