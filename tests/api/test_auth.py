"""Staff login, bearer tokens, API keys, and what each refusal leaves in the audit log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import delete

from core.db import SessionFactory
from core.security import issue_token
from models.db import AuditEntry, User
from tests.api.conftest import TOKEN_SECRET, Ref
from tests.support.api import PASSWORD, MakeHeaders, add_user, audit_rows, bearer, login

WRONG = "Tr0ub4dor&3-wrong"


def assert_unauthenticated(answer: httpx.Response) -> None:
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json()["status"] == 401


async def test_login_returns_a_token_usable_on_me(
    client: httpx.AsyncClient, session_factory: SessionFactory
) -> None:
    user_id = await add_user(session_factory, "wang.fang", "ops", "cs")

    answer = await login(client, "wang.fang", PASSWORD)

    assert answer.status_code == 200, answer.text
    token = answer.json()
    assert token["token_type"] == "bearer"
    assert token["roles"] == ["cs", "ops"]
    expires = datetime.fromisoformat(token["expires_at"])
    assert timedelta(minutes=29) < expires - datetime.now(UTC) <= timedelta(minutes=30)
    me = await client.get("/v1/auth/me", headers=bearer(token["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json() == {
        "kind": "user",
        "id": user_id,
        "name": "wang.fang",
        "roles": ["cs", "ops"],
        "warehouse_id": None,
        # What the roles allow (the console's menus): tests/api/test_me_permissions.py.
        "permissions": me.json()["permissions"],
    }
    assert {"orders.cancel", "catalog.write"} <= set(me.json()["permissions"])
    async with session_factory() as session:
        user = await session.get_one(User, user_id)
        assert user.last_login_at is not None
    [audit] = await audit_rows(session_factory, "/v1/auth/login")
    assert (audit.action, audit.actor_type, audit.actor_name, audit.status_code) == (
        "auth.login",
        "user",
        "wang.fang",
        200,
    )
    assert audit.client_ip == "10.1.2.3"


async def test_wrong_password_is_401_and_audited_without_the_password(
    client: httpx.AsyncClient, session_factory: SessionFactory
) -> None:
    await add_user(session_factory, "li.lei", "ops")

    answer = await login(client, "li.lei", WRONG)

    assert_unauthenticated(answer)
    assert "access_token" not in answer.json()
    [audit] = await audit_rows(session_factory, "/v1/auth/login")
    assert (audit.actor_type, audit.actor_id, audit.status_code) == ("anonymous", "", 401)
    assert (audit.method, audit.client_ip) == ("POST", "10.1.2.3")
    assert audit.detail == {"username": "li.lei"}
    row = {c.key: getattr(audit, c.key) for c in AuditEntry.__mapper__.column_attrs}
    assert WRONG not in json.dumps(row, default=str)


async def test_unknown_user_and_inactive_user_get_the_same_401(
    client: httpx.AsyncClient, session_factory: SessionFactory
) -> None:
    await add_user(session_factory, "gone", "ops", active=False)

    unknown = await login(client, "nobody", PASSWORD)
    inactive = await login(client, "gone", PASSWORD)

    assert_unauthenticated(unknown)
    assert_unauthenticated(inactive)
    assert unknown.json()["detail"] == inactive.json()["detail"]
    audits = await audit_rows(session_factory, "/v1/auth/login")
    assert [(a.status_code, a.detail) for a in audits] == [
        (401, {"username": "nobody"}),
        (401, {"username": "gone"}),
    ]


async def test_login_body_is_validated(client: httpx.AsyncClient) -> None:
    for bad in ({}, {"username": "x"}, {"username": "", "password": "y"}, {"password": "y"}):
        answer = await client.post("/v1/auth/login", json=bad)
        assert answer.status_code == 422, answer.text


async def test_expired_token_is_401(
    client: httpx.AsyncClient, session_factory: SessionFactory
) -> None:
    user_id = await add_user(session_factory, "zhao.min", "admin")

    def token(now: datetime, secret: str = TOKEN_SECRET) -> str:
        value, _ = issue_token(
            secret=secret,
            user_id=user_id,
            username="zhao.min",
            roles=["admin"],
            ttl=timedelta(minutes=30),
            now=now,
        )
        return value

    now = datetime.now(UTC)
    fresh = await client.get("/v1/auth/me", headers=bearer(token(now)))
    assert fresh.status_code == 200, fresh.text  # the same token, in date, is accepted
    assert_unauthenticated(
        await client.get("/v1/auth/me", headers=bearer(token(now - timedelta(hours=2))))
    )
    assert_unauthenticated(
        await client.get("/v1/auth/me", headers=bearer(token(now, secret="another-" + "y" * 40)))
    )


@pytest.mark.parametrize(
    "credential",
    ["garbage", "a.b.c", "hk_garbage", "hk_12345678_notarealkey", "Bearer", "ey" + "A" * 60],
)
async def test_garbage_bearer_is_401(client: httpx.AsyncClient, credential: str) -> None:
    assert_unauthenticated(await client.get("/v1/auth/me", headers=bearer(credential)))


async def test_no_credentials_is_401(client: httpx.AsyncClient) -> None:
    assert_unauthenticated(await client.get("/v1/auth/me"))
    assert_unauthenticated(await client.get("/v1/auth/me", headers={"X-API-Key": "nope"}))


async def test_tampered_roles_in_a_token_grant_nothing(
    client: httpx.AsyncClient, session_factory: SessionFactory
) -> None:
    """Roles are read from the database, not from the token's claims."""
    user_id = await add_user(session_factory, "cs.only", "cs")
    token, _ = issue_token(
        secret=TOKEN_SECRET,
        user_id=user_id,
        username="cs.only",
        roles=["admin"],
        ttl=timedelta(minutes=5),
        now=datetime.now(UTC),
    )
    me = await client.get("/v1/auth/me", headers=bearer(token))
    assert me.json()["roles"] == ["cs"]
    assert (await client.get("/v1/admin/users", headers=bearer(token))).status_code == 403


