"""Admin in the console: users with roles and a warehouse scope, deactivation, roles composed
from permissions, API keys shown once and revoked, the audit log filtered (who, what, object,
date, IP) and exported: each action as the signed-in admin from their own address."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime

import httpx
from sqlalchemy import select

from api.deps import AppDeps
from console.i18n import BUSINESS_TZ
from models.db import ApiKey, AuditEntry, Role, User, UserRole, UserWarehouse, Warehouse
from tests.support.console import BROWSER_IP, browser, csrf_of, signed_in, text_of
from tests.support.stack import Stack


async def test_users_and_composed_roles(stack: Stack, deps: AppDeps) -> None:
    async with stack.sessions() as session:
        warehouse = await session.scalar(select(Warehouse).order_by(Warehouse.id))
    assert warehouse is not None
    async with browser(deps) as web:
        await signed_in(web, "admin")
        csrf = csrf_of(web)
        weak = await web.post(
            "/console/admin/users",
            data={"username": "xiaowang", "display_name": "小王", "password": "12345678",
                  "roles": ["ops"], "csrf": csrf},
        )  # fmt: skip
        assert weak.status_code == 422
        assert re.search(r'data-error-for="password">[^<]+<', weak.text)
        assert "12345678" not in weak.text  # a password is never sent back

        created = await web.post(
            "/console/admin/users",
            data={"username": "xiaowang", "display_name": "小王", "password": "Tea-Leaf-2026!",
                  "roles": ["ops", "cs"], "warehouse_ids": [str(warehouse.id)], "csrf": csrf},
        )  # fmt: skip
        assert created.status_code == 303
        listing = await web.get(created.headers["location"])
        row = re.search(r'<tr data-user="xiaowang">.*?</tr>', listing.text, re.S)
        assert row and "用户已创建" in listing.text
        assert "运营" in row.group(0) and "客服" in row.group(0)
        assert warehouse.name in row.group(0)

        async with stack.sessions() as session:
            user = await session.scalar(select(User).where(User.username == "xiaowang"))
            assert user is not None
            scope = await session.scalars(
                select(UserWarehouse.warehouse_id).where(UserWarehouse.user_id == user.id)
            )
            assert list(scope) == [warehouse.id]

        regranted = await web.post(
            f"/console/admin/users/{user.id}",
            data={"display_name": "王小明", "roles": ["warehouse_manager"], "csrf": csrf},
        )
        page = await web.get(regranted.headers["location"])
        assert "已保存" in page.text and "仓库主管" in text_of(page.text)
        no_role = await web.post(
            f"/console/admin/users/{user.id}", data={"display_name": "王小明", "csrf": csrf}
        )
        assert no_role.status_code == 422 and 'data-error-for="roles"' in no_role.text

        off = await web.post(
            f"/console/admin/users/{user.id}/active", data={"active": "false", "csrf": csrf}
        )
        page = await web.get(off.headers["location"])
        assert "用户已停用" in page.text
        assert re.search(r'id="user-status">已停用<', page.text)

        role = await web.post(
            "/console/admin/roles",
            data={"name": "tea_reporter", "description": "只看报表",
                  "permissions": ["catalog.read", "orders.read"], "csrf": csrf},
        )  # fmt: skip
        assert role.status_code == 303
        page = await web.get(role.headers["location"])
        row = re.search(r'<tr data-role="tea_reporter">.*?</tr>', page.text, re.S)
        assert row and "catalog.read, orders.read" in row.group(0) and "自定义" in row.group(0)
        key_only = await web.post(
            "/console/admin/roles",
            data={"name": "sneaky", "permissions": ["orders.create"], "csrf": csrf},
        )
        assert key_only.status_code == 422

        narrowed = await web.post(
            "/console/admin/roles/tea_reporter",
            data={"description": "只看商品", "permissions": ["catalog.read"], "csrf": csrf},
        )
        page = await web.get(narrowed.headers["location"])
        row = re.search(r'<tr data-role="tea_reporter">.*?</tr>', page.text, re.S)
        assert "角色已保存" in page.text and row and "只看商品" in row.group(0)
        assert "orders.read" not in row.group(0)
        preset = await web.post(
            "/console/admin/roles/ops", data={"permissions": ["catalog.read"], "csrf": csrf}
        )
        assert preset.status_code == 409 and 'id="refusal"' in preset.text
        await web.post("/console/admin/roles", data={"name": "tmp_role",
                       "permissions": ["catalog.read"], "csrf": csrf})  # fmt: skip
        deleted = await web.post("/console/admin/roles/tmp_role/delete", data={"csrf": csrf})
        page = await web.get(deleted.headers["location"])
        assert "角色已删除" in page.text and 'data-role="tmp_role"' not in page.text
        assert 'class="message' in key_only.text

    async with stack.sessions() as session:
        assert (await session.get(User, user.id)).active is False  # type: ignore[union-attr]
        roles = await session.scalars(select(UserRole.role).where(UserRole.user_id == user.id))
        assert list(roles) == ["warehouse_manager"]
        reporter = await session.get(Role, "tea_reporter")
        assert reporter is not None and reporter.description == "只看商品"
        assert await session.get(Role, "sneaky") is None


async def test_an_api_key_is_shown_once_works_and_is_revoked(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    async with browser(deps) as web:
        await signed_in(web, "admin")
        csrf = csrf_of(web)
        device_without_warehouse = await web.post(
            "/console/admin/api-keys", data={"name": "扫码枪", "role": "device", "csrf": csrf}
        )
        assert device_without_warehouse.status_code == 422
        assert 'data-error-for="warehouse_id"' in device_without_warehouse.text

        created = await web.post(
            "/console/admin/api-keys",
            data={"name": "小程序商城", "role": "storefront", "csrf": csrf},
        )
        assert created.status_code == 201
        match = re.search(r'<code id="key-value">([^<]+)</code>', created.text)
        assert match and "只显示这一次" in created.text
        key = match.group(1)
        assert created.headers["cache-control"] == "no-store"

        works = await api.get("/v1/skus", params={"limit": 1}, headers={"X-API-Key": key})
        assert works.status_code == 200

        later = await web.get("/console/admin/api-keys")
        assert key not in later.text and "小程序商城" in later.text

        async with stack.sessions() as session:
            row = await session.scalar(select(ApiKey).where(ApiKey.name == "小程序商城"))
        assert row is not None
        revoked = await web.post(f"/console/admin/api-keys/{row.id}/revoke", data={"csrf": csrf})
        page = await web.get(revoked.headers["location"])
        assert "API 密钥已吊销" in page.text
        assert re.search(rf'<tr data-key="{row.id}">.*?已吊销', page.text, re.S)
        refused = await api.get("/v1/skus", params={"limit": 1}, headers={"X-API-Key": key})
        assert refused.status_code == 401

        # The audit log names the admin and the browser's address for both.
        today = datetime.now(BUSINESS_TZ).date().isoformat()
        filters = {"actor_name": "admin", "object_type": "api_key", "client_ip": BROWSER_IP,
                   "from": today, "until": today}  # fmt: skip
        audit = await web.get("/console/admin/audit", params=filters)
        assert audit.status_code == 200
        actions = re.findall(r"<tr data-audit=\"\d+\">(.*?)</tr>", audit.text, re.S)
        assert ["api_key.revoke" in actions[0], "api_key.create" in actions[1]] == [True, True]
        assert len(actions) == 2 and all(BROWSER_IP in a for a in actions)
        elsewhere = await web.get(
            "/console/admin/audit", params={**filters, "client_ip": "1.2.3.4"}
        )
        assert "没有记录" in elsewhere.text
        yesterday = await web.get(
            "/console/admin/audit", params={**filters, "from": "2020-01-01", "until": "2020-01-02"}
        )
        assert "没有记录" in yesterday.text
        bad_date = await web.get("/console/admin/audit", params={"from": "not-a-day"})
        assert "筛选条件 from 无效" in bad_date.text

        exported = await web.get("/console/admin/audit/export.csv", params=filters)
        rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert rows[0][:4] == ["时间（北京时间）", "操作人", "角色", "操作"]
        assert [(r[1], r[3], r[5], r[7]) for r in rows[1:]] == [
            ("admin", "api_key.revoke", str(row.id), BROWSER_IP),
            ("admin", "api_key.create", str(row.id), BROWSER_IP),
        ]
    async with stack.sessions() as session:
        stored = await session.scalars(
            select(AuditEntry.client_ip).where(AuditEntry.object_type == "api_key")
        )
        assert set(stored) == {BROWSER_IP}


def _error_for(page: httpx.Response, name: str) -> str:
    found = re.search(rf'data-error-for="{name}">([^<]*)<', page.text)
    assert found, page.text
    return found.group(1)


async def test_the_admins_refusals_are_in_the_pages_language(deps: AppDeps) -> None:
    """What the API refuses on the user, role and key forms is said in Chinese, next to the
    field at fault or above the form: never the API's English."""
    async with browser(deps) as web:
        await signed_in(web, "admin")
        csrf = csrf_of(web)
        user = {"username": "xiaoli", "display_name": "小李", "roles": ["cs"], "csrf": csrf}
        for password, words in (
            ("Tea-Leaf", "至少 10 个字符"),
            ("Password123!", "是常见密码，请换一个"),
            ("xiaoli-tea-2026", "不能包含用户名"),
        ):
            weak = await web.post("/console/admin/users", data={**user, "password": password})
            assert (weak.status_code, _error_for(weak, "password")) == (422, words)
        ghost = await web.post(
            "/console/admin/users",
            data={**user, "password": "Tea-Leaf-2026!", "roles": ["cs", "ghost"]},
        )
        assert _error_for(ghost, "roles") == "没有这个员工角色（ghost）"

        key_only = await web.post(
            "/console/admin/roles",
            data={"name": "sneaky", "permissions": ["orders.create"], "csrf": csrf},
        )
        assert _error_for(key_only, "permissions") == (
            "orders.create 只授予商城或仓库设备的 API 密钥，不能给员工角色"
        )
        taken = await web.post(
            "/console/admin/roles",
            data={"name": "ops", "permissions": ["catalog.read"], "csrf": csrf},
        )
        assert _error_for(taken, "name") == "已有名为 ops 的角色"
        await web.post("/console/admin/roles", data={"name": "tea_counter",
                       "permissions": ["stock.count"], "csrf": csrf})  # fmt: skip
        await web.post(
            "/console/admin/users",
            data={**user, "password": "Tea-Leaf-2026!", "roles": ["tea_counter"]},
        )
        held = await web.post("/console/admin/roles/tea_counter/delete", data={"csrf": csrf})
        assert held.status_code == 409
        assert "还有 1 位用户持有角色 tea_counter：先取消他们的这个角色再删除" in text_of(held.text)

        device = await web.post(
            "/console/admin/api-keys", data={"name": "扫码枪", "role": "device", "csrf": csrf}
        )
        assert _error_for(device, "warehouse_id") == "仓库设备的密钥须绑定一个仓库"
        assert "must" not in text_of(device.text) and "must" not in text_of(held.text)
