"""A handheld on flaky Wi-Fi, in real Chromium at 360x640: a paired handheld's worker picks a task
stop by stop (a wrong location is refused in red) and packs it with every unit checked (a wrong
unit is refused). One unit scan loses its answer on the way back: the page sends it again with
the same id and the unit counts once; the pack's answer comes back as a proxy's 503 and is sent
again with the same id, packing once. The pack is audited with the device and the worker.

The whole floor journey (pairing in the console, badge sign-in, a whole wave, pack, print, hand
over, with stock, ledger and timelines after each stage) is tests/browser/test_pda_wave.py."""

from __future__ import annotations

import httpx
from playwright.async_api import BrowserContext, Page, Route, expect
from sqlalchemy import select

from models.db import AuditEntry, PackCheck, User
from tests.browser.conftest import photograph
from tests.support.order_api import only_in, paid_order, staff, warehouse_id
from tests.support.orders import eventually
from tests.support.picking import plan_now
from tests.support.stack import Stack


async def scan(page: Page, code: str) -> None:
    """What a keyboard-wedge scanner does: type into whatever has focus, then Enter."""
    await expect(page.locator("[data-scan]")).to_be_focused()
    await page.keyboard.type(code)
    async with page.expect_navigation():  # the next screen (the answer decides which)
        await page.keyboard.press("Enter")
    await page.wait_for_load_state("domcontentloaded")


async def barcode_of(api: httpx.AsyncClient, sku_code: str) -> str:
    ops = await staff(api, "ops")
    found = (await api.get("/v1/skus", params={"q": sku_code}, headers=ops)).json()["data"]
    return str(next(s["barcode"] for s in found if s["code"] == sku_code))


async def test_a_lost_answer_is_sent_again_with_its_id_and_counts_once_on_a_handheld(
    handheld: tuple[BrowserContext, list[str]],
    stack: Stack,
    api: httpx.AsyncClient,
) -> None:
    # Paired by API (test_pda_wave.py pairs in the console) and signed in by badge.
    async with stack.sessions() as session:
        ops_id = await session.scalar(select(User.id).where(User.username == "ops"))
    manager = await staff(api, "warehouse_manager")
    sh01 = await warehouse_id(stack, "SH01")
    device = await api.post(
        f"/v1/warehouses/{sh01}/devices", json={"name": "PDA-B1"}, headers=manager
    )
    badge = {"user_id": ops_id, "badge_code": "EMP-0042"}
    given = await api.post(f"/v1/warehouses/{sh01}/badges", json=badge, headers=manager)
    assert device.status_code == given.status_code == 201, (device.text, given.text)
    context, problems = handheld
    pda = await context.new_page()
    await pda.goto("/pda/")
    await scan(pda, device.json()["pairing_code"])
    await scan(pda, "EMP-0042")
    await expect(pda.locator("#say")).to_contain_text("请选择作业")

    order = await paid_order(stack, api, [(await only_in(stack, "SH01"), 2)])
    [parcel] = order["packages"]
    number = parcel["package_no"]
    await plan_now(api, sh01)

    await pda.get_by_role("link", name="拣货").click()
    await expect(pda.locator("#say")).to_contain_text("扫描库位码")
    await scan(pda, "WRONG-LOCATION")
    await expect(pda.locator("#msg")).to_contain_text("库位不对")
    await expect(pda.locator("body")).to_have_class("pda result-error")
    for _ in range(10):
        say = await pda.locator("#say").inner_text()
        if "扫描库位码" in say:
            await scan(pda, await pda.locator("input[name=expected]").input_value())
            await expect(pda.locator("#say")).to_contain_text("请扫描商品")
            await expect(pda.locator("body")).to_have_class("pda result-ok")
            await photograph(pda, "pda-pick")
            continue
        if "请扫描商品" not in say:
            break
        remaining = int(await pda.locator("#remaining").inner_text())
        sku_code = await pda.locator("#stop small").inner_text()
        await scan(pda, await barcode_of(api, sku_code))
        await expect(pda.locator("body")).to_have_class("pda result-ok")
        if remaining > 1:
            await expect(pda.locator("#remaining")).to_have_text(str(remaining - 1))
    await expect(pda.locator("#say")).to_contain_text("已拣完")

    async def ready() -> bool | None:
        shown = (
            await api.get(
                f"/v1/packages/{number}/check", headers=await staff(api, "warehouse_manager")
            )
        ).json()
        return True if shown["status"] in ("released", "picked") else None

    await eventually(ready, f"{number} ready to pack")
    await pda.goto("/pda/pack")
    await scan(pda, number)
    await expect(pda.locator("#box")).to_contain_text("0/2")
    await scan(pda, "6999999999999")
    await expect(pda.locator("#msg")).to_contain_text("错件")
    await expect(pda.locator("body")).to_have_class("pda result-error")
    sku_code = await pda.locator("#box small").first.inner_text()
    unit = await barcode_of(api, sku_code)

    # The first unit's answer is lost on the way back (the server did count it): the page
    # sends the same scan again, with the same id, and gets the stored answer.
    lost = {"done": False}

    async def lose_the_answer(route: Route) -> None:
        if lost["done"]:
            await route.continue_()
            return
        await route.fetch()  # the server receives it and answers...
        lost["done"] = True
        await route.abort("internetdisconnected")  # ...but the answer never arrives

    await pda.route(f"**/pda/pack/{number}/unit", lose_the_answer)
    await scan(pda, unit)
    await expect(pda.locator("#box")).to_contain_text("1/2")
    assert lost["done"]
    await pda.unroute(f"**/pda/pack/{number}/unit")
    async with stack.sessions() as session:
        counted = await session.scalar(
            select(PackCheck.scanned).where(PackCheck.package_no == number)
        )
    assert counted == 1
    await scan(pda, unit)
    await expect(pda.locator("#box")).to_contain_text("2/2")
    await expect(pda.locator("#say")).to_contain_text("请称重")
    await photograph(pda, "pda-pack")
    expected = (
        await api.get(f"/v1/packages/{number}", headers=await staff(api, "warehouse_manager"))
    ).json()["expected_weight_g"]
    # The pack's answer comes back as a proxy's 503 (the pack was done): sent again, same id.
    gateway = {"failed": False}

    async def bad_gateway(route: Route) -> None:
        if gateway["failed"]:
            await route.continue_()
            return
        await route.fetch()
        gateway["failed"] = True
        await route.fulfill(status=503, body="bad gateway")

    await pda.route(f"**/pda/pack/{number}/weigh", bad_gateway)
    await scan(pda, str(expected))
    assert gateway["failed"]
    label = pda.get_by_role("link", name="打印面单")
    await expect(label).to_be_visible()
    href = await label.get_attribute("href")
    assert href and await label.get_attribute("target") == "_blank"
    pdf = await pda.request.get(href)
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    assert (await pdf.body()).startswith(b"%PDF")

    async with stack.sessions() as session:
        packs = list(
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "package.pack", AuditEntry.object_id == number
                )
            )
        )
    assert [(p.actor_name, p.detail.get("worker")) for p in packs] == [("PDA-B1", "ops")]
    assert problems == []
