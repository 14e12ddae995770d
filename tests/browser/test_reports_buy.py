"""The purchasing and finance reports in real Chromium: filters applied from the form, the
charts drawn by the vendored ECharts under the console's CSP, the figures of a data set made by
the processes. The pages are photographed for the README (.houtai/screenshots/report-*.png)."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect

from console.money import format_fen
from tests.api.test_reconciliation import paid_and_refunded
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_inbox_journeys import sign_in
from tests.support import totp
from tests.support.order_api import refunds, skus_in
from tests.support.reports_buy import buying
from tests.support.stack import Stack


async def test_the_purchasing_and_finance_reports_draw_their_charts(
    page: Page, stack: Stack, api: httpx.AsyncClient
) -> None:
    b = await buying(stack, api)
    [sku] = await skus_in(stack, "SH01")
    cancelled = await paid_and_refunded(stack, api, sku, "rep-browser")
    [refund] = await refunds(stack, cancelled)

    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.goto("/console/")
    await sign_in(page, "finance", await totp.code(api, "finance"))
    await page.goto("/console/reports/purchasing")
    await expect(page.get_by_role("heading", name="采购报表")).to_be_visible()
    form = page.locator("#report-filters")
    await form.locator('input[name="supplier_id"]').fill(str(b.supplier))
    await form.locator('input[name="sku_id"]').fill(str(b.sku_a))
    await form.get_by_role("button").click()
    await expect(page.locator("#fill-total")).to_have_text("57.9%")
    await expect(page.locator("#on-time-total")).to_have_text("50.0%")
    for chart in ("#chart-fill", "#chart-prices"):
        await expect(page.locator(f"{chart}[data-drawn='true'] svg")).to_have_count(1)
    await expect(page.locator("#price-table tbody tr")).to_have_count(1)
    await expect(page.locator("#price-table tbody tr td").nth(4)).to_have_text("¥2.68")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "report-purchasing.png"), full_page=True)

    await page.goto("/console/reports/finance")
    await expect(page.get_by_role("heading", name="财务报表")).to_be_visible()
    await expect(page.locator("#chart-refunds[data-drawn='true'] svg")).to_have_count(1)
    await expect(page.locator("#refund-total")).to_have_text(format_fen(refund.amount_fen))
    await expect(page.locator("#refund-table tbody tr td").nth(1)).to_have_text("订单取消")
    await page.screenshot(path=str(SCREENSHOTS / "report-finance.png"), full_page=True)
