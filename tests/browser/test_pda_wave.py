"""A whole wave on a handheld, in real Chromium at 360x640 (issue 15, done means): a worker
pairs a device, signs in by badge and picks every task of the warehouse's waves by typing scans
into the focused input: one stop comes up short ("found 1"), and a two-line order goes over the
put wall, unit by unit into its slot. Each package is then verified unit by unit at the pack
station, weighed and labelled. The stock invariants hold and the short is in the package's
timeline and in the box the station checks."""

from __future__ import annotations

import httpx
from playwright.async_api import BrowserContext, Page, expect
from sqlalchemy import select

from models.db import OrderEvent, User
from tests.browser.conftest import SCREENSHOTS, photograph
from tests.browser.test_pda_journey import barcode_of, scan
from tests.support.invariants import assert_stock_invariants
from tests.support.order_api import paid_order, skus_in, staff, warehouse_id
from tests.support.orders import eventually
from tests.support.picking import plan_now
from tests.support.stack import Stack


async def _paired(context: BrowserContext, api: httpx.AsyncClient, stack: Stack) -> Page:
    """A handheld of SH01 paired with a fresh code, its worker signed in by badge."""
    manager = await staff(api, "warehouse_manager")
    sh01 = await warehouse_id(stack, "SH01")
    async with stack.sessions() as session:
        ops = await session.scalar(select(User.id).where(User.username == "ops"))
    made = await api.post(
        f"/v1/warehouses/{sh01}/devices", headers=manager, json={"name": "PDA-W1"}
    )
    assert made.status_code == 201, made.text
    badge = await api.post(
        f"/v1/warehouses/{sh01}/badges",
        headers=manager,
        json={"user_id": ops, "badge_code": "EMP-0100"},
    )
    assert badge.status_code == 201, badge.text
    pda = await context.new_page()
    await pda.goto("/pda/pair")
    await scan(pda, made.json()["pairing_code"])
    await scan(pda, "EMP-0100")
    await expect(pda.locator("#say")).to_contain_text("请选择作业")
    return pda


async def _pick_everything(
    pda: Page, api: httpx.AsyncClient, short_sku: str
) -> tuple[list[str], bool]:
    """Every task, stop by stop, as the screen asks; the first stop of `short_sku` is reported
    short with one unit found. Answers the tasks whose units went to the put wall, and whether
    the short was reported."""
    await pda.goto("/pda/pick")
    to_wall: list[str] = []
    shorted = False
    for _ in range(80):
        say = await pda.locator("#say").inner_text()
        if "暂无拣货任务" in say:
            return to_wall, shorted
        if "已拣完" in say:
            wall = pda.locator("#go-put-wall")
            if await wall.count():
                href = await wall.get_attribute("href")
                assert href
                to_wall.append(href.split("task=")[1])
            await pda.get_by_role("link", name="下一个任务").click()
            continue
        if "扫描库位码" in say:
            await scan(pda, await pda.locator("input[name=expected]").input_value())
            await expect(pda.locator("#say")).to_contain_text("请扫描商品")
            continue
        assert "请扫描商品" in say, say
        sku_code = await pda.locator("#stop small").inner_text()
        remaining = int(await pda.locator("#remaining").inner_text())
        if sku_code == short_sku and not shorted and remaining >= 2:
            shorted = True
            await pda.locator("#short").click()
            await expect(pda.locator("#say")).to_contain_text("实际还找到几件")
            await scan(pda, str(remaining - 1))
            await expect(pda.locator("#msg")).to_contain_text("已登记缺货")
            continue
        await scan(pda, await barcode_of(api, sku_code))
        await expect(pda.locator("body")).to_have_class("pda result-ok")
    raise AssertionError("the pick screens never ran out of tasks")


