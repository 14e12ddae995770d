"""More of the warehouse floor on a handheld in real Chromium at 360x640 (issue 15): a blind
count of two locations (one over, one short: the screen never shows the book), approved by the
manager in the console, the stock ledger then holding the count's surplus and deficit; a
customer's return received by scanning its parcel; and a location looked up. The three screens
are photographed for the README (.houtai/screenshots/pda-count.png, pda-returns.png,
pda-lookup.png)."""

from __future__ import annotations

import httpx
from playwright.async_api import BrowserContext, Page, expect
from sqlalchemy import select, text

from models.db import Location, Sku, StockMovement, User
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_pda_journey import scan
from tests.support.counting import lone_batches
from tests.support.order_api import http, staff, warehouse_id
from tests.support.returns import returning
from tests.support.stack import Stack
from workers.seed import DEMO_PASSWORD


async def _manager_pairs_a_handheld(page: Page, pda: Page, stack: Stack) -> None:
    async with stack.sessions() as session:
        ops_id = await session.scalar(select(User.id).where(User.username == "ops"))
    await page.goto("/console/devices")
    await page.get_by_label("用户名").fill("warehouse_manager")
    await page.get_by_label("密码", exact=True).fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.get_by_label("员工 ID").fill(str(ops_id))
    await page.get_by_label("工牌码").fill("EMP-0077")
    await page.get_by_role("button", name="发放工牌").click()
    await expect(page.locator("#badges")).to_contain_text("EMP-0077")
    await page.get_by_label("设备名称").fill("PDA-C1")
    await page.get_by_role("button", name="创建并配对").click()
    code = (await page.locator("#pairing-code").inner_text()).strip()
    await pda.goto("/pda/")
    await scan(pda, code)
    await scan(pda, "EMP-0077")
    await expect(pda.locator("#say")).to_contain_text("请选择作业")


async def test_blind_count_return_inbound_and_lookup_on_a_handheld(
    page: Page,
    handheld: tuple[BrowserContext, list[str]],
    stack: Stack,
    api: httpx.AsyncClient,
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context, problems = handheld
    pda = await context.new_page()
    await _manager_pairs_a_handheld(page, pda, stack)
    sh01 = await warehouse_id(stack, "SH01")

    # --- a return comes back: the worker scans its parcel and receives it ---------------------
    async with http(stack.carrier) as carrier:
        back = await returning(stack, api, carrier, key="browser-ret")
    line_no = back.line["line_no"]
    await pda.get_by_role("link", name="退货入库").click()
    await expect(pda.locator("#say")).to_contain_text("扫描退回包裹的运单号")
    await scan(pda, back.tracking_no)
    await expect(pda.locator("#status")).to_contain_text("退回途中")
    await expect(pda.locator(f"input[name=restock_{line_no}]")).to_have_value("2")
    await pda.locator(f"input[name=restock_{line_no}]").fill("1")
    await pda.locator(f"input[name=damaged_{line_no}]").fill("1")
    await pda.screenshot(path=str(SCREENSHOTS / "pda-returns.png"), full_page=True)
    await pda.get_by_role("button", name="确认入库").click()
    await expect(pda.locator("#received")).to_contain_text("上架 1 件，残损 1 件")
    await expect(pda.locator("body")).to_have_class("pda result-ok")
    async with stack.sessions() as session:
        returned = await session.scalars(
            text(
                "SELECT on_hand_delta FROM stock_movements WHERE ref_no = :a "
                "AND movement_type = 'return_in'"
            ),
            {"a": back.as_no},
        )
        assert sorted(returned.all()) == [1, 1]

    # --- a blind count of two locations --------------------------------------------------------
    over, short = await lone_batches(stack, sh01, 2, at_least=2)
    async with stack.sessions() as session:
        places = [await session.get_one(Location, b.location_id) for b in (over, short)]
        skus = [await session.get_one(Sku, b.sku_id) for b in (over, short)]
    manager = await staff(api, "warehouse_manager")
    opened = await api.post(
        f"/v1/warehouses/{sh01}/counts",
        json={"location_ids": [p.id for p in places]},
        headers=manager,
    )
    assert opened.status_code == 201, opened.text
    number = opened.json()["count_no"]

    await pda.goto("/pda/")
    await pda.get_by_role("link", name="盘点").click()
    await expect(pda.locator("#say")).to_contain_text("扫描盘点表单号")
    await scan(pda, number)
    await expect(pda.locator("#locations")).to_contain_text(places[0].code)
    for batch, place, sku, extra in (
        (over, places[0], skus[0], 1),
        (short, places[1], skus[1], -1),
    ):
        await expect(pda.locator("#say")).to_contain_text("扫描下一个要盘的库位")
        await scan(pda, place.barcode)
        await expect(pda.locator("#say")).to_contain_text(place.code)
        if sku.batch_managed:
            await pda.locator("input[name=batch]").fill(batch.batch_no)
        # All but one unit typed as a quantity, then single scans for the rest.
        await pda.locator("input[name=quantity]").fill(str(batch.quantity - 1))
        await pda.locator("input[name=sku]").focus()
        await scan(pda, sku.barcode)
        await expect(pda.locator("#msg")).to_contain_text("已计数")
        for _ in range(1 + extra):
            await scan(pda, sku.barcode)
        counted = batch.quantity + extra
        await expect(pda.locator("#counted .qty")).to_have_text(str(counted))
        # Blind: the only figure on the screen is what was counted.
        assert await pda.locator(".qty").all_inner_texts() == [str(counted)]
        if extra > 0:
            await pda.screenshot(path=str(SCREENSHOTS / "pda-count.png"), full_page=True)
        await pda.get_by_role("link", name="本库位盘完").click()
        await expect(pda.locator("#done")).to_contain_text(place.code)
    await expect(pda.locator("#locations")).to_contain_text(f"已盘 {over.quantity + 1} 件")

    # --- the manager approves in the console; the ledger holds surplus and deficit -------------
    await page.goto(f"/console/counts/{number}")
    table = page.locator("#difference-table")
    await expect(table).to_contain_text("盘盈")
    await expect(table).to_contain_text("盘亏")
    await expect(page.locator("#count-sheet")).to_be_visible()
    await page.locator("#approve-count").click()
    await expect(page.locator("#count-status")).to_contain_text("已")
    async with stack.sessions() as session:
        booked = (
            await session.execute(
                select(
                    StockMovement.movement_type,
                    StockMovement.location_id,
                    StockMovement.on_hand_delta,
                )
                .where(StockMovement.ref_no == number)
                .order_by(StockMovement.movement_type)
            )
        ).all()
    assert sorted(tuple(b) for b in booked) == sorted(
        [("count_surplus", places[0].id, 1), ("count_deficit", places[1].id, -1)]
    )
    await page.goto(f"/console/stock/movements?ref_no={number}")
    await expect(page.locator("main")).to_contain_text("盘盈")
    await expect(page.locator("main")).to_contain_text("盘亏")

    # --- where things are ------------------------------------------------------------------------
    await pda.goto("/pda/")
    await pda.get_by_role("link", name="库位查询").click()
    await scan(pda, places[0].barcode)
    await expect(pda.locator("#what")).to_contain_text(places[0].code)
    await expect(pda.locator("#rows .qty")).to_have_text(str(over.quantity + 1))
    await pda.screenshot(path=str(SCREENSHOTS / "pda-lookup.png"), full_page=True)
    await scan(pda, skus[1].barcode)
    await expect(pda.locator("#rows")).to_contain_text(places[1].code)
    assert problems == []
