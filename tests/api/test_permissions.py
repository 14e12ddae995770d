"""Every route declares its permission: 401 without credentials, 403 for a role without it."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api.deps import AppDeps
from api.main import create_app
from models.domain.access import ALL_ROLES, PERMISSIONS, STAFF_ROLES
from tests.api.conftest import Ref
from tests.support.api import MakeHeaders

PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("POST", "/v1/auth/login"),
    ("GET", "/docs"),  # the OpenAPI page (served offline, api/docs.py), public as FastAPI's was
    # Webhooks carry no credentials: their signature is verified instead (tests/api/test_webhooks).
    ("POST", "/v1/webhooks/payments/{provider}"),
    ("POST", "/v1/webhooks/carriers/{carrier}"),
    # A handheld trades its one-time pairing code for its key (tests/api/test_devices.py).
    ("POST", "/v1/devices/pair"),
    # Prometheus scrapes with no user: loopback or a bearer token only (tests/api/test_metrics).
    ("GET", "/metrics"),
}


def _permission(dependant: Dependant) -> str | None:
    for sub in dependant.dependencies:
        found = getattr(sub.call, "permission", None) or _permission(sub)
        if found:
            return str(found)
    return None


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):  # an included router (our routers carry prefixes)
            found.extend(_api_routes(route.original_router.routes))
    return found


def _routes(deps: AppDeps) -> list[tuple[str, str, str | None]]:
    return [
        (method, route.path, _permission(route.dependant))
        for route in _api_routes(create_app(deps).routes)
        for method in sorted(route.methods)
    ]


def _concrete(path: str, ref: Ref) -> str:
    return re.sub(r"\{[^}]+\}", str(ref.warehouse_id), path)


def test_every_route_but_the_public_ones_declares_a_known_permission(deps: AppDeps) -> None:
    routes = _routes(deps)
    assert len(routes) > 40
    undeclared = [(m, p) for m, p, perm in routes if perm is None and (m, p) not in PUBLIC]
    assert undeclared == []
    unknown = [(m, p, perm) for m, p, perm in routes if perm and perm not in PERMISSIONS]
    assert unknown == []


async def test_every_protected_route_answers_401_without_credentials(
    client: httpx.AsyncClient, deps: AppDeps, ref: Ref
) -> None:
    for method, path, permission in _routes(deps):
        if permission is None:
            continue
        answer = await client.request(method, _concrete(path, ref), json={})
        assert answer.status_code == 401, (method, path, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["www-authenticate"] == "Bearer"


@pytest.fixture
async def role_headers(
    user_headers: MakeHeaders,
    key_headers: MakeHeaders,
    ref: Ref,
) -> dict[str, dict[str, str]]:
    headers = {role: await user_headers(role) for role in sorted(STAFF_ROLES)}
    headers["storefront"] = await key_headers("storefront")
    headers["device"] = await key_headers("device", ref.warehouse_id)
    return headers


async def test_every_route_answers_403_to_each_role_without_its_permission(
    client: httpx.AsyncClient, deps: AppDeps, ref: Ref, role_headers: dict[str, dict[str, str]]
) -> None:
    checked = 0
    for method, path, permission in _routes(deps):
        if permission is None:
            continue
        for role in sorted(ALL_ROLES - PERMISSIONS[permission]):
            answer = await client.request(
                method, _concrete(path, ref), json={}, headers=role_headers[role]
            )
            assert answer.status_code == 403, (role, method, path, answer.text)
            body: dict[str, Any] = answer.json()
            assert permission in body["detail"]
            checked += 1
    assert checked > 100


async def test_a_denied_write_is_audited_with_who_tried(
    client: httpx.AsyncClient, role_headers: dict[str, dict[str, str]], session_factory: Any
) -> None:
    from sqlalchemy import select

    from models.db import AuditEntry

    answer = await client.post(
        "/v1/categories", json={"code": "x", "name": "x"}, headers=role_headers["cs"]
    )
    assert answer.status_code == 403
    async with session_factory() as session:
        entry = (
            await session.scalars(select(AuditEntry).where(AuditEntry.status_code == 403))
        ).one()
    assert entry.action == "POST /v1/categories"
    assert entry.roles == ["cs"]
    assert entry.actor_type == "user"
    assert entry.client_ip == "10.1.2.3"
