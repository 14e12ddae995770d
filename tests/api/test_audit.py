"""Every state-changing request leaves exactly one audit row, whatever its outcome."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from api.deps import AppDeps
from core.db import SessionFactory
from models.db import AuditEntry
from tests.api.conftest import Ref
from tests.api.test_permissions import _concrete, _routes
from tests.support.api import MakeHeaders, row_count

WRITES = {"POST", "PUT", "PATCH", "DELETE"}


async def test_every_write_route_is_audited_with_actor_role_action_and_ip(
    client: httpx.AsyncClient,
    deps: AppDeps,
    ref: Ref,
    user_headers: MakeHeaders,
    session_factory: SessionFactory,
) -> None:
    headers = await user_headers("admin")
    writes = [(m, p) for m, p, _ in _routes(deps) if m in WRITES]
    assert len(writes) >= 20
    for method, path in writes:
        before = await row_count(session_factory, AuditEntry)
        answer = await client.request(method, _concrete(path, ref), json={}, headers=headers)
        after = await row_count(session_factory, AuditEntry)
        assert after == before + 1, (method, path, answer.status_code)
        async with session_factory() as session:
            entry = await session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()))
        assert entry is not None
        assert entry.status_code == answer.status_code
        assert entry.method == method
        assert entry.path == _concrete(path, ref)
        assert entry.client_ip == "10.1.2.3"
        # Signing in and pairing a device are made before there are credentials to name.
        if path not in ("/v1/auth/login", "/v1/devices/pair") and not path.startswith(
            "/v1/webhooks/"
        ):
            assert entry.roles == ["admin"], (method, path)
            assert entry.actor_type == "user"


async def test_a_successful_write_is_audited_in_its_own_transaction_with_its_object(
    client: httpx.AsyncClient,
    user_headers: MakeHeaders,
    session_factory: SessionFactory,
) -> None:
    headers = await user_headers("ops")
    answer = await client.post("/v1/brands", json={"name": "良品"}, headers=headers)
    assert answer.status_code == 201
    async with session_factory() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "brand.create"))
    assert entry is not None
    assert (entry.object_type, entry.object_id) == ("brand", str(answer.json()["id"]))
    assert entry.status_code == 201
    assert entry.actor_name.startswith("user")
    assert entry.at is not None


async def test_reads_are_not_audited(
    client: httpx.AsyncClient,
    user_headers: MakeHeaders,
    session_factory: SessionFactory,
) -> None:
    headers = await user_headers("admin")
    before = await row_count(session_factory, AuditEntry)
    for path in ("/v1/skus", "/v1/warehouses", "/v1/stock", "/v1/admin/audit-log"):
        assert (await client.get(path, headers=headers)).status_code == 200
    assert await row_count(session_factory, AuditEntry) == before
