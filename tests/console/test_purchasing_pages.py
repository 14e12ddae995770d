"""The purchasing and finance parts of the console for every built-in staff role: what a role may
see renders, what it may not is the 403 page; lists filter, page and export exactly their rows."""

from __future__ import annotations

import csv
import io
import re

import httpx
import openpyxl
import pytest

from api.deps import AppDeps
from models.domain.access import allowed
from tests.support.console import STAFF_ROLES, browser, signed_in, text_of
from tests.support.order_api import staff
from tests.support.purchasing import approved_po, supplier_with_products
from tests.support.stack import Stack


async def test_every_purchasing_and_finance_page_for_every_staff_role(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    po, _, _ = await approved_po(stack, api)
    number = po["po_no"]
    supplier, _ = await supplier_with_products(stack)
    pages = [
        ("/console/purchase-orders", "purchase.read", number),
        (f"/console/purchase-orders/{number}", "purchase.read", "采购明细"),
        ("/console/purchase-orders/new", "purchase.write", "新建采购单"),
        (f"/console/purchase-orders/export.csv?supplier_id={supplier}", "purchase.read", number),
        ("/console/suppliers", "supplier.read", "供应商"),
        (f"/console/suppliers/{supplier}", "supplier.read", "供应商品"),
        ("/console/suppliers/export.csv", "supplier.read", "编码"),
        ("/console/replenishment", "purchase.read", "补货规则"),
        ("/console/payables", "purchase.settle", "应付账款"),
        ("/console/payables?status=paid", "purchase.settle", "已付款"),
        ("/console/payables/export.xlsx", "purchase.settle", ""),
        (f"/console/invoices/{number}", "purchase.read", "尚无发票"),
        ("/console/reconciliation", "finance.read", "对账记录"),
        ("/console/reconciliation/export.csv", "finance.read", "对账日"),
        (f"/console/ledger?number={number}", "finance.read", "仍欠供应商"),
    ]

    async with browser(deps) as web:
        await signed_in(web, "purchasing")
        web.cookies.set("houtai_lang", "en")
        english = text_of((await web.get(f"/console/purchase-orders/{number}")).text)
        assert f"Purchase order {number}" in english and "Approvals" in english

    for role in STAFF_ROLES:
        roles = frozenset({role})
        async with browser(deps) as web:
            await signed_in(web, role)
            home = await web.get("/console/")
            for path, permission in (
                ("/purchase-orders", "purchase.read"),
                ("/suppliers", "supplier.read"),
                ("/payables", "purchase.settle"),
                ("/reconciliation", "finance.read"),
            ):
                shown = f'href="/console{path}"' in home.text
                assert shown == allowed(roles, permission), (role, path)
            for path, permission, words in pages:
                answer = await web.get(path)
                if allowed(roles, permission):
                    assert answer.status_code == 200, (role, path, answer.text[:2000])
                    if path.endswith(".xlsx"):
                        assert answer.content.startswith(b"PK")
                    else:
                        assert words in answer.content.decode("utf-8-sig"), (role, path)
                else:
                    assert answer.status_code == 403, (role, path, answer.status_code)
                    assert "无权访问" in answer.text and "Traceback" not in answer.text
            if allowed(roles, "supplier.read"):
                for nonsense in ("x", "99999999999", "424242"):
                    missing = await web.get(f"/console/suppliers/{nonsense}")
                    assert missing.status_code == 404 and "未找到" in missing.text
            # The PO page offers each role only the actions its permissions allow.
            detail = text_of((await web.get(f"/console/purchase-orders/{number}")).text)
            if allowed(roles, "purchase.read"):
                assert ("短缺关闭（剩余不再到货）" in detail) == allowed(roles, "purchase.write")
                assert "以采购经理身份审批通过" not in detail  # approved already


async def test_po_list_filters_sorts_pages_and_exports_exactly_its_rows(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("console.lists.PAGE_SIZE", 2)
    monkeypatch.setattr("console.export.EXPORT_PAGE", 2)
    supplier, skus = await supplier_with_products(stack)
    buyer = await staff(api, "purchasing")
    sh = (await api.get("/v1/warehouses", headers=buyer)).json()["data"][0]["id"]
    made: dict[str, int] = {}
    for quantity in (1, 5, 3, 2, 4):
        body = {
            "supplier_id": supplier,
            "lines": [{"sku_id": skus[0], "warehouse_id": sh, "quantity": quantity}],
        }
        created = await api.post("/v1/purchase-orders", json=body, headers=buyer)
        assert created.status_code == 201, created.text
        made[created.json()["po_no"]] = created.json()["amount_fen"]
    by_amount = sorted(made, key=lambda n: made[n], reverse=True)

    async with browser(deps) as web:
        await signed_in(web, "purchasing_manager")
        seen: list[str] = []
        for page in (1, 2, 3):
            answer = await web.get(
                "/console/purchase-orders",
                params={"status": "draft", "sort": "-amount_fen", "page": page},
            )
            assert "第 " + str(page) + " / 3 页" in text_of(answer.text)
            seen += re.findall(r'<tr data-po="([^"]+)">', answer.text)
        assert seen == by_amount
        fragment = await web.get(
            "/console/purchase-orders",
            params={"status": "draft", "sort": "amount_fen"},
            headers={"HX-Request": "true"},
        )
        assert "<html" not in fragment.text
        assert fragment.headers["HX-Push-Url"] == (
            "/console/purchase-orders?status=draft&sort=amount_fen"
        )
        assert re.findall(r'<tr data-po="([^"]+)">', fragment.text) == by_amount[::-1][:2]
        none = await web.get("/console/purchase-orders", params={"status": "settled"})
        assert "共 0 张采购单" in text_of(none.text)
        bad = await web.get("/console/purchase-orders", params={"status": "nonsense"})
        assert "无效的筛选条件：status" in bad.text

        exported = await web.get(
            "/console/purchase-orders/export.csv", params={"status": "draft", "sort": "-amount_fen"}
        )
        workbook = await web.get(
            "/console/purchase-orders/export.xlsx",
            params={"status": "draft", "sort": "-amount_fen"},
        )
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["采购单号", "状态", "供应商", "金额"]
    assert [r[0] for r in rows[1:]] == by_amount
    assert [r[3] for r in rows[1:]] == [f"{made[n] // 100}.{made[n] % 100:02d}" for n in by_amount]
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.content)).active
    assert sheet is not None
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == by_amount
