"""Journeys a person makes in the console, in real Chromium."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import httpx
from playwright.async_api import Page, expect

from tests.support import totp
from tests.support.api import bearer, login
from tests.support.order_api import lines_of, order_body, pay, place_order, skus_in, view
from tests.support.orders import ADDRESS, eventually
from tests.support.stack import Stack
from workers.seed import DEMO_PASSWORD


async def sign_in(page: Page, username: str) -> None:
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码", exact=True).fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="登录").click()


async def test_sign_in_filter_open_an_order_cancel_it_and_see_the_refund(
    page: Page, stack: Stack, api: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    order = await place_order(api, order_body(lines_of((sku, 2)), key="browser", customer_id=4242))
    number = order["order_no"]
    async with httpx.AsyncClient(base_url=stack.payments) as provider:
        await pay(api, provider, number)

    async def paid() -> bool | None:
        return True if (await view(api, number))["paid_fen"] > 0 else None

    await eventually(paid, f"{number} paid")
    await place_order(api, order_body(lines_of((sku, 1)), key="browser-other", customer_id=4343))

    await page.goto("/console/orders")
    await expect(page).to_have_url("/console/login?next=%2Fconsole%2Forders")
    await sign_in(page, "cs")
    await expect(page).to_have_url(f"{stack.api}/console/orders")
    await expect(page.locator("#order-table tbody tr")).to_have_count(2)

    await page.get_by_label("客户 ID").fill("4242")
    await page.get_by_label("客户 ID").press("Enter")  # htmx swaps the rows, keeps the URL
    await expect(page.locator("#order-table tbody tr")).to_have_count(1)
    await expect(page).to_have_url(f"{stack.api}/console/orders?customer_id=4242")
    await page.get_by_role("link", name=number).click()
    await expect(page.get_by_role("heading", name=f"订单 {number}")).to_be_visible()
    # The back button returns to the filtered list (htmx pushed its URL), then forward again.
    await page.go_back()
    await expect(page).to_have_url(f"{stack.api}/console/orders?customer_id=4242")
    await expect(page.locator("#order-table tbody tr")).to_have_count(1)
    await expect(page.get_by_label("客户 ID")).to_have_value("4242")
    await page.go_back()
    await expect(page.locator("#order-table tbody tr")).to_have_count(2)
    await page.go_forward()
    await expect(page.locator("#order-table tbody tr")).to_have_count(1)
    await page.get_by_role("link", name=number).click()

    await expect(page.get_by_role("heading", name=f"订单 {number}")).to_be_visible()
    await page.get_by_label("我确认要取消此订单").check()
    await page.get_by_role("button", name="取消订单").click()
    await expect(page.locator("#done")).to_have_text("订单已取消")

    async def refunded() -> bool | None:
        await page.reload()
        shown = await page.locator("#refunded").inner_text()
        return True if shown != "¥0.00" else None

    await eventually(refunded, f"{number} refund shown")
    expected = (await view(api, number))["paid_fen"]
    await expect(page.locator("#refunded")).to_have_text(
        f"¥{expected // 100:,}.{expected % 100:02d}"
    )
    await expect(page.locator("#order-status")).to_contain_text("已取消")


async def test_an_export_of_a_filtered_list_holds_exactly_its_rows(
    page: Page, stack: Stack, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    sku_a, sku_b = await skus_in(stack, "SH01", 2)
    mine = {
        (await place_order(api, order_body(lines_of((sku_a, n)), key=f"x{n}", customer_id=5151)))[
            "order_no"
        ]
        for n in (1, 2)
    }
    await place_order(api, order_body(lines_of((sku_b, 1)), key="y", customer_id=5252))

    await page.goto("/console/login")
    await sign_in(page, "ops")
    await page.goto("/console/orders?customer_id=5151")
    async with page.expect_download() as started:
        await page.locator("#export-csv").click()
    download = await started.value
    target = tmp_path / "orders.csv"
    await download.save_as(target)

    rows = list(csv.reader(io.StringIO(target.read_text("utf-8-sig"))))
    assert rows[0][0] == "订单号"
    assert {r[0] for r in rows[1:]} == mine and len(rows) == 3


async def test_the_language_switch_keeps_the_page(page: Page, stack: Stack) -> None:
    await page.goto("/console/login?next=%2Fconsole%2Forders")
    await sign_in(page, "warehouse_manager")
    await expect(page.get_by_role("heading", name="订单")).to_be_visible()

    await page.locator("#lang-switch").click()

    await expect(page).to_have_url(f"{stack.api}/console/orders")
    await expect(page.get_by_role("heading", name="Orders")).to_be_visible()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    await page.locator("#lang-switch").click()
    await expect(page.get_by_role("button", name="退出登录")).to_be_visible()


async def test_a_new_admin_enrols_a_second_factor_and_lands_on_the_page_asked_for(
    page: Page, stack: Stack, api: httpx.AsyncClient
) -> None:
    demo = await login(api, "admin", DEMO_PASSWORD)
    created = await api.post(
        "/v1/admin/users",
        json={"username": "admin.web", "display_name": "Web Admin", "password": DEMO_PASSWORD,
              "roles": ["admin"]},
        headers=bearer(demo.json()["access_token"]),
    )  # fmt: skip
    assert created.status_code == 201, created.text
    totp.enrolled("admin.web", None)

    await page.goto("/console/orders")
    await sign_in(page, "admin.web")
    await expect(page.get_by_role("heading", name="绑定动态验证码")).to_be_visible()
    await expect(page).to_have_url(f"{stack.api}/console/totp?next=%2Fconsole%2Forders")
    qr = page.locator("#totp-qr")
    await expect(qr).to_be_visible()
    assert await qr.evaluate("img => img.complete && img.naturalWidth > 100")  # the PNG loaded

    # (A wrong code is refused with a 422 page, which the CSP watcher counts as a console
    # error: tests/console/test_second_factor.py covers it over HTTP.)
    totp.enrolled("admin.web", await secret_on(page))  # what a phone scanning it would hold
    code = await totp.code(page, "admin.web")
    assert code is not None
    await page.get_by_label("6 位验证码").fill(code)
    await page.get_by_role("button", name="完成绑定").click()
    await expect(page).to_have_url(f"{stack.api}/console/orders")
    await expect(page.get_by_role("heading", name="订单")).to_be_visible()
    await expect(page.locator('nav.menu a[data-menu="orders.read"]').first).to_be_visible()


async def secret_on(page: Page) -> str:
    return (await page.locator("#totp-secret").inner_text()).strip()


async def test_cs_reveals_an_orders_contact_in_place(
    page: Page, stack: Stack, api: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    number = (await place_order(api, order_body(lines_of((sku, 1)), key="reveal")))["order_no"]

    await page.goto(f"/console/orders/{number}")
    await sign_in(page, "cs")
    await expect(page.locator("#contact-phone")).to_have_text("138****0000")
    await page.get_by_role("button", name="显示完整联系方式").click()

    await expect(page.locator("#contact-phone")).to_have_text(ADDRESS["phone"])
    await expect(page.locator("#contact-revealed")).to_be_visible()
    await expect(page.get_by_role("button", name="显示完整联系方式")).to_have_count(0)
    await expect(page).to_have_url(f"{stack.api}/console/orders/{number}")  # htmx swapped it