async def _pack(pda: Page, api: httpx.AsyncClient, number: str) -> None:
    """Verify every unit into the box, weigh at the expected weight, open the label."""
    manager = await staff(api, "warehouse_manager")

    async def sorted_or_picked() -> bool | None:
        shown = (await api.get(f"/v1/packages/{number}/check", headers=manager)).json()
        return True if shown["status"] in ("released", "picked") else None

    await eventually(sorted_or_picked, f"{number} ready to pack")
    if not pda.url.endswith(f"/pda/pack/{number}"):
        await pda.goto("/pda/pack")
        await scan(pda, number)
    rows = pda.locator("#box tr")
    for row in range(await rows.count()):
        sku_code = await rows.nth(row).locator("small").inner_text()
        scanned, wanted = (await rows.nth(row).locator("td.qty").inner_text()).split("/")
        for _ in range(int(wanted) - int(scanned)):
            await scan(pda, await barcode_of(api, sku_code))
            await expect(pda.locator("body")).to_have_class("pda result-ok")
    await expect(pda.locator("#say")).to_contain_text("请称重")
    expected = (await api.get(f"/v1/packages/{number}", headers=manager)).json()
    await scan(pda, str(expected["expected_weight_g"]))
    label = pda.get_by_role("link", name="打印面单")
    for _ in range(30):  # the carrier's waybill may take a moment: the screen offers a refresh
        if await label.count():
            break
        await pda.wait_for_timeout(300)
        await pda.reload()
    href = await label.get_attribute("href")
    assert href
    pdf = await pda.request.get(href)
    assert pdf.ok and (await pdf.body()).startswith(b"%PDF")


async def test_a_whole_wave_with_a_short_and_a_put_wall_order_on_a_handheld(
    handheld: tuple[BrowserContext, list[str]], stack: Stack, api: httpx.AsyncClient
) -> None:
    context, problems = handheld
    sh01 = await warehouse_id(stack, "SH01")
    one, two, three = await skus_in(stack, "SH01", count=3)
    ops = await staff(api, "ops")
    codes = {
        sku: (await api.get(f"/v1/skus/{sku}", headers=ops)).json()["code"]
        for sku in (one, two, three)
    }
    wall_order = await paid_order(stack, api, [(one, 1), (two, 1)], key="cart-wall")
    short_order = await paid_order(stack, api, [(three, 2)], key="cart-short")
    [wall_parcel] = wall_order["packages"]
    [short_parcel] = short_order["packages"]
    pda = await _paired(context, api, stack)
    await plan_now(api, sh01)

    to_wall, shorted = await _pick_everything(pda, api, codes[three])
    assert to_wall, "the two-line order's task did not send its units to the put wall"
    assert shorted

    await pda.goto("/pda/put-wall?wave=WV0000")  # no such wave: said, in red
    await expect(pda.locator("#msg")).to_contain_text("没有这个波次")

    await pda.goto(f"/pda/put-wall?task={to_wall[0]}")
    await expect(pda.locator("#say")).to_contain_text("请逐件扫描商品")
    await scan(pda, "6900000000000")  # a stranger: the exception tote, in red
    await expect(pda.locator("#msg")).to_contain_text("异常筐")
    await expect(pda.locator("body")).to_have_class("pda result-error")
    for sku in (one, two):
        await scan(pda, await barcode_of(api, codes[sku]))
        await expect(pda.locator("#put")).to_contain_text("号格")
    await expect(pda.locator("#complete")).to_contain_text(wall_parcel["package_no"])
    await expect(pda.locator("#say")).to_contain_text("全部分拣完毕")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await pda.screenshot(path=str(SCREENSHOTS / "pda-put-wall.png"))
    await pda.locator("#pack-it").click()
    await _pack(pda, api, wall_parcel["package_no"])
    await _pack(pda, api, short_parcel["package_no"])

    manager = await staff(api, "warehouse_manager")
    for parcel in (wall_parcel, short_parcel):

        async def labelled(number: str = parcel["package_no"]) -> bool | None:
            shown = (await api.get(f"/v1/packages/{number}", headers=manager)).json()
            return True if shown["status"] == "waybill_created" else None

        await eventually(labelled, f"{parcel['package_no']} labelled")
    async with stack.sessions() as session:
        picked = await session.scalar(
            select(OrderEvent.detail).where(
                OrderEvent.package_no == short_parcel["package_no"], OrderEvent.step == "picked"
            )
        )
        await assert_stock_invariants(session)
    assert picked is not None
    check = (
        await api.get(f"/v1/packages/{short_parcel['package_no']}/check", headers=manager)
    ).json()
    boxed = sum(line["quantity"] for line in check["lines"])
    assert boxed == 2 - int(picked["missing_units"])  # what was short is not asked for in the box
    await pda.goto("/pda/move")  # the move screen (moves themselves: tests/console), for the README
    await expect(pda.locator("input[data-scan]")).to_be_focused()
    await photograph(pda, "pda-move")
    assert problems == []
