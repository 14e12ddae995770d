"""The bell and the notifications list in real Chromium: a purchasing manager signs in, the bell
(swapped in by htmx) counts the PO waiting on them and a low-stock notice, the list shows both;
reading one lowers the bell, approving the PO moves it to done."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect

from services import notifications
from tests.browser.conftest import photograph
from tests.browser.test_inbox_journeys import sign_in
from tests.support.order_api import staff, warehouse_id
from tests.support.purchasing import supplier_with_products
from tests.support.stack import Stack


async def test_the_bell_leads_to_the_notifications_which_are_read_and_done(
    page: Page, stack: Stack, api: httpx.AsyncClient
) -> None:
    supplier, [sku, _] = await supplier_with_products(stack)
    sh = await warehouse_id(stack, "SH01")
    buyer = await staff(api, "purchasing")
    body = {
        "supplier_id": supplier,
        "lines": [{"sku_id": sku, "warehouse_id": sh, "quantity": 40, "unit_price_fen": 2500}],
    }
    created = await api.post("/v1/purchase-orders", json=body, headers=buyer)
    assert created.status_code == 201, created.text
    number = created.json()["po_no"]
    submitted = await api.post(f"/v1/purchase-orders/{number}/submit", headers=buyer)
    assert submitted.status_code == 200, submitted.text
    async with stack.sessions() as session:  # what a replenishment scan raises
        await notifications.raise_notice(
            session,
            notifications.Notice(kind="low_stock", ref=f"SKU-DEMO@{sh}", step="below-1",
                                 detail="SKU-DEMO: 3 + 0 < 20", warehouse_id=sh),
        )  # fmt: skip
        await session.commit()

    await page.goto("/console/login")
    await sign_in(page, "purchasing_manager")
    count = page.locator("#bell-count")
    await expect(count).to_have_text("2")  # htmx swapped the bell in
    await page.locator("#bell").click()
    await expect(page).to_have_url(f"{stack.api}/console/notifications")
    rows = page.locator("#notification-table tbody tr[data-notification]")
    await expect(rows).to_have_count(2)
    await expect(page.locator(f'tr[data-notification="po_approval:{number}"]')).to_contain_text(
        "¥1,000.00"
    )
    await photograph(page, "console-notifications")

    await page.get_by_role("button", name=f"将 {number} 标为已读").click()
    await expect(page.locator("#bell-count")).to_have_text("1")
    await page.get_by_label("只看未读").check()
    await page.get_by_role("button", name="筛选").click()
    await expect(rows).to_have_count(1)

    approved = await api.post(
        f"/v1/purchase-orders/{number}/approve",
        json={},
        headers=await staff(api, "purchasing_manager"),
    )
    assert approved.status_code == 200, approved.text
    await page.get_by_label("状态").select_option("done")
    await page.get_by_label("只看未读").uncheck()
    await page.get_by_role("button", name="筛选").click()
    await expect(page.locator(f'tr[data-notification="po_approval:{number}"]')).to_contain_text(
        "已处理"
    )