async def test_api_key_works_until_revoked(
    client: httpx.AsyncClient, user_headers: MakeHeaders, ref: Ref
) -> None:
    admin = await user_headers("admin")
    created = await client.post(
        "/v1/admin/api-keys",
        json={"name": "扫描枪 1", "role": "device", "warehouse_id": ref.warehouse_id},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    key, key_id = created.json()["key"], created.json()["id"]

    me = await client.get("/v1/auth/me", headers={"X-API-Key": key})
    assert me.status_code == 200, me.text
    assert me.json() == {
        "kind": "api_key",
        "id": key_id,
        "name": "扫描枪 1",
        "roles": ["device"],
        "warehouse_id": ref.warehouse_id,
        "permissions": me.json()["permissions"],
    }
    assert "picking.work" in me.json()["permissions"]
    assert "orders.read" not in me.json()["permissions"]
    assert (await client.get("/v1/auth/me", headers=bearer(key))).status_code == 200
    assert_unauthenticated(await client.get("/v1/auth/me", headers={"X-API-Key": key[:-1] + "!"}))

    revoked = await client.delete(f"/v1/admin/api-keys/{key_id}", headers=admin)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["active"] is False

    assert_unauthenticated(await client.get("/v1/auth/me", headers={"X-API-Key": key}))
    assert_unauthenticated(await client.get("/v1/auth/me", headers=bearer(key)))
    assert_unauthenticated(await client.get("/v1/stock", headers={"X-API-Key": key}))


async def test_deactivated_users_token_stops_working(
    client: httpx.AsyncClient, user_headers: MakeHeaders, session_factory: SessionFactory
) -> None:
    user_id = await add_user(session_factory, "temp.staff", "ops")
    token = (await login(client, "temp.staff", PASSWORD)).json()["access_token"]
    assert (await client.get("/v1/auth/me", headers=bearer(token))).status_code == 200
    admin = await user_headers("admin")

    answer = await client.patch(f"/v1/admin/users/{user_id}", json={"active": False}, headers=admin)

    assert answer.status_code == 200, answer.text
    assert_unauthenticated(await client.get("/v1/auth/me", headers=bearer(token)))
    assert_unauthenticated(await login(client, "temp.staff", PASSWORD))


async def test_deleted_users_token_stops_working(
    client: httpx.AsyncClient, session_factory: SessionFactory
) -> None:
    user_id = await add_user(session_factory, "left.company", "ops")
    token = (await login(client, "left.company", PASSWORD)).json()["access_token"]
    async with session_factory() as session:
        await session.execute(delete(User).where(User.id == user_id))
        await session.commit()
    assert_unauthenticated(await client.get("/v1/auth/me", headers=bearer(token)))
