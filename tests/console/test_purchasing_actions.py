"""Purchasing and finance actions in the console, as the people who take them: a PO made in the
line editor (amounts parsed exactly, refusals next to the field), submitted, approved in two
tiers, rejected, closed short; an invoice booked and its mismatch decided; a reorder rule and a
replenishment. Every action shows its result on the very next page; a forged post does nothing."""

from __future__ import annotations

import csv
import io
import re

import httpx
import openpyxl
from sqlalchemy import func, select

from api.deps import AppDeps
from models.db import AuditEntry, PurchaseOrder, SupplierInvoice
from tests.support.console import BROWSER_IP, browser, csrf_of, signed_in, text_of
from tests.support.order_api import DEVICE, staff, warehouse_id
from tests.support.pdf_read import page_texts
from tests.support.purchasing import (
    approved_po,
    location_in,
    sent,
    supplier_with_products,
    wait_po,
)
from tests.support.stack import Stack


def line(n: int, sku: int | str, warehouse: int | str, quantity: str, price: str) -> dict[str, str]:
    at = f"lines.{n}"
    return {
        f"{at}.sku_id": str(sku),
        f"{at}.warehouse_id": str(warehouse),
        f"{at}.quantity": quantity,
        f"{at}.price": price,
    }


def still_to_approve(html: str) -> list[str]:
    """The roles the PO page says must still approve."""
    found = re.search(r'id="still-to-approve">[^<]*<strong>([^<]*)</strong>', html)
    return found[1].split(", ") if found else []


async def po_count(stack: Stack) -> int:
    async with stack.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(PurchaseOrder)) or 0)


