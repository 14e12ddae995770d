"""The 工作台 in real Chromium: figures of today beside yesterday, the two charts drawn by the
vendored ECharts under the console's CSP, and a tile that opens the list it counts. The page is
also photographed for the README (.houtai/screenshots/console-dashboard.png)."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect

from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_journeys import sign_in
from tests.support.order_api import lines_of, order_body, pay, place_order, skus_in, wait_released
from tests.support.stack import Stack


async def test_the_dashboard_shows_today_and_draws_its_charts(
    page: Page, stack: Stack, api: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    paid = await place_order(api, order_body(lines_of((sku, 3)), key="dash-browser-1"))
    async with httpx.AsyncClient(base_url=stack.payments) as provider:
        await pay(api, provider, paid["order_no"])
    await wait_released(api, paid["order_no"])
    await place_order(api, order_body(lines_of((sku, 1)), key="dash-browser-2"))

    await page.goto("/console/")
    await sign_in(page, "ops")
    await expect(page.get_by_role("heading", name="工作台")).to_be_visible()
    today = page.locator('[data-figure="dashboard.orders.today"] .count')
    await expect(today).to_have_text("2")
    await expect(page.locator('[data-figure="dashboard.orders.paid_today"] .count')).to_have_text(
        f"¥{paid['payable_fen'] // 100:,}.{paid['payable_fen'] % 100:02d}"
    )
    for chart in ("#chart-orders-per-hour", "#chart-paid-per-day"):
        drawn = page.locator(f"{chart}[data-drawn='true'] svg")
        await expect(drawn).to_have_count(1)
    await expect(page.locator("#chart-orders-per-hour")).to_contain_text("今日")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.screenshot(path=str(SCREENSHOTS / "console-dashboard.png"), full_page=True)

    await page.locator('[data-figure="dashboard.orders.awaiting_payment"] a').click()
    await expect(page).to_have_url(f"{stack.api}/console/orders?status=awaiting_payment")
    await expect(page.locator("#order-table tbody tr")).to_have_count(1)
