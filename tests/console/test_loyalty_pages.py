"""The console's levels-and-points pages (issue 16, DESIGN §6.7) over the whole back office: a
manager sets the points rules and the levels; a customer's points page shows the balance, growth,
level, level history and the ledger with its filter and exports; customer service adjusts points
with a reason; roles without the permission are refused."""

from __future__ import annotations

import csv
import io
import re

import httpx
import openpyxl

from api.deps import AppDeps
from tests.support.console import browser, csrf_of, signed_in, text_of
from tests.support.order_api import staff
from tests.support.orders import known_customer
from tests.support.stack import Stack

STOREFRONT_KEY = 8_800_000_001


async def test_a_manager_sets_the_rules_and_levels(stack: Stack, deps: AppDeps) -> None:
    async with browser(deps) as web:
        await signed_in(web, "ops")
        page = await web.get("/console/loyalty/settings")
        assert page.status_code == 200, page.text
        assert "会员等级与积分规则" in text_of(page.text) and 'id="rules-form"' in page.text
        assert 'href="/console/loyalty/settings"' in page.text  # in the menu

        rules = {"earn_per_yuan": "3", "growth_per_yuan": "2", "fen_per_point": "1",
                 "max_percent": "40", "csrf": csrf_of(web)}  # fmt: skip
        saved = await web.post("/console/loyalty/settings/rules", data=rules)
        assert saved.status_code == 303, saved.text
        shown = text_of((await web.get(saved.headers["location"])).text)
        assert "积分规则已保存" in shown and "100 积分抵扣 ¥1.00" in shown and "40%" in shown

        bad = await web.post("/console/loyalty/settings/rules",
                             data={**rules, "max_percent": "101"})  # fmt: skip
        assert bad.status_code == 422 and 'data-error-for="max_percent"' in bad.text

        levels = {"rows": "3", "csrf": csrf_of(web),
                  "code0": "SILVER", "name0": "银卡", "threshold0": "100", "discount0": "2",
                  "code1": "GOLD", "name1": "金卡", "threshold1": "1000", "discount1": "5",
                  "free_shipping1": "true", "code2": ""}  # fmt: skip
        saved = await web.post("/console/loyalty/settings/levels", data=levels)
        assert saved.status_code == 303, saved.text
        page = await web.get("/console/loyalty/settings")
        table = text_of(page.text.split('id="levels"')[1].split("</table>")[0])
        assert "SILVER 银卡 100 减 2% 否" in table and "GOLD 金卡 1000 减 5% 是" in table

        twice = await web.post("/console/loyalty/settings/levels",
                               data={**levels, "threshold1": "100"})  # fmt: skip
        assert twice.status_code == 422  # said next to the row that repeats, in Chinese
        assert 'data-error-for="threshold1">与另一个等级重复（100）<' in twice.text

    async with browser(deps) as web:
        await signed_in(web, "cs")
        page = await web.get("/console/loyalty/settings")
        assert page.status_code == 200 and 'id="rules-form"' not in page.text
        refused = await web.post(
            "/console/loyalty/settings/rules", data={**rules, "csrf": csrf_of(web)}
        )
        assert refused.status_code == 403


async def test_a_customer_s_points_page_with_ledger_exports_and_adjustment(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    cs = await staff(api, "cs")
    # Points belong to the customer record: its id names it in the console and to staff.
    customer = (await known_customer(api, STOREFRONT_KEY))["id"]
    for key, points in (("a", 500), ("b", 120), ("c", -20)):
        body = {"key": key, "points": points, "reason": f"原因{key}"}
        answer = await api.post(f"/v1/customers/{customer}/points/adjustments", headers=cs,
                                json=body)  # fmt: skip
        assert answer.status_code == 201, answer.text
    path = f"/console/customers/{customer}/points"
    async with browser(deps) as web:
        await signed_in(web, "cs")
        page = await web.get(path)
        assert page.status_code == 200, page.text
        shown = text_of(page.text)
        assert f"客户 {customer} 的积分" in shown and "积分余额 600 " in shown
        assert "原因a" in shown and "+500" in shown and "-20" in shown and "调整" in shown
        assert f'id="customer-link" href="/console/members/customers/{customer}"' in page.text
        back = await web.get(f"/console/members/customers/{customer}")
        assert back.status_code == 200

        oldest = await web.get(path, params={"sort": "at"})
        rows = oldest.text.split('id="ledger"')[1]
        assert rows.index("+500") < rows.index("+120") < rows.index("-20")

        exported = await web.get(f"{path}/export.csv", params={"sort": "at"})
        assert exported.status_code == 200
        table = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert table[0][:3] == ["时间", "类型", "积分"]
        assert [row[2] for row in table[1:]] == ["500", "120", "-20"]
        workbook = await web.get(f"{path}/export.xlsx", params={"kind": "spend"})
        sheet = openpyxl.load_workbook(io.BytesIO(workbook.content)).active
        assert sheet is not None and sheet.max_row == 1  # no spend rows: the header only

        adjusted = await web.post(
            f"{path}/adjustments",
            data={"key": "k1", "points": "+30", "reason": "补偿", "csrf": csrf_of(web)},
        )
        assert adjusted.status_code == 303, adjusted.text
        page = await web.get(adjusted.headers["location"])
        assert "积分已调整" in text_of(page.text) and "积分余额 630 " in text_of(page.text)
        too_much = await web.post(
            f"{path}/adjustments",
            data={"key": "k2", "points": "-9999", "reason": "扣减", "csrf": csrf_of(web)},
        )
        assert too_much.status_code == 422 and "balance 630" in too_much.text
        refused = too_much.text.split('name="key" value="')[1].split('"')[0]
        assert refused == "k2"  # the refused form keeps its key: sent again, it books once
        fresh = (await web.get(path)).text.split('name="key" value="')[1].split('"')[0]
        assert re.fullmatch(r"pa-[\w-]{22}", fresh)  # a new form: a new key, not guessable
        not_a_number = await web.post(
            f"{path}/adjustments",
            data={"key": "k3", "points": "1.5", "reason": "扣减", "csrf": csrf_of(web)},
        )
        assert not_a_number.status_code == 422 and 'data-error-for="points"' in not_a_number.text

    async with browser(deps) as web:
        await signed_in(web, "ops")  # reads points, may not adjust them
        page = await web.get(path)
        assert page.status_code == 200 and 'id="adjust"' not in page.text
        refused = await web.post(
            f"{path}/adjustments",
            data={"key": "k4", "points": "5", "reason": "试试", "csrf": csrf_of(web)},
        )
        assert refused.status_code == 403

    # Points are the customer's: a role reading loyalty but not customers opens none of them.
    async with browser(deps) as web:
        await signed_in(web, "warehouse_manager")
        assert (await web.get("/console/loyalty/settings")).status_code == 200  # loyalty.read
        for address in (path, f"/console/loyalty/customers/{customer}/points",
                        f"{path}/export.csv"):  # fmt: skip
            refused = await web.get(address)
            assert refused.status_code == 403, address
            assert "积分余额" not in text_of(refused.text)
