"""A flash sale journey in real Chromium: ops create a sale with the form (price typed as text,
window in Shanghai time), watch its page count a storefront buyer's order live, and stop it
early; the unsold units are back in sellable stock."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from playwright.async_api import Page, expect
from sqlalchemy import select

from models.db import FlashSale, Sku, Stock
from models.domain.business_day import BUSINESS_TZ
from tests.support.flash_sales import buy
from tests.support.order_api import skus_in, warehouse_id
from tests.support.stack import Stack
from workers.seed import DEMO_PASSWORD


async def test_create_watch_and_stop_a_flash_sale(
    page: Page, stack: Stack, api: httpx.AsyncClient
) -> None:
    sh = await warehouse_id(stack, "SH01")
    [sku] = await skus_in(stack, "SH01")
    async with stack.sessions() as session:
        code = await session.scalar(select(Sku.code).where(Sku.id == sku))
        before = await session.get(Stock, (sku, sh))
        assert before is not None and code is not None
        on_hand, reserved = before.on_hand, before.reserved
    now = datetime.now(BUSINESS_TZ)

    await page.goto("/console/login?next=%2Fconsole%2Fflash-sales%2Fnew")
    await page.get_by_label("用户名").fill("ops")
    await page.get_by_label("密码", exact=True).fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await expect(page.get_by_role("heading", name="新建秒杀")).to_be_visible()

    await page.get_by_label("名称").fill("整点秒杀")
    await page.get_by_label("SKU", exact=True).fill(code)
    await page.get_by_label("仓库").select_option(str(sh))
    await page.get_by_label("秒杀价").fill("0.5")
    await page.get_by_label("从可售库存划出的数量").fill("4")
    await page.get_by_label("每人限购").fill("1")
    await page.get_by_label("开始时间").fill(
        (now - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
    )
    await page.get_by_label("结束时间").fill(
        (now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S")
    )
    await page.get_by_role("button", name="创建并排期").click()

    await expect(page.locator("#done")).to_contain_text("已创建")
    await expect(page.locator("#flash-price")).to_have_text("¥0.50")
    await expect(page.locator("#flash-status")).to_have_text("进行中", timeout=30_000)
    await expect(page.locator("#fig-total")).to_have_text("4")

    async with stack.sessions() as session:
        sale_id = await session.scalar(select(FlashSale.id).where(FlashSale.name == "整点秒杀"))
    assert sale_id is not None
    bought = await buy(api, sale_id, sku, customer_id=77, key="browser-77")
    assert bought.status_code == 201, bought.text
    await expect(page.locator("#fig-sold")).to_have_text("1", timeout=30_000)  # live
    await expect(page.locator("#fig-remaining")).to_have_text("3")
    await expect(page.locator("#fig-unpaid")).to_have_text("1 / 1")

    await page.get_by_label("原因").fill("提前结束")
    await page.get_by_role("button", name="立即结束").click()
    await expect(page.locator("#done")).to_contain_text("已结束")
    await expect(page.locator("#flash-status")).to_have_text("已结束")
    await expect(page.locator("#fig-returned")).to_have_text("3")
    await expect(page.locator("#stop")).to_have_count(0)

    async with stack.sessions() as session:
        after = await session.get(Stock, (sku, sh), populate_existing=True)
    assert after is not None
    assert (after.on_hand, after.reserved) == (on_hand, reserved + 1)  # only the order's unit
