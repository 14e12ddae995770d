"""The stock and warehouse reports in real Chromium: after a package is picked, packed and
shipped, each report page draws its chart with the vendored ECharts under the console's CSP and
shows its table; every page is photographed for the README
(.houtai/screenshots/report-<name>.png: report-stock.png, report-warehouse.png, ...)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
from playwright.async_api import Page, expect

from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_journeys import sign_in
from tests.support.order_api import only_in, paid_order, staff
from tests.support.orders import pack_and_hand_over
from tests.support.stack import Stack

SHANGHAI = timezone(timedelta(hours=8))  # business days are Asia/Shanghai's (fixed +08:00)

PAGES = {
    "stock": "库存金额报表",
    "stock-aging": "库龄与效期",
    "stock-cover": "可售天数",
    "dead-stock": "呆滞库存",
    "stock-outs": "缺货天数",
    "warehouse": "仓库作业报表",
    "warehouse-pickers": "拣货效率",
}


async def test_each_report_page_draws_its_chart_and_is_photographed(
    page: Page, stack: Stack, api: httpx.AsyncClient
) -> None:
    order = await paid_order(stack, api, [(await only_in(stack, "SH01"), 2)], key="report-web")
    [parcel] = order["packages"]
    await pack_and_hand_over(api, parcel)  # picked in a wave, weighed, shipped

    await page.goto("/console/")
    await sign_in(page, "ops")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.set_viewport_size({"width": 1280, "height": 900})
    for name, title in PAGES.items():
        await page.goto(f"/console/reports/{name}")
        await expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
        await expect(page.locator(f"#chart-{name}[data-drawn='true'] svg")).to_have_count(1)
        await page.screenshot(path=str(SCREENSHOTS / f"report-{name}.png"), full_page=True)
    # The shipped units show: shipped today in SH01, so that SKU has a days-of-cover figure.
    await page.goto("/console/reports/stock-cover?sort=-units_out")
    first = page.locator("#report-table tbody tr").first
    await expect(first.locator("td").nth(3)).to_have_text("2")
    # A wave done counts on its cutoff's business day, which is tomorrow once today's last
    # reachable cutoff has passed (after about 17:00 in Shanghai): ask for that day.
    waves = await api.get(
        "/v1/waves",
        params={"warehouse_id": parcel["warehouse_id"], "status": "done"},
        headers=await staff(api, "ops"),
    )
    [wave] = waves.json()["data"]
    cutoff_day = datetime.fromisoformat(wave["cutoff_at"]).astimezone(SHANGHAI).date()
    await page.goto(f"/console/reports/warehouse?date_to={cutoff_day.isoformat()}")
    await expect(page.locator('[data-total="waves_done"] dd')).to_have_text("1")
    await expect(page.locator('[data-total="weight_hold_pct"] dd')).to_have_text("0.0%")
