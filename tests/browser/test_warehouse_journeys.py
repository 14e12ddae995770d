"""Warehouse journeys in real Chromium: a manager plans a wave and watches its progress move
while devices pick (htmx polls the fragment, no reload); a stock adjustment whose new figure
shows at once."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect
from sqlalchemy import select

from models.db import LocationStock, Stock
from tests.browser.test_journeys import sign_in
from tests.support.order_api import only_in, paid_order, warehouse_id
from tests.support.orders import device_for
from tests.support.picking import pick_everything, sort_wave
from tests.support.stack import Stack


async def test_plan_a_wave_and_watch_its_progress(
    page: Page, stack: Stack, api: httpx.AsyncClient
) -> None:
    sh01 = await warehouse_id(stack, "SH01")
    await paid_order(stack, api, [(await only_in(stack, "SH01"), 3)], key="browser-wave")

    await page.goto("/console/waves")
    await sign_in(page, "warehouse_manager")
    await expect(page.get_by_role("heading", name="波次", exact=True)).to_be_visible()
    await page.locator("#plan select[name=warehouse_id]").select_option(str(sh01))
    await page.locator("#plan-now").click()
    done = page.locator("#done")
    await expect(done).to_contain_text("已生成 1 个波次")
    await done.get_by_role("link").click()
    await expect(page.locator("#wave-status")).to_contain_text("拣货中")
    await expect(page.locator("#task-table tbody tr[data-task]")).to_have_count(1, timeout=30_000)
    await expect(page.locator("#units-picked")).to_contain_text("0 / 3")

    device = await device_for(api, sh01)
    wave_no = page.url.rsplit("/", 1)[1]
    await pick_everything(api, device)
    await sort_wave(api, device, wave_no)

    # No reload: the page polls its progress fragment and swaps it in.
    await expect(page.locator("#units-picked")).to_contain_text("3 / 3", timeout=30_000)
    await expect(page.locator("#tasks-done")).to_have_text("1")
    await expect(page).to_have_url(f"{stack.api}/console/waves/{wave_no}")


async def test_a_stock_adjustment_shows_its_new_figure_at_once(page: Page, stack: Stack) -> None:
    sh01 = await warehouse_id(stack, "SH01")
    sku = await only_in(stack, "SH01")
    async with stack.sessions() as session:
        batch = (
            await session.scalars(
                select(LocationStock).where(
                    LocationStock.sku_id == sku, LocationStock.warehouse_id == sh01
                )
            )
        ).first()
        stock = await session.get(Stock, (sku, sh01))
    assert batch is not None and stock is not None

    await page.goto(f"/console/stock/{sku}/{sh01}")
    await sign_in(page, "warehouse_manager")
    await expect(page.locator("#on-hand")).to_have_text(str(stock.on_hand))
    form = page.locator("#adjust")
    await form.locator("select[name=location_id]").select_option(str(batch.location_id))
    await form.get_by_label("调整数量").fill("-4")
    await form.get_by_label("批次号").fill(batch.batch_no)
    await form.get_by_label("原因").fill("破损报废")
    await form.get_by_role("button", name="提交调整").click()

    await expect(page.locator("#done")).to_have_text("库存已调整")
    await expect(page.locator("#on-hand")).to_have_text(str(stock.on_hand - 4))
    first = page.locator("#movement-table tbody tr").first
    await expect(first).to_contain_text("调整减少")
    await expect(first).to_contain_text("-4")
    await expect(first).to_contain_text("破损报废")
