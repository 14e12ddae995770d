"""A person's members journeys in real Chromium: find a customer by phone, open their page and
reveal the phone (audited); create a segment, issue a coupon to it and watch the batch's
progress reach done without reloading."""

from __future__ import annotations

import httpx
from playwright.async_api import Page, expect
from sqlalchemy import func, select

from models.db import AuditEntry, CustomerCoupon
from tests.browser.test_journeys import sign_in
from tests.support.members import a_coupon, upsert
from tests.support.order_api import lines_of, only_in, order_body, place_order
from tests.support.stack import Stack


async def test_search_a_customer_open_the_page_and_reveal_the_phone(
    page: Page, stack: Stack, api: httpx.AsyncClient
) -> None:
    sku = await only_in(stack, "SH01")
    number = (await place_order(api, order_body(lines_of((sku, 1)), key="b1", customer_id=91)))[
        "order_no"
    ]
    me = await upsert(api, 91, "欧阳修", "13512345678")
    await upsert(api, 92, "苏轼", "18600000000")

    await page.goto("/console/members/customers")
    await sign_in(page, "cs")
    await expect(page.locator("#customer-table tbody tr")).to_have_count(2)
    await page.get_by_label("搜索").fill("1351")
    await page.get_by_label("搜索").press("Enter")  # htmx swaps the rows, pushes the URL
    await expect(page.locator("#customer-table tbody tr")).to_have_count(1)
    await expect(page).to_have_url(f"{stack.api}/console/members/customers?q=1351")
    await expect(page.locator("#customer-table")).to_contain_text("135****5678")
    await page.get_by_role("link", name="91", exact=True).click()

    await expect(page.get_by_role("heading", name="会员 91")).to_be_visible()
    await expect(page.locator("#customer-phone")).to_have_text("135****5678")
    await expect(page.locator("#customer-orders")).to_contain_text(number)
    await page.get_by_role("button", name="显示完整联系方式").click()
    await expect(page.locator("#customer-phone")).to_have_text("13512345678")
    await expect(page.locator("#contact-revealed")).to_be_visible()
    async with stack.sessions() as session:
        reveals = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.action == "customer.reveal_contact",
                AuditEntry.object_id == str(me["id"]),
            )
        )
    assert reveals == 1


async def test_a_segment_gets_a_coupon_and_the_progress_reaches_done(
    page: Page, stack: Stack, api: httpx.AsyncClient
) -> None:
    for key in range(101, 106):
        await upsert(api, key, f"会员{key}", f"1390000{key:04d}")
    await a_coupon(stack, "SLEEPY10")

    await page.goto("/console/members/segments")
    await sign_in(page, "ops")
    await page.get_by_label("名称").fill("沉睡会员")
    await page.locator("#rule-idle").check()
    await page.locator("#segment-idle_days").fill("180")
    await page.get_by_role("button", name="创建人群").click()
    await expect(page.get_by_role("heading", name="人群：沉睡会员")).to_be_visible()
    await expect(page.locator("#segment-members")).to_have_text("5")

    await page.get_by_label("优惠券").select_option(label="SLEEPY10")
    await page.get_by_role("button", name="发放给 5 位会员").click()
    await expect(page.locator("#done")).to_be_visible()
    batch = page.locator("#batch-table tbody tr").first
    await expect(batch).to_have_attribute("data-status", "done", timeout=30_000)
    await expect(batch.locator(".batch-issued")).to_have_text("已发 5 / 5")
    async with stack.sessions() as session:
        given = await session.scalar(
            select(func.count(CustomerCoupon.customer_id.distinct())).select_from(CustomerCoupon)
        )
    assert given == 5
