"""Notifications in the console: the bell counts what the person's roles can act on and have not
read, the list filters and exports exactly its rows, a row is read or done in place (CSRF-checked),
and an admin subscribes a role's channel — refused targets shown at the form."""

from __future__ import annotations

import csv
import io
import re

import httpx

from api.deps import AppDeps
from tests.console.test_inbox_pages import submitted_po
from tests.support.console import browser, csrf_of, signed_in
from tests.support.order_api import staff
from tests.support.stack import Stack


def bell(html: str) -> int:
    found = re.search(r'data-unread="(\d+)"', html)
    assert found is not None, html
    return int(found.group(1))


def rows_of(html: str) -> list[str]:
    return re.findall(r'<tr data-notification="([^"]+)"', html)


async def test_the_bell_and_list_show_what_the_role_can_act_on_until_read_and_done(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    number = await submitted_po(stack, api)
    async with browser(deps) as web:
        await signed_in(web, "cs")
        assert bell((await web.get("/console/notifications/bell")).text) == 0
        assert rows_of((await web.get("/console/notifications")).text) == []
    async with browser(deps) as web:
        await signed_in(web, "purchasing_manager")
        page = await web.get("/console/notifications")
        assert page.status_code == 200, page.text
        assert rows_of(page.text) == [f"po_approval:{number}"]
        assert "采购单待审批" in page.text and "¥25.00" in page.text and "未读" in page.text
        assert 'id="bell"' in page.text and 'href="/console/notifications"' in page.text
        assert bell((await web.get("/console/notifications/bell")).text) == 1

        exported = await web.get("/console/notifications/export.csv", params={"status": "open"})
        assert exported.status_code == 200
        table = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert [r[2] for r in table[1:]] == [number] and table[1][4] == "¥25.00"
        none = await web.get("/console/notifications/export.csv", params={"kind": "low_stock"})
        assert len(list(csv.reader(io.StringIO(none.content.decode("utf-8-sig"))))) == 1
        xlsx = await web.get("/console/notifications/export.xlsx")
        assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"

        [note_id] = re.findall(r'action="/console/notifications/(\d+)/read', page.text)
        forged = await web.post(f"/console/notifications/{note_id}/read", data={"csrf": "x"})
        assert forged.status_code == 403
        assert bell((await web.get("/console/notifications/bell")).text) == 1
        read = await web.post(f"/console/notifications/{note_id}/read", data={"csrf": csrf_of(web)})
        assert read.status_code == 303
        assert bell((await web.get("/console/notifications/bell")).text) == 0
        unread_only = await web.get("/console/notifications", params={"unread": "1"})
        assert rows_of(unread_only.text) == []

        approved = await api.post(
            f"/v1/purchase-orders/{number}/approve",
            json={},
            headers=await staff(api, "purchasing_manager"),
        )
        assert approved.status_code == 200, approved.text
        assert rows_of((await web.get("/console/notifications")).text) == []
        done = await web.get("/console/notifications", params={"status": "done"})
        assert rows_of(done.text) == [f"po_approval:{number}"] and "已处理" in done.text


async def test_an_admin_subscribes_a_role_and_a_wrong_target_is_refused_at_the_form(
    stack: Stack, deps: AppDeps
) -> None:
    async with browser(deps) as web:
        await signed_in(web, "purchasing")
        assert (await web.get("/console/notifications/subscriptions")).status_code == 403
    async with browser(deps) as web:
        await signed_in(web, "admin")
        page = await web.get("/console/notifications/subscriptions")
        assert page.status_code == 200 and "通知渠道" in page.text
        wrong = await web.post(
            "/console/notifications/subscriptions",
            data={"csrf": csrf_of(web), "role": "finance", "channel": "wecom",
                  "target": "finance@example.com"},
        )  # fmt: skip
        assert wrong.status_code == 422 and 'id="refusal"' in wrong.text
        added = await web.post(
            "/console/notifications/subscriptions",
            data={"csrf": csrf_of(web), "role": "finance", "channel": "dingtalk",
                  "target": "http://127.0.0.1:8104/robot/send?access_token=fin",
                  "secret": "SEC-demo"},
        )  # fmt: skip
        assert added.status_code == 303
        shown = await web.get("/console/notifications/subscriptions")
        assert 'data-subscription="finance:dingtalk"' in shown.text and "已加签" in shown.text
        [sub_id] = re.findall(r"/subscriptions/(\d+)/active", shown.text)
        paused = await web.post(
            f"/console/notifications/subscriptions/{sub_id}/active",
            data={"csrf": csrf_of(web), "active": "no"},
        )
        assert paused.status_code == 303
        assert "已暂停" in (await web.get("/console/notifications/subscriptions")).text
