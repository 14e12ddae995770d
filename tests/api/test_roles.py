"""Roles as data (DESIGN §9): an admin composes roles from permissions and assigns them; the
built-in roles are presets nobody edits or deletes; the permission check reads the data."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import SessionFactory
from models.db import AuditEntry, RolePermission
from models.domain.access import PERMISSIONS, STAFF_ROLES
from tests.api.conftest import Ref
from tests.support.api import PASSWORD, Headers, bearer, login, problem_fields

READ_ONLY = "仓库只读"


async def _staff(client: httpx.AsyncClient, admin: Headers, username: str, **body: object) -> int:
    created = await client.post(
        "/v1/admin/users",
        json={"username": username, "display_name": username, "password": PASSWORD, **body},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


async def _login(client: httpx.AsyncClient, username: str) -> Headers:
    answer = await login(client, username, PASSWORD)
    assert answer.status_code == 200, answer.text
    return bearer(answer.json()["access_token"])


async def test_a_composed_role_grants_exactly_its_permissions(
    client: httpx.AsyncClient, admin: Headers, ref: Ref, session_factory: SessionFactory
) -> None:
    composed = await client.post(
        "/v1/admin/roles",
        json={
            "name": READ_ONLY,
            "description": "看仓库和库存, 不改",
            "permissions": ["stock.read", "warehouse.read", "stock.read"],
        },
        headers=admin,
    )
    assert composed.status_code == 201, composed.text
    assert composed.json() == {
        "name": READ_ONLY,
        "description": "看仓库和库存, 不改",
        "built_in": False,
        "permissions": ["stock.read", "warehouse.read"],
    }
    user_id = await _staff(client, admin, "viewer", roles=[READ_ONLY])
    viewer = await _login(client, "viewer")

    assert (await client.get("/v1/warehouses", headers=viewer)).status_code == 200
    assert (await client.get("/v1/stock", headers=viewer)).status_code == 200
    write = await client.post(
        "/v1/warehouses",
        json={"code": "BJ01", "name": "北京仓", "region_code": "110000"},
        headers=viewer,
    )
    assert write.status_code == 403, write.text
    assert "warehouse.write" in write.json()["detail"]
    assert (await client.get("/v1/orders", headers=viewer)).status_code == 403
    assert (await client.get("/v1/admin/users", headers=viewer)).status_code == 403

    # The check reads the data on every request: a change applies to the same token at once.
    widened = await client.patch(
        f"/v1/admin/roles/{READ_ONLY}",
        json={"permissions": ["stock.read", "warehouse.read", "orders.read"]},
        headers=admin,
    )
    assert widened.status_code == 200, widened.text
    assert (await client.get("/v1/orders", headers=viewer)).status_code == 200
    narrowed = await client.patch(
        f"/v1/admin/roles/{READ_ONLY}", json={"permissions": ["stock.read"]}, headers=admin
    )
    assert narrowed.status_code == 200, narrowed.text
    assert (await client.get("/v1/warehouses", headers=viewer)).status_code == 403
    listed = await client.get("/v1/admin/users", headers=admin)
    assert {u["id"]: u["roles"] for u in listed.json()["data"]}[user_id] == [READ_ONLY]

    async with session_factory() as session:
        audited = (
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.object_type == "role")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert audited == ["role.create", "role.update", "role.update"]


async def test_unknown_or_key_only_permissions_are_refused(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    for permissions, field in (
        (["stock.read", "stock.teleport"], "permissions.1"),
        (["orders.create"], "permissions.0"),  # only the storefront key that owns the order
        ([], "permissions"),
    ):
        answer = await client.post(
            "/v1/admin/roles", json={"name": "x", "permissions": permissions}, headers=admin
        )
        assert answer.status_code == 422, answer.text
        assert field in problem_fields(answer)
    assert (await client.get("/v1/admin/roles/x", headers=admin)).status_code == 404
    unknown_role = await client.post(
        "/v1/admin/users",
        json={"username": "u1", "display_name": "u", "password": PASSWORD, "roles": ["ghost"]},
        headers=admin,
    )
    assert unknown_role.status_code == 422
    assert problem_fields(unknown_role) == ["roles.0"]


async def test_built_in_roles_are_presets_nobody_edits_or_deletes(
    client: httpx.AsyncClient, admin: Headers, session_factory: SessionFactory
) -> None:
    listed = await client.get("/v1/admin/roles", headers=admin)
    assert listed.status_code == 200, listed.text
    built_in = {r["name"]: r for r in listed.json()["data"] if r["built_in"]}
    assert set(built_in) == STAFF_ROLES | {"storefront", "device"}
    for name, role in built_in.items():
        assert set(role["permissions"]) == {p for p, rs in PERMISSIONS.items() if name in rs}

    edit = await client.patch(
        "/v1/admin/roles/warehouse_manager", json={"permissions": ["users.manage"]}, headers=admin
    )
    assert edit.status_code == 409, edit.text
    assert "built in" in edit.json()["detail"]
    assert (await client.delete("/v1/admin/roles/ops", headers=admin)).status_code == 409
    taken = await client.post(
        "/v1/admin/roles", json={"name": "admin", "permissions": ["stock.read"]}, headers=admin
    )
    assert taken.status_code == 409
    async with session_factory() as session:
        assert (await session.scalars(select(RolePermission))).all() == []
    again = await client.get("/v1/admin/roles/warehouse_manager", headers=admin)
    assert "users.manage" not in again.json()["permissions"]


async def test_a_role_is_deleted_only_once_nobody_holds_it(
    client: httpx.AsyncClient, admin: Headers, session_factory: SessionFactory
) -> None:
    made = await client.post(
        "/v1/admin/roles", json={"name": "盘点员", "permissions": ["stock.count"]}, headers=admin
    )
    assert made.status_code == 201, made.text
    user_id = await _staff(client, admin, "counter", roles=["盘点员", "cs"])
    held = await client.delete("/v1/admin/roles/盘点员", headers=admin)
    assert held.status_code == 409, held.text
    await client.patch(f"/v1/admin/users/{user_id}", json={"roles": ["cs"]}, headers=admin)
    gone = await client.delete("/v1/admin/roles/盘点员", headers=admin)
    assert gone.status_code == 204, gone.text
    assert (await client.get("/v1/admin/roles/盘点员", headers=admin)).status_code == 404
    async with session_factory() as session:
        assert (await session.scalars(select(RolePermission))).all() == []


async def test_only_admins_manage_roles(client: httpx.AsyncClient, user_headers: object) -> None:
    ops = await user_headers("ops")  # type: ignore[operator]
    assert (await client.get("/v1/admin/roles", headers=ops)).status_code == 403
    made = await client.post(
        "/v1/admin/roles", json={"name": "x", "permissions": ["stock.read"]}, headers=ops
    )
    assert made.status_code == 403


async def test_the_caller_reads_their_grants_for_the_menus(
    client: httpx.AsyncClient, admin: Headers, ref: Ref
) -> None:
    made = await client.post(
        "/v1/admin/roles", json={"name": READ_ONLY, "permissions": ["stock.read"]}, headers=admin
    )
    assert made.status_code == 201, made.text
    await _staff(
        client, admin, "mixed", roles=[READ_ONLY, "cs"], warehouse_ids=[ref.other_warehouse_id]
    )
    grants = await client.get("/v1/auth/grants", headers=await _login(client, "mixed"))
    assert grants.status_code == 200, grants.text
    expected = {p for p, roles in PERMISSIONS.items() if "cs" in roles} | {"stock.read"}
    assert grants.json() == {
        "roles": ["cs", READ_ONLY],
        "permissions": sorted(expected),
        "warehouse_ids": [ref.other_warehouse_id],
    }
    mine = (await client.get("/v1/auth/grants", headers=admin)).json()
    assert "users.manage" in mine["permissions"] and mine["warehouse_ids"] is None


async def test_authorising_a_request_costs_the_user_row_and_one_query_of_grants(
    client: httpx.AsyncClient, admin: Headers, ref: Ref, engine: AsyncEngine
) -> None:
    await client.post(
        "/v1/admin/roles", json={"name": READ_ONLY, "permissions": ["stock.read"]}, headers=admin
    )
    await _staff(
        client, admin, "counted", roles=[READ_ONLY, "cs"], warehouse_ids=[ref.warehouse_id]
    )
    headers = await _login(client, "counted")
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        grants = await client.get("/v1/auth/grants", headers=headers)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
    assert grants.status_code == 200, grants.text
    assert grants.json()["warehouse_ids"] == [ref.warehouse_id]
    assert "stock.read" in grants.json()["permissions"]
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 2, reads  # the user, then roles + composed permissions + scope at once
