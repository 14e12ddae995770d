"""Admin routes: users and roles, API keys (stored hashed), the audit log, the IP allow-list."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from api.deps import AppDeps
from core.db import SessionFactory
from core.security import hash_api_key, verify_password
from models.db import ApiKey, AuditEntry, User, UserRole
from tests.api.conftest import Ref
from tests.support.api import PASSWORD, Headers, MakeHeaders, asgi_client, login, problem_fields

NEW_PASSWORD = "a-much-longer-passphrase"


async def new_user(
    client: httpx.AsyncClient, admin: Headers, username: str, roles: list[str]
) -> dict[str, Any]:
    answer = await client.post(
        "/v1/admin/users",
        json={"username": username, "display_name": username, "password": PASSWORD,
              "roles": roles},
        headers=admin,
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def test_create_user_with_roles(
    client: httpx.AsyncClient, user_headers: MakeHeaders, session_factory: SessionFactory
) -> None:
    admin = await user_headers("admin")

    created = await new_user(client, admin, "chen.jie", ["ops", "cs", "ops"])

    assert created["username"] == "chen.jie"
    assert created["roles"] == ["cs", "ops"]
    assert (created["active"], created["last_login_at"]) == (True, None)
    async with session_factory() as session:
        user = await session.get_one(User, created["id"])
        assert user.password_hash != PASSWORD
        assert verify_password(user.password_hash, PASSWORD)
        roles = await session.scalars(select(UserRole.role).where(UserRole.user_id == user.id))
        assert sorted(roles) == ["cs", "ops"]
        audit = await session.scalar(select(AuditEntry).where(AuditEntry.action == "user.create"))
        assert audit is not None
        assert (audit.object_type, audit.object_id, audit.detail) == (
            "user",
            str(user.id),
            {"roles": ["cs", "ops"]},
        )
        assert PASSWORD not in str(audit.detail)
    assert (await login(client, "chen.jie", PASSWORD)).status_code == 200


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"username": "Has Space"}, "username"),
        ({"password": "short"}, "password"),
        ({"roles": []}, "roles"),
        ({"roles": ["device"]}, "roles.0"),
        ({"roles": ["superuser"]}, "roles.0"),
        ({"is_root": True}, "is_root"),
    ],
)
async def test_create_user_validates(
    client: httpx.AsyncClient,
    user_headers: MakeHeaders,
    session_factory: SessionFactory,
    change: dict[str, Any],
    field: str,
) -> None:
    admin = await user_headers("admin")
    payload = {"username": "new.one", "display_name": "新人", "password": PASSWORD}
    payload |= {"roles": ["ops"], **change}

    answer = await client.post("/v1/admin/users", json=payload, headers=admin)

    assert answer.status_code == 422, answer.text
    assert field in problem_fields(answer)
    async with session_factory() as session:
        assert await session.scalar(select(User).where(User.username == "new.one")) is None


async def test_duplicate_username_is_a_conflict(
    client: httpx.AsyncClient, user_headers: MakeHeaders
) -> None:
    admin = await user_headers("admin")
    await new_user(client, admin, "dup", ["ops"])
    again = await client.post(
        "/v1/admin/users",
        json={"username": "dup", "display_name": "x", "password": PASSWORD, "roles": ["cs"]},
        headers=admin,
    )
    assert again.status_code == 409, again.text


async def test_update_roles_password_and_active(
    client: httpx.AsyncClient, user_headers: MakeHeaders, session_factory: SessionFactory
) -> None:
    admin = await user_headers("admin")
    user = await new_user(client, admin, "sun.li", ["ops"])
    url = f"/v1/admin/users/{user['id']}"

    roles = await client.patch(url, json={"roles": ["finance", "purchasing"]}, headers=admin)
    assert roles.status_code == 200, roles.text
    assert roles.json()["roles"] == ["finance", "purchasing"]

    renamed = await client.patch(url, json={"display_name": "孙丽"}, headers=admin)
    assert (renamed.json()["display_name"], renamed.json()["roles"]) == (
        "孙丽",
        ["finance", "purchasing"],
    )

    password = await client.patch(url, json={"password": NEW_PASSWORD}, headers=admin)
    assert password.status_code == 200, password.text
    assert (await login(client, "sun.li", PASSWORD)).status_code == 401
    assert (await login(client, "sun.li", NEW_PASSWORD)).status_code == 200

    inactive = await client.patch(url, json={"active": False}, headers=admin)
    assert inactive.json()["active"] is False
    assert (await login(client, "sun.li", NEW_PASSWORD)).status_code == 401
    active = await client.patch(url, json={"active": True}, headers=admin)
    assert active.json()["active"] is True
    assert (await login(client, "sun.li", NEW_PASSWORD)).status_code == 200

    async with session_factory() as session:
        stored = await session.scalars(select(UserRole.role).where(UserRole.user_id == user["id"]))
        assert sorted(stored) == ["finance", "purchasing"]
        audits = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "user.update").order_by(AuditEntry.id)
            )
        ).all()
        assert [a.detail["fields"] for a in audits] == [
            ["roles"],
            ["display_name"],
            ["password"],
            ["active"],
            ["active"],
        ]
        assert all(NEW_PASSWORD not in str(a.detail) for a in audits)

    for bad in ({"roles": []}, {"password": "short"}, {"active": "maybe"}, {"username": "x"}):
        assert (await client.patch(url, json=bad, headers=admin)).status_code == 422, bad
    missing = await client.patch("/v1/admin/users/999999", json={"active": True}, headers=admin)
    assert missing.status_code == 404


async def test_admin_cannot_deactivate_themself(
    client: httpx.AsyncClient, user_headers: MakeHeaders, session_factory: SessionFactory
) -> None:
    admin = await user_headers("admin")
    me = (await client.get("/v1/auth/me", headers=admin)).json()

    answer = await client.patch(
        f"/v1/admin/users/{me['id']}", json={"active": False}, headers=admin
    )

    assert answer.status_code == 422, answer.text
    assert problem_fields(answer) == ["active"]
    async with session_factory() as session:
        assert (await session.get_one(User, me["id"])).active is True
    assert (await client.get("/v1/auth/me", headers=admin)).status_code == 200


async def test_list_users(client: httpx.AsyncClient, user_headers: MakeHeaders) -> None:
    admin = await user_headers("admin")
    await new_user(client, admin, "a.one", ["ops"])
    await new_user(client, admin, "b.two", ["cs", "finance"])

    listed = await client.get("/v1/admin/users", headers=admin)

    assert listed.status_code == 200, listed.text
    assert listed.json()["count"] == 3
    by_name = {u["username"]: u["roles"] for u in listed.json()["data"]}
    assert by_name["a.one"] == ["ops"]
    assert by_name["b.two"] == ["cs", "finance"]
    assert all("password" not in str(u).lower() for u in listed.json()["data"])
    page = await client.get("/v1/admin/users", params={"skip": 2, "limit": 5}, headers=admin)
    assert [u["username"] for u in page.json()["data"]] == ["b.two"]


async def test_storefront_key_is_shown_once_and_stored_hashed(
    client: httpx.AsyncClient, user_headers: MakeHeaders, session_factory: SessionFactory
) -> None:
    admin = await user_headers("admin")

    created = await client.post(
        "/v1/admin/api-keys", json={"name": "天猫店", "role": "storefront"}, headers=admin
    )

    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith("hk_")
    assert len(key) > 40
    assert created.json()["prefix"] in key
    assert (created.json()["role"], created.json()["warehouse_id"]) == ("storefront", None)
    async with session_factory() as session:
        row = await session.get_one(ApiKey, created.json()["id"])
        assert row.key_hash == hash_api_key(key)
        dump = (await session.execute(text("SELECT api_keys::text FROM api_keys"))).scalars().all()
        secret = key[len("hk_") + 9 :]  # what follows "hk_<prefix>_"
        assert len(secret) >= 40
        assert all(secret not in line for line in dump)
        audit = (
            (await session.execute(text("SELECT audit_log::text FROM audit_log"))).scalars().all()
        )
        assert all(key not in line for line in audit)

    listed = await client.get("/v1/admin/api-keys", headers=admin)
    assert listed.status_code == 200
    assert [k["name"] for k in listed.json()["data"]] == ["天猫店"]
    assert "key" not in listed.json()["data"][0]
    assert key not in listed.text

    me = await client.get("/v1/auth/me", headers={"X-API-Key": key})
    assert me.json()["roles"] == ["storefront"]


async def test_device_key_needs_a_warehouse(
    client: httpx.AsyncClient,
    user_headers: MakeHeaders,
    session_factory: SessionFactory,
    ref: Ref,
) -> None:
    admin = await user_headers("admin")

    async def create(payload: dict[str, Any]) -> httpx.Response:
        return await client.post("/v1/admin/api-keys", json=payload, headers=admin)

    no_warehouse = await create({"name": "PDA", "role": "device"})
    assert no_warehouse.status_code == 422, no_warehouse.text
    assert problem_fields(no_warehouse) == ["warehouse_id"]
    storefront_with_one = await create(
        {"name": "店", "role": "storefront", "warehouse_id": ref.warehouse_id}
    )
    assert storefront_with_one.status_code == 422
    assert problem_fields(storefront_with_one) == ["warehouse_id"]
    unknown = await create({"name": "PDA", "role": "device", "warehouse_id": 999999})
    assert unknown.status_code == 422
    assert problem_fields(unknown) == ["warehouse_id"]
    bad_role = await create({"name": "x", "role": "admin"})
    assert bad_role.status_code == 422
    assert problem_fields(bad_role) == ["role"]
    async with session_factory() as session:
        assert (await session.scalars(select(ApiKey))).all() == []

    device = await create({"name": "PDA", "role": "device", "warehouse_id": ref.warehouse_id})
    assert device.status_code == 201, device.text
    me = await client.get("/v1/auth/me", headers={"X-API-Key": device.json()["key"]})
    assert (me.json()["roles"], me.json()["warehouse_id"]) == (["device"], ref.warehouse_id)

    missing = await client.delete("/v1/admin/api-keys/999999", headers=admin)
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("GET", "/v1/admin/users", None),
        ("POST", "/v1/admin/users", {"username": "x1", "display_name": "x", "password": PASSWORD,
                                     "roles": ["admin"]}),
        ("PATCH", "/v1/admin/users/1", {"roles": ["admin"]}),
        ("GET", "/v1/admin/api-keys", None),
        ("POST", "/v1/admin/api-keys", {"name": "k", "role": "storefront"}),
        ("DELETE", "/v1/admin/api-keys/1", None),
        ("GET", "/v1/admin/audit-log", None),
    ],
)  # fmt: skip
async def test_non_admins_are_refused(
    client: httpx.AsyncClient,
    user_headers: MakeHeaders,
    key_headers: MakeHeaders,
    session_factory: SessionFactory,
    ref: Ref,
    method: str,
    path: str,
    payload: dict[str, Any] | None,
) -> None:
    callers = [
        await user_headers("ops", "finance", "warehouse_manager", "cs", "purchasing"),
        await key_headers("storefront"),
        await key_headers("device", ref.warehouse_id),
    ]
    for headers in callers:
        answer = await client.request(method, path, json=payload, headers=headers)
        assert answer.status_code == 403, (headers, answer.text)
        assert answer.json()["type"] == "/problems/forbidden"
    assert (await client.request(method, path, json=payload)).status_code == 401

    async with session_factory() as session:
        assert await session.scalar(select(User).where(User.username == "x1")) is None
        keys = (await session.scalars(select(ApiKey.name).where(ApiKey.name == "k"))).all()
        assert keys == []
        if method != "GET":
            refused = (
                await session.scalars(
                    select(AuditEntry.status_code).where(
                        AuditEntry.method == method, AuditEntry.path == path
                    )
                )
            ).all()
            assert sorted(refused) == [401, 403, 403, 403]


async def test_audit_log_lists_with_filters(
    client: httpx.AsyncClient, user_headers: MakeHeaders, session_factory: SessionFactory
) -> None:
    admin = await user_headers("admin")
    admin_name = (await client.get("/v1/auth/me", headers=admin)).json()["name"]
    first = await new_user(client, admin, "audit.one", ["ops"])
    await new_user(client, admin, "audit.two", ["cs"])
    await client.patch(f"/v1/admin/users/{first['id']}", json={"active": False}, headers=admin)
    ops = await user_headers("ops")
    await client.post("/v1/admin/api-keys", json={"name": "x", "role": "storefront"}, headers=ops)

    async def log(**params: Any) -> list[dict[str, Any]]:
        answer = await client.get("/v1/admin/audit-log", params=params, headers=admin)
        assert answer.status_code == 200, answer.text
        assert answer.json()["count"] == len(answer.json()["data"])
        return list(answer.json()["data"])

    everything = await log()
    ids = [e["id"] for e in everything]
    assert ids == sorted(ids, reverse=True)  # newest first
    creates = await log(action="user.create")
    assert [e["object_id"] for e in creates][::-1] == [str(first["id"]), str(first["id"] + 1)]
    assert all(e["actor_name"] == admin_name and e["roles"] == ["admin"] for e in creates)
    assert all(e["client_ip"] == "10.1.2.3" and e["status_code"] == 201 for e in creates)
    of_first = await log(object_type="user", object_id=str(first["id"]))
    assert [e["action"] for e in of_first] == ["user.update", "user.create"]
    by_admin = await log(actor_name=admin_name)
    assert {e["action"] for e in by_admin} == {"auth.login", "user.create", "user.update"}
    denied = await log(action="POST /v1/admin/api-keys")
    assert [(e["status_code"], e["roles"], e["path"]) for e in denied] == [
        (403, ["ops"], "/v1/admin/api-keys")
    ]
    assert await log(since=(datetime.now(UTC) + timedelta(minutes=5)).isoformat()) == []
    assert len(await log(since=(datetime.now(UTC) - timedelta(minutes=5)).isoformat())) == len(
        everything
    )
    assert await log(actor_name="nobody") == []
    paged = await client.get("/v1/admin/audit-log", params={"limit": 2}, headers=admin)
    assert (len(paged.json()["data"]), paged.json()["count"]) == (2, len(everything))
    bad = await client.get("/v1/admin/audit-log", params={"since": "yesterday"}, headers=admin)
    assert bad.status_code == 422


@pytest.fixture
def allowlisted(deps: AppDeps) -> AppDeps:
    return replace(deps, admin_ip_allowlist=["192.168.0.0/24"])


async def test_admin_routes_only_from_the_allow_list(
    allowlisted: AppDeps, user_headers: MakeHeaders, session_factory: SessionFactory
) -> None:
    admin = await user_headers("admin")  # logged in through the ordinary client
    payload = {"username": "from.lan", "display_name": "x", "password": PASSWORD, "roles": ["cs"]}

    async with asgi_client(allowlisted, ("10.1.2.3", 40000)) as outside:
        assert (await outside.get("/v1/admin/users", headers=admin)).status_code == 403
        assert (await outside.get("/v1/admin/audit-log", headers=admin)).status_code == 403
        refused = await outside.post("/v1/admin/users", json=payload, headers=admin)
        assert refused.status_code == 403, refused.text
        # Other routes stay open from anywhere.
        assert (await outside.get("/v1/auth/me", headers=admin)).status_code == 200
        assert (await outside.get("/v1/categories", headers=admin)).status_code == 200
        assert (
            await outside.post(
                "/v1/auth/login", json={"username": "nobody", "password": "whatever"}
            )
        ).status_code == 401

    async with session_factory() as session:
        assert await session.scalar(select(User).where(User.username == "from.lan")) is None
        denied = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "POST /v1/admin/users")
        )
        assert denied is not None
        assert (denied.status_code, denied.client_ip) == (403, "10.1.2.3")

    async with asgi_client(allowlisted, ("192.168.0.7", 40000)) as inside:
        assert (await inside.get("/v1/admin/users", headers=admin)).status_code == 200
        assert (await inside.get("/v1/admin/audit-log", headers=admin)).status_code == 200
        created = await inside.post("/v1/admin/users", json=payload, headers=admin)
        assert created.status_code == 201, created.text

    async with asgi_client(allowlisted, ("192.168.1.7", 40000)) as next_subnet:
        assert (await next_subnet.get("/v1/admin/users", headers=admin)).status_code == 403
