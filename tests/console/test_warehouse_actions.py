"""The warehouse part's actions in the console, each through /v1 as the person: the very next
page shows the result (stock figures and ledger rows, a count's booked differences, a planned
wave and its progress, a released weight hold); a post without the form's CSRF token or by a
role that may not is refused and changes nothing."""

from __future__ import annotations

import csv
import io
import re

import httpx
from sqlalchemy import select, update

from api.deps import AppDeps
from models.db import AuditEntry, LocationStock, Stock, Wave
from tests.support.console import BROWSER_IP, browser, csrf_of, signed_in, text_of
from tests.support.order_api import only_in, package, paid_order, staff, warehouse_id
from tests.support.orders import device_for, eventually
from tests.support.picking import pick_everything, sort_wave
from tests.support.stack import Stack


async def _figures(stack: Stack, sku: int, warehouse: int) -> Stock:
    async with stack.sessions() as session:
        stock = await session.get(Stock, (sku, warehouse), populate_existing=True)
        assert stock is not None
        return stock


def _shown(html: str, element: str) -> int:
    return int(re.findall(rf'id="{element}">(-?\d+)<', html)[0])


async def test_adjust_hold_and_disable_show_on_the_next_page(stack: Stack, deps: AppDeps) -> None:
    sh01 = await warehouse_id(stack, "SH01")
    sku = await only_in(stack, "SH01")
    async with stack.sessions() as session:
        batch = (
            await session.scalars(
                select(LocationStock).where(
                    LocationStock.sku_id == sku, LocationStock.warehouse_id == sh01
                )
            )
        ).first()
    assert batch is not None
    before = await _figures(stack, sku, sh01)
    page = f"/console/stock/{sku}/{sh01}"

    async with browser(deps) as ops:  # may read stock, may not adjust it
        await signed_in(ops, "ops")
        shown = await ops.get(page)
        assert shown.status_code == 200 and 'id="adjust"' not in shown.text
        refused = await ops.post(
            f"{page}/adjust",
            data={"csrf": csrf_of(ops), "location_id": str(batch.location_id),
                  "quantity_delta": "7", "reason": "x"},
        )  # fmt: skip
        assert refused.status_code == 403 and "无权访问" in refused.text

    async with browser(deps) as web:
        await signed_in(web, "warehouse_manager")
        shown = await web.get(page)
        assert _shown(shown.text, "on-hand") == before.on_hand
        form = {
            "location_id": str(batch.location_id),
            "batch_no": batch.batch_no,
            "quantity_delta": "7",
            "reason": "盘点补录",
        }

        forged = await web.post(f"{page}/adjust", data={**form, "csrf": "forged"})
        assert forged.status_code == 403 and "请求已失效" in forged.text
        assert (await _figures(stack, sku, sh01)).on_hand == before.on_hand

        invalid = await web.post(f"{page}/adjust", data={**form, "quantity_delta": "1.5",
                                                         "csrf": csrf_of(web)})  # fmt: skip
        assert invalid.status_code == 422 and 'id="refusal"' in invalid.text
        assert (await _figures(stack, sku, sh01)).on_hand == before.on_hand

        done = await web.post(f"{page}/adjust", data={**form, "csrf": csrf_of(web)})
        assert done.status_code == 303, re.findall(r"id=\"refusal\">([^<]*)", done.text)
        assert done.status_code == 303 and done.headers["location"] == f"{page}?done=adjusted"
        after = await web.get(done.headers["location"])
        assert "库存已调整" in after.text
        assert _shown(after.text, "on-hand") == before.on_hand + 7
        assert (await _figures(stack, sku, sh01)).on_hand == before.on_hand + 7
        ledger = text_of(after.text.split('id="ledger"')[1])
        assert "调整增加" in ledger and "+7" in ledger and "盘点补录" in ledger

        too_many = await web.post(
            f"{page}/adjust",
            data={**form, "quantity_delta": str(-(before.on_hand + 1000)), "csrf": csrf_of(web)},
        )
        assert too_many.status_code in (409, 422)
        assert 'id="refusal"' in too_many.text
        assert (await _figures(stack, sku, sh01)).on_hand == before.on_hand + 7

        held = await web.post(
            f"{page}/safety-hold",
            data={"safety_hold": "3", "reason": "展示样品", "csrf": csrf_of(web)},
        )
        assert held.status_code == 303
        after = await web.get(held.headers["location"])
        assert _shown(after.text, "safety-hold") == 3
        figures = await _figures(stack, sku, sh01)
        assert figures.safety_hold == 3
        assert _shown(after.text, "sellable") == figures.on_hand - figures.reserved - 3

        off = await web.post(
            f"{page}/batches/{batch.id}",
            data={"disabled": "true", "reason": "质检不合格", "csrf": csrf_of(web)},
        )
        assert off.status_code == 303
        after = await web.get(off.headers["location"])
        assert "批次已禁用" in after.text
        row = after.text.split(f'data-batch="{batch.id}"')[1].split("</tr>")[0]
        assert "已禁用" in row and "恢复批次" in row
        assert _shown(after.text, "blocked") > 0

    async with stack.sessions() as session:
        audit = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "stock.adjustment_in")
            )
        ).all()
    assert [(a.actor_type, a.actor_name, a.client_ip, a.detail["reason"]) for a in audit] == [
        ("user", "warehouse_manager", BROWSER_IP, "盘点补录")
    ]


