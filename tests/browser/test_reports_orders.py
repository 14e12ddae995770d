"""The orders and after-sales reports in real Chromium on the hand-computed data set: the
charts drawn by the vendored ECharts (dashboard.js) under the console's CSP, the figures in the
tables, a filter applied through the form; each page photographed for the README
(.houtai/screenshots/report-orders.png, report-after-sales.png)."""

from __future__ import annotations

from playwright.async_api import Page, expect
from sqlalchemy import text

from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_journeys import sign_in
from tests.support.report_orders import make_data_set
from tests.support.stack import Stack

WINDOW = "date_from=2026-11-29&date_to=2026-12-02"


async def test_the_report_pages_draw_their_charts_and_show_the_figures(
    page: Page, stack: Stack
) -> None:
    async with stack.sessions() as session:
        sku = int(await session.scalar(text("SELECT min(id) FROM skus")) or 0)
        sh, gz = (
            int(w)
            for w in (await session.scalars(text("SELECT id FROM warehouses ORDER BY id LIMIT 2")))
        )
    await make_data_set(stack.sessions, sku, sh, gz)
    await page.goto("/console/")
    await sign_in(page, "ops")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.set_viewport_size({"width": 1280, "height": 900})

    await page.goto(f"/console/reports/orders?{WINDOW}")
    await expect(page.get_by_role("heading", name="订单报表")).to_be_visible()
    await expect(page.locator("#chart-report-orders[data-drawn='true'] svg")).to_have_count(1)
    await expect(page.locator('#funnel-totals [data-step="placed"] strong')).to_have_text("7")
    await expect(page.locator("#cancel-table tbody tr")).to_have_count(5)
    await expect(page.locator("#handover-totals")).to_contain_text("p90 1447.2")
    await page.screenshot(path=str(SCREENSHOTS / "report-orders.png"), full_page=True)
    await page.locator("#report-filters select[name=by]").select_option("week")
    await page.locator("#report-filters button[type=submit]").click()
    await expect(page).to_have_url(f"{stack.api}/console/reports/orders?"
                                   f"{WINDOW}&by=week&api_key_id=&warehouse_id=")  # fmt: skip
    await expect(page.locator("#funnel-table tbody tr")).to_have_count(3)

    await page.goto(f"/console/reports/after-sales?{WINDOW}")
    await expect(page.get_by_role("heading", name="售后报表")).to_be_visible()
    await expect(page.locator("#chart-report-after-sales[data-drawn='true'] svg")).to_have_count(1)
    await expect(page.locator('#after-sale-totals [data-total="rate"] strong')).to_have_text(
        "57.1%"
    )
    await expect(page.locator("#reason-table tbody tr")).to_have_count(2)
    await page.screenshot(path=str(SCREENSHOTS / "report-after-sales.png"), full_page=True)
