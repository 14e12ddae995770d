"""The sales report in real Chromium: the filters chosen in the form, the chart drawn by the
vendored ECharts under the console's CSP (lines per figure over time, then bars per province),
the totals of sales made through the real services. Photographed for the README
(.houtai/screenshots/report-sales.png)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.async_api import Page, expect

from console.money import format_fen
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_journeys import sign_in
from tests.support import sales
from tests.support.stack import Stack


async def test_the_sales_report_draws_its_chart_and_splits_by_province(
    page: Page, stack: Stack
) -> None:
    now = datetime.now(UTC)
    async with stack.sessions() as session:
        (s1, c1, _), (s2, c2, _) = await sales.skus(session)
        shop = await sales.storefront(session)
        lines = [sales.line(1, s1, c1, 2, 1990, 0), sales.line(2, s2, c2, 1, 5000, 500)]
        await sales.order(session, "SO-BSALES-A", shop, "310115", lines, 0, now - timedelta(days=3))
        more = [sales.line(1, s1, c1, 3, 1990, 0)]
        await sales.order(
            session, "SO-BSALES-B", shop, "440305", more, 1000, now - timedelta(days=1)
        )
        await sales.pay(session, "SO-BSALES-A", 8480)
        await sales.pay(session, "SO-BSALES-B", 6970)
        await sales.refund(session, "SO-BSALES-B", "RF-BSALES-B", 1990)

    await page.goto("/console/reports/sales")
    await sign_in(page, "ops")
    await expect(page.get_by_role("heading", name="销售报表")).to_be_visible()
    await expect(page.locator("#chart-sales[data-drawn='true'] svg")).to_have_count(1)
    totals = page.locator("#sales-totals")
    await expect(totals.locator('[data-figure="gmv_fen"]')).to_have_text(format_fen(14950))
    await expect(totals.locator('[data-figure="paid_fen"]')).to_have_text(format_fen(15450))
    await expect(totals.locator('[data-figure="net_fen"]')).to_have_text(format_fen(13460))

    await page.locator('select[name="by"]').select_option("week")
    await page.locator('select[name="dimension"]').select_option("province")
    await page.locator("#sales-filters button[type=submit]").click()
    await expect(page.locator("#chart-sales[data-drawn='true'] svg")).to_have_count(1)
    await expect(page.locator("#sales-table tbody")).to_contain_text("广东")
    await expect(page.locator("#sales-table tbody")).to_contain_text("上海")
    await expect(page.locator("#chart-sales")).to_contain_text("广东")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.screenshot(path=str(SCREENSHOTS / "report-sales.png"), full_page=True)