async def test_a_po_made_in_the_line_editor_is_submitted_and_approved_in_two_tiers(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    supplier, (sku_a, sku_b) = await supplier_with_products(stack)
    sh = await warehouse_id(stack, "SH01")

    async with browser(deps) as web:
        await signed_in(web, "purchasing")
        # Without JS: choosing the supplier and pressing refresh brings its products, priced.
        page = await web.post(
            "/console/purchase-orders/new",
            data={"csrf": csrf_of(web), "supplier_id": str(supplier), "action": "refresh"},
        )
        assert page.status_code == 200
        assert f'<option value="{sku_a}"' in page.text and "¥" in page.text
        more = await web.post(
            "/console/purchase-orders/new",
            data={"csrf": csrf_of(web), "supplier_id": str(supplier), "rows": "3",
                  "action": "add_line"},
        )  # fmt: skip
        assert more.text.count('aria-label="第 4 行商品"') == 1
        # htmx gets only the line editor back.
        part = await web.post(
            "/console/purchase-orders/new",
            data={"csrf": csrf_of(web), "supplier_id": str(supplier), "action": "refresh",
                  **line(0, sku_a, sh, "", "")},
            headers={"HX-Request": "true"},
        )  # fmt: skip
        assert part.text.lstrip().startswith('<div id="line-editor">')
        assert 'id="supply-0">¥' in part.text
        found = await web.post(
            "/console/purchase-orders/new",
            data={"csrf": csrf_of(web), "supplier_id": str(supplier), "action": "refresh",
                  "q": "30袋"},
            headers={"HX-Request": "true"},
        )  # fmt: skip
        options = re.findall(r'<option value="(\d+)"', found.text.split("lines.0.warehouse_id")[0])
        assert options == [str(sku_b)]  # the search keeps the products whose name matches

        form = {"csrf": csrf_of(web), "supplier_id": str(supplier), "rows": "3"}
        third_decimal = await web.post(
            "/console/purchase-orders/new",
            data={**form, **line(0, sku_a, sh, "2000", "33.345"), **line(1, sku_b, sh, "10", "")},
        )
        assert third_decimal.status_code == 422
        assert 'id="error-0-price"' in third_decimal.text
        assert "最多两位小数" in third_decimal.text
        assert 'value="33.345"' in third_decimal.text  # what was typed stays
        refused = await web.post(
            "/console/purchase-orders/new",
            data={**form, **line(0, sku_a, sh, "2000", "33.34"), **line(2, sku_b, 999999, "5", "")},
        )
        assert refused.status_code == 422
        # the API's refusal at its row, in the page's language
        assert 'id="error-2-warehouse_id">没有这个启用的仓库（999999）<' in refused.text
        assert await po_count(stack) == 0

        created = await web.post(
            "/console/purchase-orders/new",
            data={**form, **line(0, sku_a, sh, "2000", "33.34"), **line(1, sku_b, sh, "10", "")},
        )
        assert created.status_code == 303, created.text
        detail = await web.get(created.headers["location"])
        number = created.headers["location"].split("/")[-1].split("?")[0]
        page_text = text_of(detail.text)
        assert "采购单已创建（草稿）" in page_text and "草稿" in page_text
        assert "¥33.34" in page_text
        po = (await api.get(f"/v1/purchase-orders/{number}",
                            headers=await staff(api, "purchasing_manager"))).json()  # fmt: skip
        assert po["lines"][0]["unit_price_fen"] == 3334
        supply = po["lines"][1]["unit_price_fen"]  # empty price: the supply price
        assert po["amount_fen"] == 2000 * 3334 + 10 * supply
        assert f"¥{po['amount_fen'] // 100:,}.{po['amount_fen'] % 100:02d}" in page_text

        submitted = await web.post(
            f"/console/purchase-orders/{number}/submit", data={"csrf": csrf_of(web)}
        )
        assert submitted.status_code == 303
        html = (await web.get(submitted.headers["location"])).text
        assert "采购单已提交审批" in text_of(html)
        assert sorted(still_to_approve(html)) == ["财务", "采购经理"]  # ¥50,000 and more: two tiers
        forbidden = await web.post(
            f"/console/purchase-orders/{number}/approve", data={"csrf": csrf_of(web)}
        )
        assert forbidden.status_code == 403

    async with browser(deps) as web:
        await signed_in(web, "purchasing_manager")
        page = text_of((await web.get(f"/console/purchase-orders/{number}")).text)
        assert "以采购经理身份审批通过" in page
        answer = await web.post(
            f"/console/purchase-orders/{number}/approve",
            data={"csrf": csrf_of(web), "role": "purchasing_manager"},
        )
        assert answer.status_code == 303, answer.text
        after = (await web.get(answer.headers["location"])).text
        assert "审批已提交" in text_of(after) and "已审批：purchasing_manager" in text_of(after)
        assert still_to_approve(after) == ["财务"] and "以采购经理身份审批通过" not in after

    async with browser(deps) as web:
        await signed_in(web, "finance")
        answer = await web.post(
            f"/console/purchase-orders/{number}/approve",
            data={"csrf": csrf_of(web), "role": "finance"},
        )
        assert answer.status_code == 303, answer.text
        after = (await web.get(answer.headers["location"])).text
        assert "已审批：finance" in text_of(after) and still_to_approve(after) == []

    async with stack.sessions() as session:
        rows = list(
            await session.scalars(
                select(AuditEntry)
                .where(
                    AuditEntry.action == "purchase_order.approve", AuditEntry.object_id == number
                )
                .order_by(AuditEntry.id)
            )
        )
    assert [(r.actor_name, r.client_ip) for r in rows] == [
        ("purchasing_manager", BROWSER_IP),
        ("finance", BROWSER_IP),
    ]


async def test_reject_needs_a_reason_close_short_and_a_forged_post_does_nothing(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    supplier, (sku, _) = await supplier_with_products(stack)
    sh = await warehouse_id(stack, "SH01")
    buyer = await staff(api, "purchasing")
    body = {"supplier_id": supplier, "lines": [{"sku_id": sku, "warehouse_id": sh, "quantity": 3}]}
    draft = (await api.post("/v1/purchase-orders", json=body, headers=buyer)).json()["po_no"]
    await api.post(f"/v1/purchase-orders/{draft}/submit", headers=buyer)
    approved, _, _ = await approved_po(stack, api)
    open_po = approved["po_no"]
    await sent(api, open_po, buyer)

    async with browser(deps) as web:
        await signed_in(web, "purchasing_manager")
        for forged in ({}, {"csrf": "forged" * 8}):
            answer = await web.post(
                f"/console/purchase-orders/{draft}/reject", data={**forged, "reason": "太贵"}
            )
            assert answer.status_code == 403 and "请求已失效" in answer.text
        no_reason = await web.post(
            f"/console/purchase-orders/{draft}/reject", data={"csrf": csrf_of(web), "reason": ""}
        )
        assert no_reason.status_code == 422 and "请填写原因" in no_reason.text
        rejected = await web.post(
            f"/console/purchase-orders/{draft}/reject",
            data={"csrf": csrf_of(web), "reason": "价格过高"},
        )
        assert rejected.status_code == 303
        after = text_of((await web.get(rejected.headers["location"])).text)
        assert "采购单已驳回" in after and "价格过高" in after
        again = await web.post(
            f"/console/purchase-orders/{draft}/reject",
            data={"csrf": csrf_of(web), "reason": "再驳回一次"},
        )
        assert again.status_code == 409, again.text
        assert 'id="reject-form"' not in again.text and 'id="refusal"' in again.text
        assert f"未能完成：purchase order {draft}" in again.text

        closed = await web.post(
            f"/console/purchase-orders/{open_po}/close",
            data={"csrf": csrf_of(web), "reason": "供应商停产"},
        )
        assert closed.status_code == 303, closed.text
        after = text_of((await web.get(closed.headers["location"])).text)
        assert "采购单已短缺关闭" in after and "已关闭 · 短缺关闭" in after

    assert (await wait_po(api, open_po, "closed", buyer))["close_reason"] == "closed_short"
    assert (await api.get(f"/v1/purchase-orders/{draft}", headers=buyer)).json()["status"] == (
        "rejected"
    )


async def test_finance_books_an_invoice_sees_the_mismatch_and_decides_it(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    po, skus, sh = await approved_po(stack, api)  # 100 + 40 at ¥2.50
    number = po["po_no"]
    buyer = await staff(api, "purchasing")
    await sent(api, number, buyer)
    receipt = {
        "receipt_key": "all",
        "warehouse_id": sh,
        "location_id": await location_in(stack, "SH01"),
        "lines": [
            {"line_no": 1, "sku_id": skus[0], "received": 100, "accepted": 100, "batch_no": "B1"},
            {"line_no": 2, "sku_id": skus[1], "received": 40, "accepted": 40, "batch_no": "B1"},
        ],
    }
    answer = await api.post(f"/v1/purchase-orders/{number}/receipts", json=receipt,
                            headers=DEVICE["SH01"])  # fmt: skip
    assert answer.status_code == 201, answer.text
    await wait_po(api, number, "closed", buyer)
    leaking = {"line_no": 1, "quantity": 2, "location_id": receipt["location_id"], "batch_no": "B1"}
    sent_back = await api.post(
        f"/v1/purchase-orders/{number}/returns",
        json={"return_key": "leak", "warehouse_id": sh, "reason": "包装破损", "lines": [leaking]},
        headers=DEVICE["SH01"],
    )
    assert sent_back.status_code == 201, sent_back.text

    async with browser(deps) as web:
        await signed_in(web, "finance")
        po_page = await web.get(f"/console/purchase-orders/{number}")
        receipt_no = answer.json()["receipt_no"]
        assert f'data-receipt="{receipt_no}"' in po_page.text
        note_link = f"/console/purchase-orders/{number}/receipts/{receipt_no}/receipt-note.pdf"
        assert f'href="{note_link}"' in po_page.text
        note = await web.get(note_link)
        assert note.status_code == 200 and note.content.startswith(b"%PDF")
        assert receipt_no in " ".join(page_texts(note.content))
        return_no = sent_back.json()["return_no"]
        shown_return = po_page.text.split(f'data-return="{return_no}"')[1].split("</tr>")[0]
        assert "¥5.00" in shown_return and "包装破损" in shown_return
        assert "第 1 行 × 2（批次 B1）" in shown_return
        page = await web.get(f"/console/invoices/{number}")
        assert 'value="2.50"' in page.text and 'value="100"' in page.text  # what should be billed
        form = {
            "csrf": csrf_of(web),
            "invoice_no": "INV-9",
            "invoice_date": "2026-01-05",
            "lines.0.quantity": "100",
            "lines.0.price": "2.505",
            "lines.1.quantity": "40",
            "lines.1.price": "2.50",
        }
        bad = await web.post(f"/console/invoices/{number}", data=form)
        assert bad.status_code == 422 and 'id="error-0-price"' in bad.text
        async with stack.sessions() as session:
            assert await session.get(SupplierInvoice, number) is None
        booked = await web.post(f"/console/invoices/{number}", data={**form, "lines.0.price": "3"})
        assert booked.status_code == 303, booked.text
        shown = await web.get(booked.headers["location"])
        text = text_of(shown.text)
        assert "发票已登记" in text and "匹配差异待处理" in text
        assert "应开金额（单价 × 入库） ¥350.00" in text and "发票金额 ¥400.00" in text
        assert 'data-kind="price_mismatch"' in shown.text
        no_choice = await web.post(
            f"/console/invoices/{number}/decision", data={"csrf": csrf_of(web), "reason": "ok"}
        )
        assert no_choice.status_code == 422 and "请选择接受或拒绝" in no_choice.text
        decided = await web.post(
            f"/console/invoices/{number}/decision",
            data={"csrf": csrf_of(web), "decision": "approve", "reason": "涨价已确认"},
        )
        assert decided.status_code == 303, decided.text
        after = text_of((await web.get(decided.headers["location"])).text)
        assert "差异处理已提交" in after and "涨价已确认" in after
        assert "处理匹配差异" not in after

        payables = text_of((await web.get("/console/payables")).text)
        assert number in payables and "INV-9" in payables
        ledger = await web.get("/console/ledger", params={"number": number})
        assert 'data-entry="supplier_invoice"' in ledger.text
        assert "¥400.00" in text_of(ledger.text)
        nonsense = await web.get("/console/ledger", params={"number": "XX1"})
        assert "请输入 SO 开头的订单号" in nonsense.text

        ran = await web.post("/console/reconciliation/run", data={"csrf": csrf_of(web)})
        assert ran.status_code == 303, ran.text
        run_id = ran.headers["location"].split("ran=")[1]
        runs = await web.get(ran.headers["location"])
        assert f'data-run="{run_id}"' in runs.text and "已完成" in text_of(runs.text)

    admin = await staff(api, "admin")
    both = await api.get("/v1/ledger", params={"po_no": number, "order_no": "SO1"}, headers=admin)
    assert both.status_code == 422
    by_api = (await api.get("/v1/ledger", params={"po_no": number}, headers=admin)).json()
    assert by_api["balance_fen"] == sum(e["amount_fen"] for e in by_api["entries"])
    assert ("supplier_invoice", 40_000) in [
        (e["entry_type"], e["amount_fen"]) for e in by_api["entries"]
    ]
    buyer_sees = await api.get("/v1/ledger", params={"po_no": number}, headers=buyer)
    assert buyer_sees.status_code == 403  # the ledger is finance's


async def test_a_reorder_rule_shows_low_stock_and_replenish_now_drafts_a_po(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    supplier, (sku, _) = await supplier_with_products(stack)
    sh = await warehouse_id(stack, "SH01")

    async with browser(deps) as web:
        await signed_in(web, "purchasing")
        wrong = await web.post(
            "/console/replenishment/rules",
            data={"csrf": csrf_of(web), "sku_id": str(sku), "warehouse_id": str(sh),
                  "reorder_point": "1000000", "reorder_level": "5"},
        )  # fmt: skip
        assert wrong.status_code == 422
        assert 'id="error-reorder_level"' in wrong.text  # the API's refusal at its field
        saved = await web.post(
            "/console/replenishment/rules",
            data={"csrf": csrf_of(web), "sku_id": str(sku), "warehouse_id": str(sh),
                  "reorder_point": "1000000", "reorder_level": "1000100"},
        )  # fmt: skip
        assert saved.status_code == 303, saved.text
        page = await web.get(saved.headers["location"])
        assert "补货规则已保存" in page.text
        assert f'data-rule="{sku}-{sh}"' in page.text and f'data-low="{sku}-{sh}"' in page.text
        low = await web.get("/console/replenishment/low.csv", params={"warehouse_id": str(sh)})
        rows = list(csv.reader(io.StringIO(low.content.decode("utf-8-sig"))))
        assert rows[0][0] == "商品（SKU）" and rows[0][5] == "补货点"
        assert [str(sku), "1000000"] in [[r[0], r[5]] for r in rows[1:]]
        rules = await web.get("/console/replenishment/rules.xlsx")
        sheet = openpyxl.load_workbook(io.BytesIO(rules.content)).active
        assert sheet is not None
        assert str(sku) in [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)]
        run = await web.post(
            "/console/replenishment/run", data={"csrf": csrf_of(web), "warehouse_id": str(sh)}
        )
        assert run.status_code == 303, run.text
        after = await web.get(run.headers["location"])
        assert "已生成采购单草稿" in after.text
        drafted = after.text.split('id="drafted"')[1].split("</p>")[0]
    async with stack.sessions() as session:
        numbers = list(await session.scalars(select(PurchaseOrder.po_no)))
    assert numbers and all(n in drafted for n in numbers)
    assert supplier  # the rule's SKU is this supplier's


async def test_approving_a_selection_answers_each_po_on_its_own(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    supplier, (sku, _) = await supplier_with_products(stack)
    sh = await warehouse_id(stack, "SH01")
    buyer = await staff(api, "purchasing")
    numbers: list[str] = []
    for quantity in (2, 3, 4):
        body = {
            "supplier_id": supplier,
            "lines": [{"sku_id": sku, "warehouse_id": sh, "quantity": quantity}],
        }
        numbers.append(
            (await api.post("/v1/purchase-orders", json=body, headers=buyer)).json()["po_no"]
        )
    first, draft, last = numbers
    for number in (first, last):
        submitted = await api.post(f"/v1/purchase-orders/{number}/submit", headers=buyer)
        assert submitted.status_code == 200, submitted.text

    async with browser(deps) as web:
        await signed_in(web, "purchasing")
        listing = await web.get("/console/purchase-orders")
        assert 'name="po_no"' not in listing.text  # buyers do not approve
        refused = await web.post(
            "/console/purchase-orders/approve", data={"csrf": csrf_of(web), "po_no": first}
        )
        assert refused.status_code == 403

    async with browser(deps) as web:
        await signed_in(web, "purchasing_manager")
        listing = await web.get("/console/purchase-orders")
        offered = set(re.findall(r'name="po_no" value="([^"]+)"', listing.text))
        assert offered == {first, last}  # only those waiting for approval
        answer = await web.post(
            "/console/purchase-orders/approve",
            data={"csrf": csrf_of(web), "po_no": [first, draft, last]},
        )
        assert answer.status_code == 200, answer.text
        rows = dict(re.findall(r'<tr data-po="([^"]+)" class="(\w+)">', answer.text))
        assert rows == {first: "done", draft: "refused", last: "done"}
        refused_row = answer.text.split(f'<tr data-po="{draft}"')[1].split("</tr>")[0]
        assert "未能完成：" in refused_row  # the API's words for that one PO

    for number, status in ((first, "sent"), (last, "sent")):
        assert (await wait_po(api, number, status, buyer))["approvals"]
    assert (await api.get(f"/v1/purchase-orders/{draft}", headers=buyer)).json()[
        "status"
    ] == "draft"

    async with browser(deps) as web:
        await signed_in(web, "purchasing")
        cancel = f"/console/purchase-orders/{draft}/cancel"
        unconfirmed = await web.post(cancel, data={"csrf": csrf_of(web), "reason": "不再需要"})
        assert unconfirmed.status_code == 422 and "请先勾选确认" in unconfirmed.text
        cancelled = await web.post(
            cancel, data={"csrf": csrf_of(web), "reason": "不再需要", "confirm": "yes"}
        )
        assert cancelled.status_code == 303, cancelled.text
        after = text_of((await web.get(cancelled.headers["location"])).text)
        assert "采购单已作废" in after and "不再需要" in after
    assert (await wait_po(api, draft, "cancelled", buyer))["status"] == "cancelled"