async def test_a_count_opens_from_the_grid_is_counted_and_approved(
    stack: Stack, deps: AppDeps
) -> None:
    sh01 = await warehouse_id(stack, "SH01")
    sku = await only_in(stack, "SH01")
    async with stack.sessions() as session:
        batch = (
            await session.scalars(
                select(LocationStock).where(
                    LocationStock.sku_id == sku, LocationStock.warehouse_id == sh01
                )
            )
        ).first()
    assert batch is not None
    before = await _figures(stack, sku, sh01)

    async with browser(deps) as web:
        await signed_in(web, "warehouse_manager")
        grid = await web.get(f"/console/warehouses/{sh01}")
        assert f'name="location_ids" value="{batch.location_id}"' in grid.text
        empty = await web.post(f"/console/warehouses/{sh01}/counts", data={"csrf": csrf_of(web)})
        assert empty.status_code == 303
        assert "请先勾选" in (await web.get(empty.headers["location"])).text

        opened = await web.post(
            f"/console/warehouses/{sh01}/counts",
            data={"csrf": csrf_of(web), "location_ids": [str(batch.location_id)]},
        )
        assert opened.status_code == 303, opened.text
        count_page = opened.headers["location"].split("?")[0]
        count_no = count_page.rsplit("/", 1)[1]
        shown = await web.get(opened.headers["location"])
        assert "盘点单已创建" in shown.text and "盘点中" in shown.text

        listed = await web.get("/console/counts", params={"warehouse_id": sh01})
        assert f'data-count="{count_no}"' in listed.text

        counted = await web.post(
            f"{count_page}/entries",
            data={
                "csrf": csrf_of(web),
                "location_id": str(batch.location_id),
                "sku_id": str(sku),
                "batch_no": batch.batch_no,
                "quantity": str(batch.quantity - 2),
            },
        )
        assert counted.status_code == 303, counted.text
        shown = await web.get(counted.headers["location"])
        assert _shown(shown.text, "count-entries") == 1
        differences = text_of(shown.text.split('id="difference-table"')[1].split("</table>")[0])
        assert "-2" in differences and "盘亏" in differences

        approved = await web.post(f"{count_page}/approve", data={"csrf": csrf_of(web)})
        assert approved.status_code == 303
        shown = await web.get(approved.headers["location"])
        assert "已审核" in text_of(shown.text.split('id="count-status"')[1][:200])
        assert 'id="approve-count"' not in shown.text
        assert (await _figures(stack, sku, sh01)).on_hand == before.on_hand - 2
        stock_page = await web.get(f"/console/stock/{sku}/{sh01}")
        assert _shown(stock_page.text, "on-hand") == before.on_hand - 2
        assert "盘亏" in text_of(stock_page.text.split('id="ledger"')[1])


