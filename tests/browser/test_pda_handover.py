"""Handing over by manifest on a handheld, in real Chromium at 360x640: the worker opens a
manifest for the carrier its labelled packages wait for, scans a wrong code (red), the first
package by its number and the second by the tracking number on its label, hands them over and
opens the manifest PDF. Both packages are shipped and the manifest handed over at once."""

from __future__ import annotations

import re

import httpx
from playwright.async_api import BrowserContext, expect
from sqlalchemy import select

from models.db import User
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_pda_journey import scan
from tests.support.manifests import labelled
from tests.support.order_api import DEVICE, package, staff
from tests.support.pdf_read import page_texts
from tests.support.stack import Stack


async def test_open_scan_hand_over_and_print_a_manifest_on_a_handheld(
    handheld: tuple[BrowserContext, list[str]], stack: Stack, api: httpx.AsyncClient
) -> None:
    first, second = await labelled(stack, api, 2, "mf-browser")
    sh01, carrier = first["warehouse_id"], first["carrier_code"]
    async with stack.sessions() as session:
        ops_id = await session.scalar(select(User.id).where(User.username == "ops"))
    manager = await staff(api, "warehouse_manager")
    device = await api.post(
        f"/v1/warehouses/{sh01}/devices", json={"name": "PDA-H1"}, headers=manager
    )
    badge = {"user_id": ops_id, "badge_code": "EMP-0077"}
    given = await api.post(f"/v1/warehouses/{sh01}/badges", json=badge, headers=manager)
    assert device.status_code == given.status_code == 201, (device.text, given.text)

    context, problems = handheld
    pda = await context.new_page()
    await pda.goto("/pda/")
    await scan(pda, device.json()["pairing_code"])
    await scan(pda, "EMP-0077")
    await pda.get_by_role("link", name="交接").click()
    await expect(pda.locator("#say")).to_contain_text("交接单")
    await pda.locator(f"#open-{carrier}").click()
    await expect(pda).to_have_url(re.compile(r"/pda/handover/MF\d+$"))
    await expect(pda.locator("#count")).to_have_text("0 件")
    number = pda.url.rsplit("/", 1)[1]

    await scan(pda, "NOT-A-PACKAGE")
    await expect(pda.locator("#msg")).to_contain_text("未知包裹")
    await expect(pda.locator("body")).to_have_class("pda result-error")
    await scan(pda, first["package_no"])
    await expect(pda.locator("body")).to_have_class("pda result-ok")
    await expect(pda.locator("#count")).to_have_text("1 件")
    await expect(pda.locator("#last")).to_contain_text(first["package_no"])
    await scan(pda, second["tracking_no"])
    await expect(pda.locator("#count")).to_have_text("2 件")
    await expect(pda.locator("#last")).to_contain_text(second["package_no"])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await pda.screenshot(path=str(SCREENSHOTS / "pda-handover.png"), full_page=True)
    await scan(pda, second["tracking_no"])  # scanned twice: refused, still two
    await expect(pda.locator("#msg")).to_contain_text("已在交接单上")
    await expect(pda.locator("#count")).to_have_text("2 件")

    await pda.get_by_role("button", name="交接 2 件").click()
    await expect(pda.locator("#msg")).to_contain_text("已交接")
    await expect(pda.locator("body")).to_have_class("pda result-ok")
    printed = pda.get_by_role("link", name="打印交接单")
    href = await printed.get_attribute("href")
    assert href and await printed.get_attribute("target") == "_blank"
    pdf = await pda.request.get(href)
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    text = "\n".join(page_texts(await pdf.body()))
    assert number in text and first["tracking_no"] in text and second["tracking_no"] in text

    for parcel in (first, second):
        assert (await package(api, parcel["package_no"], DEVICE["SH01"]))["status"] == "shipped"
    shown = (await api.get(f"/v1/manifests/{number}", headers=manager)).json()
    assert shown["status"] == "handed_over" and shown["count"] == 2
    assert shown["handed_over_by"] == "PDA-H1" and shown["handed_over_worker"] == "ops"
    assert problems == []
