"""A group-buy journey in real Chromium: ops create an offer with the form (price as text,
times in Beijing time), watch its page update by itself as a buyer opens a group (the page
polls), and stop the offer early: the notice says so and the group turns failed on the page
without a reload; the buyer's order is cancelled."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from playwright.async_api import Page, expect
from sqlalchemy import select

from models.db import Order, Sku
from models.domain.business_day import BUSINESS_TZ
from tests.support.order_api import skus_in
from tests.support.orders import ADDRESS, SHOP, eventually, known_customer
from tests.support.stack import Stack
from workers.seed import DEMO_PASSWORD


async def test_create_watch_and_stop_a_group_buy_offer(
    page: Page, stack: Stack, api: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    async with stack.sessions() as session:
        code = await session.scalar(select(Sku.code).where(Sku.id == sku))
    now = datetime.now(BUSINESS_TZ)

    await page.goto("/console/login?next=%2Fconsole%2Fgroup-buys%2Fnew")
    await page.get_by_label("用户名").fill("ops")
    await page.get_by_label("密码", exact=True).fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await expect(page.get_by_role("heading", name="新建拼团活动")).to_be_visible()

    await page.get_by_label("活动名称").fill("双人团 试用装")
    await page.get_by_label("SKU").fill(str(code))
    await page.get_by_label("拼团价").fill("1,001.5")
    await page.get_by_label("成团人数").fill("2")
    await page.get_by_label("成团时限（小时）").fill("24")
    await page.get_by_label("开始时间").fill((now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_label("结束时间").fill((now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_role("button", name="创建").click()

    await expect(page.locator("#done")).to_have_text("拼团活动已创建。")
    await expect(page.locator("#offer-price")).to_have_text("¥1,001.50")
    await expect(page.locator("#offer-status")).to_have_text("进行中")
    await expect(page.locator("#fig-forming")).to_have_text("0")

    offer_id = page.url.split("/group-buys/")[1].split("?")[0]
    body = {"client_order_key": "bg-1", "customer_id": 901, "address": ADDRESS,
            "offer_id": int(offer_id)}  # fmt: skip
    await known_customer(api, 901)
    opened = await api.post("/v1/group-buys", json=body, headers=SHOP)
    assert opened.status_code == 201, opened.text
    group_no = opened.json()["group"]["group_no"]
    order_no = opened.json()["order"]["order_no"]

    # No reload: the page's live part polls and shows the new group forming.
    await expect(page.locator("#fig-forming")).to_have_text("1", timeout=15_000)
    row = page.locator(f'#group-table tr[data-group="{group_no}"]')
    await expect(row).to_contain_text("拼团中")
    await expect(row).to_contain_text("1/2")

    await page.get_by_label("结束原因").fill("活动调整")
    await page.get_by_role("button", name="提前结束").click()
    await expect(page.locator("#done")).to_contain_text("活动已结束")
    await expect(page.locator("#offer-status")).to_have_text("已提前结束")
    await expect(page.locator(f'#group-table tr[data-group="{group_no}"]')).to_contain_text(
        "已失败", timeout=20_000
    )
    await expect(page.locator("#fig-failed")).to_have_text("1")

    async def cancelled() -> bool | None:
        async with stack.sessions() as session:
            status = await session.scalar(
                select(Order.status)
                .where(Order.order_no == order_no)
                .execution_options(populate_existing=True)
            )
        return status == "cancelled" or None

    await eventually(cancelled, f"order {order_no} cancelled")