async def test_low_tracking_ranges_are_flagged(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    ops = await staff(api, "ops")
    carrier = (await api.get("/v1/carriers", headers=ops)).json()["data"][0]
    path = f"/v1/carriers/{carrier['id']}/tracking-ranges"
    for first, last, watermark in ((1000, 1009, 50), (5000, 9999, 10)):
        added = await api.post(
            path,
            json={"prefix": "CS", "first_number": first, "last_number": last,
                  "low_watermark": watermark},
            headers=ops,
        )  # fmt: skip
        assert added.status_code == 201, added.text
    async with browser(deps) as web:
        await signed_in(web, "ops")
        page = await web.get("/console/tracking-ranges", params={"low": "true"})
        rows = re.findall(r'<tr data-range="(\d+)">(.*?)</tr>', page.text, re.S)
        assert len(rows) == 1 and "余量不足" in rows[0][1] and ">10<" in rows[0][1]
        everything = await web.get("/console/tracking-ranges/export.csv")
        lines = list(csv.reader(io.StringIO(everything.text.lstrip("\ufeff"))))[1:]
        assert sorted((r[4], r[6]) for r in lines) == [("10", "是"), ("5000", "否")]

        # ops decide lost/refused packages: a decision without a choice is asked for again.
        unchosen = await web.post(
            "/console/packages/PK1/decision", data={"csrf": csrf_of(web), "reason": "丢件"}
        )
        assert unchosen.status_code == 422
        assert "PK1 · 未能完成：请选择重新发货或退款" in text_of(unchosen.text)


async def test_plan_a_wave_watch_it_pick_and_release_a_weight_hold(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    sh01 = await warehouse_id(stack, "SH01")
    order = await paid_order(stack, api, [(await only_in(stack, "SH01"), 2)], key="console-wave")
    number = order["packages"][0]["package_no"]

    async with browser(deps) as web:
        await signed_in(web, "warehouse_manager")
        waiting = await web.get("/console/outbound", params={"warehouse_id": sh01})
        row = waiting.text.split(f'data-package="{number}"')[1].split("</tr>")[0]
        assert "待组波" in row

        planned = await web.post(
            "/console/waves/plan", data={"csrf": csrf_of(web), "warehouse_id": str(sh01)}
        )
        assert planned.status_code == 303, planned.text
        shown = await web.get(planned.headers["location"])
        [wave_no] = re.findall(r'id="done">.*?<a href="/console/waves/(WV\w+)"', shown.text, re.S)
        assert f'data-wave="{wave_no}"' in shown.text

        async def built() -> str | None:
            page = await web.get(f"/console/waves/{wave_no}")
            return page.text if 'data-task="' in page.text else None

        html = await eventually(built, f"wave {wave_no} has its tasks in the console")
        assert f'hx-get="/console/waves/{wave_no}/progress"' in html
        assert 'hx-trigger="every 2s"' in html
        [task_no] = re.findall(r'data-task="([^"]+)"', html)
        assert "0 / 2" in text_of(html.split('id="units-picked"')[1][:80])
        pdf = await web.get(f"/console/waves/{wave_no}/tasks/{task_no}/pick-list.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert pdf.headers["content-type"] == "application/pdf"

        device = await device_for(api, sh01)
        await pick_everything(api, device)
        await sort_wave(api, device, wave_no)

        async def picked() -> str | None:
            fragment = await web.get(f"/console/waves/{wave_no}/progress")
            return fragment.text if "2 / 2" in fragment.text else None

        fragment = await eventually(picked, f"wave {wave_no} shows its picks")
        assert fragment.lstrip().startswith('<section id="progress"')
        assert "<html" not in fragment

        async with stack.sessions() as session:  # as the wave does when its cutoff nears
            await session.execute(
                update(Wave)
                .where(Wave.wave_no == wave_no)
                .values(escalated=True, escalation_reason="not done by cutoff − margin")
            )
            await session.commit()
        escalated = await web.get("/console/waves", params={"escalated": "true"})
        row = escalated.text.split(f'data-wave="{wave_no}"')[1].split("</tr>")[0]
        assert "已升级" in row and "not done by cutoff" in row
        calm = await web.get("/console/waves", params={"escalated": "false"})
        assert f'data-wave="{wave_no}"' not in calm.text
        shown = await web.get(f"/console/waves/{wave_no}")
        assert 'id="escalated"' in shown.text

        exported = await web.get("/console/waves/export.csv", params={"warehouse_id": sh01})
        waves = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))[1:]
        assert wave_no in [w[0] for w in waves]

        early = await web.post(
            f"/console/packages/{number}/override-weight",
            data={"csrf": csrf_of(web), "reason": "还没称重"},
        )  # nothing is held yet: the API refuses, the page says so
        assert early.status_code == 409, early.text[:300]
        assert f"{number} · 未能完成" in text_of(early.text)
        unchosen = await web.post(
            f"/console/packages/{number}/decision", data={"csrf": csrf_of(web), "reason": "xx"}
        )
        assert unchosen.status_code == 403 and "无权访问" in unchosen.text  # cs/ops decide

        expected = (await package(api, number, device))["expected_weight_g"]
        heavy = expected * 2 + 100
        held = await api.post(
            f"/v1/packages/{number}/pack", json={"measured_weight_g": heavy}, headers=device
        )
        assert held.json()["status"] == "weight_hold", held.text

        holds = await web.get("/console/packages", params={"status": "weight_hold"})
        assert f'data-package="{number}"' in holds.text and str(heavy) in holds.text
        released = await web.post(
            f"/console/packages/{number}/override-weight?status=weight_hold",
            data={"csrf": csrf_of(web), "reason": "复称确认"},
        )
        assert released.status_code == 303, released.text
        after = await web.get(released.headers["location"])
        assert "包裹已放行" in after.text
        assert f'data-package="{number}"' not in after.text  # no longer held
        assert (await package(api, number, device))["status"] != "weight_hold"


async def test_every_warehouse_form_refuses_a_post_without_its_csrf_token(
    stack: Stack, deps: AppDeps
) -> None:
    sh01 = await warehouse_id(stack, "SH01")
    sku = await only_in(stack, "SH01")
    before = await _figures(stack, sku, sh01)
    posts = (
        (f"/console/stock/{sku}/{sh01}/adjust", {"location_id": "1", "quantity_delta": "5"}),
        (f"/console/stock/{sku}/{sh01}/safety-hold", {"safety_hold": "9", "reason": "xx"}),
        (f"/console/stock/{sku}/{sh01}/batches/1", {"disabled": "true", "reason": "xx"}),
        (f"/console/warehouses/{sh01}/counts", {"location_ids": "1"}),
        ("/console/counts/CNT1/entries", {"location_id": "1", "sku_id": "1", "quantity": "1"}),
        ("/console/counts/CNT1/approve", {}),
        ("/console/waves/plan", {"warehouse_id": str(sh01)}),
        ("/console/packages/PK1/override-weight", {"reason": "xx"}),
        ("/console/packages/PK1/decision", {"decision": "refund", "reason": "xx"}),
    )
    async with browser(deps) as web:
        await signed_in(web, "admin")
        for path, form in posts:
            for token in ({}, {"csrf": "wrong"}):
                answer = await web.post(path, data={**form, **token})
                assert answer.status_code == 403, (path, token, answer.status_code)
                assert "请求已失效" in answer.text, path
    after = await _figures(stack, sku, sh01)
    assert (after.on_hand, after.safety_hold) == (before.on_hand, before.safety_hold)
    async with stack.sessions() as session:
        audit = await session.scalars(
            select(AuditEntry.action).where(AuditEntry.action.startswith("stock."))
        )
        assert list(audit) == []
