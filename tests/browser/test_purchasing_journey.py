"""The purchasing journey in real Chromium: a buyer makes a PO in the line editor (htmx brings the
supplier's products and their supply price) and submits it; two different people approve it in
two tiers; the warehouse receives it over the API; finance books the invoice in the console and
sees the three-way match."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect

from tests.support import totp
from tests.support.order_api import DEVICE, staff, warehouse_id
from tests.support.purchasing import location_in, sent, supplier_with_products, wait_po
from tests.support.stack import Stack
from workers.seed import DEMO_PASSWORD


async def sign_in(page: Page, username: str) -> None:
    await page.goto("/console/login")
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码", exact=True).fill(DEMO_PASSWORD)
    code = await totp.code(page, username)
    if code is not None:
        await page.get_by_label("动态验证码（管理员、财务必填）").fill(code)
    await page.get_by_role("button", name="登录").click()
    await expect(page.get_by_role("button", name="退出登录")).to_be_visible()


async def sign_out(page: Page) -> None:
    await page.get_by_role("button", name="退出登录").click()
    await expect(page.get_by_role("button", name="登录")).to_be_visible()


async def test_a_po_made_in_the_console_is_approved_in_two_tiers_received_and_invoiced(
    page: Page, stack: Stack, api: httpx.AsyncClient
) -> None:
    supplier, (sku_a, sku_b) = await supplier_with_products(stack)
    sh = await warehouse_id(stack, "SH01")

    await sign_in(page, "purchasing")
    await page.goto("/console/purchase-orders")
    await page.locator("#new-po").click()
    await expect(page.get_by_role("heading", name="新建采购单")).to_be_visible()
    await page.locator("select[name=supplier_id]").select_option(str(supplier))
    first_sku = page.get_by_label("第 1 行商品")
    await expect(first_sku.locator(f'option[value="{sku_a}"]')).to_have_count(1)
    await first_sku.select_option(str(sku_a))
    await expect(page.locator("#supply-0")).to_contain_text("¥")  # the supply price, shown
    await page.get_by_label("第 1 行仓库").select_option(str(sh))
    await page.get_by_label("第 1 行数量").fill("2000")
    await page.get_by_label("第 1 行单价").fill("33.34")
    await page.get_by_label("第 2 行商品").select_option(str(sku_b))
    await expect(page.locator("#supply-1")).to_contain_text("¥")
    await page.get_by_label("第 2 行仓库").select_option(str(sh))
    await page.get_by_label("第 2 行数量").fill("10")
    await page.get_by_role("button", name="创建采购单").click()
    await expect(page.locator("#done")).to_have_text("采购单已创建（草稿）")
    number = page.url.split("/purchase-orders/")[1].split("?")[0]
    await expect(page.locator("#po-lines tbody tr").first).to_contain_text("¥33.34")
    await page.get_by_role("button", name="提交审批").click()
    await expect(page.locator("#done")).to_have_text("采购单已提交审批")
    await expect(page.locator("#still-to-approve")).to_contain_text("采购经理")
    await expect(page.locator("#still-to-approve")).to_contain_text("财务")
    await sign_out(page)

    await sign_in(page, "purchasing_manager")
    await page.goto(f"/console/purchase-orders/{number}")
    await page.get_by_role("button", name="以采购经理身份审批通过").click()
    await expect(page.locator("#done")).to_have_text("审批已提交")
    await expect(page.locator("#still-to-approve")).to_have_text("仍需审批： 财务")
    await sign_out(page)

    await sign_in(page, "finance")
    await page.goto(f"/console/purchase-orders/{number}")
    await page.get_by_role("button", name="以财务身份审批通过").click()
    await expect(page.locator("#done")).to_have_text("审批已提交")
    await expect(page.locator("#still-to-approve")).to_have_count(0)

    buyer = await staff(api, "purchasing")
    po = await sent(api, number, buyer)
    receipt = {
        "receipt_key": "browser",
        "warehouse_id": sh,
        "location_id": await location_in(stack, "SH01"),
        "lines": [
            {"line_no": ln["line_no"], "sku_id": ln["sku_id"], "received": ln["quantity"],
             "accepted": ln["quantity"], "batch_no": "B-WEB"}
            for ln in po["lines"]
        ],
    }  # fmt: skip
    received = await api.post(f"/v1/purchase-orders/{number}/receipts", json=receipt,
                              headers=DEVICE["SH01"])  # fmt: skip
    assert received.status_code == 201, received.text
    await wait_po(api, number, "closed", buyer)

    await page.goto(f"/console/purchase-orders/{number}")
    await expect(page.locator("#po-status")).to_contain_text("全部到货")
    await page.locator("#book-invoice").click()
    await page.get_by_label("发票号").fill("INV-WEB-1")
    await page.get_by_role("button", name="登记并匹配").click()
    await expect(page.locator("#done")).to_have_text("发票已登记")
    amount = po["amount_fen"]
    shown = f"¥{amount // 100:,}.{amount % 100:02d}"
    await expect(page.locator("#expected")).to_have_text(shown)
    await expect(page.locator("#invoiced")).to_have_text(shown)
    await expect(page.locator("#matched")).to_have_text("匹配一致，无差异")
    await expect(page.locator("#invoice-status")).to_have_text("待付款")
