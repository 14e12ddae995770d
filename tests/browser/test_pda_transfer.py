"""A transfer SH01 → GZ01 end to end in real Chromium: ops request it with the console's form,
SH01's manager approves it on its page, SH01's floor picks it in a wave, the manager ships it,
and GZ01's worker receives it on a handheld at 360x640 by scanning the TR number and the SKU —
one unit damaged. The transfer closes, the stock is where it should be, and the screen is
photographed for the README (.houtai/screenshots/pda-transfer.png)."""

from __future__ import annotations

import re

import httpx
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from models.db import Sku, User
from tests.browser.conftest import HANDHELD, SCREENSHOTS
from tests.browser.test_pda_journey import scan
from tests.support.order_api import DEVICE, skus_in, staff, warehouse_id
from tests.support.stack import Stack
from tests.support.transfers import books, pick_transfer, wait_transfer
from workers.seed import DEMO_PASSWORD


async def sign_in(page: Page, username: str) -> None:
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码", exact=True).fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="登录").click()


async def test_request_approve_pick_ship_and_receive_a_transfer_on_the_handheld(
    page: Page, chrome: Browser, stack: Stack, api: httpx.AsyncClient
) -> None:
    sh, gz = await warehouse_id(stack, "SH01"), await warehouse_id(stack, "GZ01")
    [sku] = await skus_in(stack, "SH01")
    async with stack.sessions() as session:
        code, barcode = (
            await session.execute(select(Sku.code, Sku.barcode).where(Sku.id == sku))
        ).one()
        ops_id = await session.scalar(select(User.id).where(User.username == "ops"))
    start = await books(stack, sku, sh, gz)

    # Ops request it in the console.
    await page.goto("/console/transfers/new")
    await sign_in(page, "ops")
    await expect(page.get_by_role("heading", name="申请调拨")).to_be_visible()
    await page.locator("#from-warehouse").select_option(str(sh))
    await page.locator("#to-warehouse").select_option(str(gz))
    await page.locator("#sku-0").fill(code)
    await page.locator("#quantity-0").fill("3")
    await page.get_by_role("button", name="提交申请").click()
    await expect(page.locator("#done")).to_contain_text("已申请")
    number = re.findall(r"/transfers/(TR\d+)", page.url)[0]

    # SH01's manager approves it on its page.
    manager_context = await chrome.new_context(base_url=stack.api)
    manager = await manager_context.new_page()
    await manager.goto(f"/console/transfers/{number}")
    await sign_in(manager, "warehouse_manager")
    await manager.get_by_role("button", name="通过").click()
    await expect(manager.locator("#done")).to_contain_text("已审批")

    # SH01's floor picks it through a wave; the page watching it shows it picked.
    await pick_transfer(api, DEVICE["SH01"], sh, number)
    await expect(manager.locator("#transfer-status")).to_have_text("已拣货", timeout=15_000)
    await manager.get_by_role("button", name="发出（已装车离仓）").click()
    await expect(manager.locator("#done")).to_contain_text("调入仓在途")
    on_road = await books(stack, sku, sh, gz)
    assert on_road.destination[2] == start.destination[2] + 3 and on_road.units == start.units
    await manager_context.close()

    # GZ01's handheld: paired, the worker signed in by badge, the transfer received.
    boss = await staff(api, "warehouse_manager")
    device = await api.post(f"/v1/warehouses/{gz}/devices", json={"name": "PDA-GZ"}, headers=boss)
    badge = {"user_id": ops_id, "badge_code": "EMP-0303"}
    given = await api.post(f"/v1/warehouses/{gz}/badges", json=badge, headers=boss)
    assert device.status_code == given.status_code == 201, (device.text, given.text)
    handheld = await chrome.new_context(base_url=stack.api, viewport=HANDHELD, has_touch=True)
    pda = await handheld.new_page()
    await pda.goto("/pda/")
    await scan(pda, device.json()["pairing_code"])
    await scan(pda, "EMP-0303")
    await pda.get_by_role("link", name="调拨收货").click()
    await expect(pda.locator("#say")).to_contain_text("请扫描调拨单号")
    await scan(pda, number)
    await expect(pda.locator("#status")).to_have_text("在途")
    await scan(pda, barcode)
    await expect(pda.locator("#say")).to_contain_text("发出 3 件")
    await pda.locator("input[name=damaged]").fill("1")
    await pda.locator("input[name=good]").fill("2")
    async with pda.expect_navigation():
        await pda.locator("input[name=good]").press("Enter")
    await expect(pda.locator("#say")).to_contain_text("已全部清点")
    await expect(pda.locator("#line-1 .good")).to_have_text("2")
    await expect(pda.locator("#line-1 .damaged")).to_have_text("1")
    await expect(pda.locator("#book")).to_be_focused()
    await pda.locator("#book").click()
    await expect(pda.locator("#msg")).to_contain_text("已收货，调拨单已关闭")
    await expect(pda.locator("body")).to_have_class("pda result-ok")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await pda.screenshot(path=str(SCREENSHOTS / "pda-transfer.png"), full_page=True)
    await handheld.close()

    closed = await wait_transfer(api, number, "closed")
    [line] = closed["lines"]
    assert (line["shipped"], line["good"], line["damaged"], line["short"]) == (3, 2, 1, 0)
    done = await books(stack, sku, sh, gz)  # the ledgers equal the figures (checked in books)
    assert done.units == start.units
    assert done.source == (start.source[0] - 3, start.source[1], start.source[2])
    assert done.destination == (start.destination[0] + 3, 0, start.destination[2])
