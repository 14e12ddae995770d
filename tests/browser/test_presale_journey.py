"""A presale journey in real Chromium: ops create a presale with the form (price and deposit
typed as text, times in Shanghai time, the rules), watch its page count a buyer's deposit live,
see the balance window open on its own and the balance paid, then stop it early."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from playwright.async_api import Page, expect
from sqlalchemy import select

from models.db import Presale, Sku
from models.domain.business_day import BUSINESS_TZ
from tests.browser.conftest import SCREENSHOTS
from tests.support.order_api import http, skus_in
from tests.support.presales import buy_presale, pay_stage, wait_step
from tests.support.stack import Stack
from workers.seed import DEMO_PASSWORD

OPENS_IN = timedelta(seconds=25)


async def test_create_watch_the_window_open_and_stop_a_presale(
    page: Page, stack: Stack, api: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    async with stack.sessions() as session:
        code = await session.scalar(select(Sku.code).where(Sku.id == sku))
    assert code is not None
    now = datetime.now(BUSINESS_TZ)

    await page.goto("/console/login?next=%2Fconsole%2Fpresales%2Fnew")
    await page.get_by_label("用户名").fill("ops")
    await page.get_by_label("密码", exact=True).fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await expect(page.get_by_role("heading", name="新建预售")).to_be_visible()

    await page.get_by_label("名称").fill("新品首发预售")
    await page.get_by_label("SKU", exact=True).fill(code)
    await page.get_by_label("预售价").fill("9.9")
    await page.get_by_label("每件定金").fill("2")
    local = "%Y-%m-%dT%H:%M:%S"
    await page.get_by_label("定金开始").fill((now - timedelta(minutes=1)).strftime(local))
    await page.get_by_label("尾款开始").fill((now + OPENS_IN).strftime(local))
    await page.get_by_label("尾款截止").fill((now + timedelta(hours=2)).strftime(local))
    await page.get_by_label("未付尾款扣定金比例 (%)").fill("100")
    await page.get_by_label("尾款期前取消退定金比例 (%)").fill("50")
    await page.get_by_role("button", name="创建并排期").click()

    await expect(page.locator("#done")).to_contain_text("已创建")
    await expect(page.locator("#presale-price")).to_have_text("¥9.90")
    await expect(page.locator("#presale-deposit")).to_have_text("¥2.00")
    await expect(page.locator("#presale-phase")).to_have_text("付定金中")

    async with stack.sessions() as session:
        sale_id = await session.scalar(select(Presale.id).where(Presale.name == "新品首发预售"))
    assert sale_id is not None
    bought = await buy_presale(api, sale_id, sku, customer_id=78, key="browser-pre-78")
    assert bought.status_code == 201, bought.text
    order_no = bought.json()["order_no"]
    await expect(page.locator("#fig-awaiting")).to_have_text("1", timeout=30_000)  # live
    async with http(stack.payments) as provider:
        await pay_stage(api, provider, order_no)
        await expect(page.locator("#fig-deposits")).to_have_text("1 · ¥2.00", timeout=30_000)
        # The window opens at its time, on its own: the page follows.
        await expect(page.locator("#presale-phase")).to_have_text("付尾款中", timeout=60_000)
        await wait_step(api, order_no, "balance_window_opened")
        balance = await pay_stage(api, provider, order_no)
    assert balance["amount_fen"] == bought.json()["payable_fen"] - 200
    await expect(page.locator("#fig-balances")).to_contain_text("1 · ¥", timeout=30_000)

    await page.get_by_label("原因").fill("备货不足")
    await page.get_by_role("button", name="立即停止").click()
    await expect(page.locator("#done")).to_contain_text("已停止")
    await expect(page.locator("#presale-phase")).to_have_text("已停止")
    await expect(page.locator("#stop")).to_have_count(0)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / "presale-detail.png", full_page=True)
