"""Journeys of the after-sales queue and the inbox, in real Chromium: an after-sale approved from
the console; sign in → inbox → a PO approved in two tiers (purchasing manager, then finance)."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect

from tests.support import totp
from tests.support.after_sale_api import delivered, open_after_sale, shown_as
from tests.support.order_api import http, only_in, staff, warehouse_id
from tests.support.orders import eventually
from tests.support.purchasing import supplier_with_products
from tests.support.stack import Stack
from workers.seed import DEMO_PASSWORD


async def sign_in(page: Page, username: str, code: str | None = None) -> None:
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码", exact=True).fill(DEMO_PASSWORD)
    if code is not None:
        await page.get_by_label("动态验证码（管理员、财务必填）").fill(code)
    await page.get_by_role("button", name="登录").click()


async def test_cs_approves_an_after_sale_from_the_queue_and_sees_it_refunded(
    page: Page, stack: Stack, api: httpx.AsyncClient
) -> None:
    sku = await only_in(stack, "SH01")
    async with http(stack.carrier) as carrier:
        order = await delivered(stack, api, carrier, [(sku, 2)], key="browser-as")
    as_no = await open_after_sale(api, order["order_no"], "browser-as", "refund_only", [(1, 1)])

    await page.goto("/console/after-sales")
    await sign_in(page, "cs")
    await expect(page).to_have_url(f"{stack.api}/console/after-sales")
    await page.get_by_label("类型").select_option("refund_only")  # htmx swaps the rows
    await expect(page).to_have_url(f"{stack.api}/console/after-sales?type=refund_only")
    await expect(page.locator("#after-sale-table tbody tr")).to_have_count(1)
    await page.get_by_role("link", name=as_no).click()

    await expect(page.get_by_role("heading", name=f"售后单 {as_no}")).to_be_visible()
    await expect(page.locator("#as-status")).to_have_text("待审核")
    await page.get_by_label("同意").check()
    await page.get_by_label("我确认提交此审核结果").check()
    await page.get_by_role("button", name="提交审核").click()
    await expect(page.locator("#done")).to_have_text("已同意该售后申请")

    refunded = await shown_as(api, as_no, "refunded")

    async def shown_refunded() -> bool | None:
        await page.reload()
        return True if await page.locator("#as-status").inner_text() == "已退款" else None

    await eventually(shown_refunded, f"{as_no} refunded on its page")
    fen = refunded["refund_fen"]
    await expect(page.locator("#refund")).to_have_text(f"¥{fen // 100:,}.{fen % 100:02d}")
    await expect(page.locator("#decision")).to_have_count(0)


async def test_sign_in_open_the_inbox_and_approve_a_po_in_two_tiers(
    page: Page, stack: Stack, api: httpx.AsyncClient
) -> None:
    supplier, [sku, _] = await supplier_with_products(stack)
    sh = await warehouse_id(stack, "SH01")
    buyer = await staff(api, "purchasing")
    body = {
        "supplier_id": supplier,
        "lines": [{"sku_id": sku, "warehouse_id": sh, "quantity": 2000, "unit_price_fen": 2500}],
    }
    created = await api.post("/v1/purchase-orders", json=body, headers=buyer)
    assert created.status_code == 201, created.text
    number = created.json()["po_no"]
    submitted = await api.post(f"/v1/purchase-orders/{number}/submit", headers=buyer)
    assert sorted(submitted.json()["required_roles"]) == ["finance", "purchasing_manager"]
    row = page.locator(f'tr[data-item="po_approval:{number}"]')

    await page.goto("/console/login")
    await sign_in(page, "purchasing_manager")
    await page.locator('nav.menu a[href="/console/inbox"]').click()
    await expect(page.get_by_role("heading", name="我的待办")).to_be_visible()
    await expect(row).to_contain_text("¥50,000.00")
    await expect(row).to_contain_text("采购经理")  # the tier this person approves
    await page.get_by_label(f"确认处理 {number}").check()
    await page.get_by_role("button", name=f"提交 {number}").click()
    await expect(page.locator("#done")).to_have_text(f"{number} 已处理")
    await expect(row).to_have_count(0)
    await page.get_by_role("button", name="退出登录").click()

    await page.goto("/console/inbox")
    await sign_in(page, "finance", await totp.code(api, "finance"))
    await expect(page).to_have_url(f"{stack.api}/console/inbox")
    await expect(row).to_contain_text("财务")
    await page.get_by_label(f"确认处理 {number}").check()
    await page.get_by_role("button", name=f"提交 {number}").click()
    await expect(page.locator("#done")).to_have_text(f"{number} 已处理")
    await expect(row).to_have_count(0)

    shown = (await api.get(f"/v1/purchase-orders/{number}", headers=buyer)).json()
    assert shown["status"] in ("approved", "sent")
    assert sorted(shown["approvals"]) == ["finance", "purchasing_manager"]
