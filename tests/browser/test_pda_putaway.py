"""Receiving and putaway (上架) on a handheld, in real Chromium at 360x640: a worker receives a
three-line PO on /pda leaving the location empty (the goods land in the receiving location RCV-01,
on hand but not pickable), then puts all three away on /pda — scan the SKU, go to the suggested
location and scan it (the first one in two goes) — until the screen says nothing is left. Stock
per location and the ledger (move_out at RCV-01, move_in at the destination, per put) are checked
in the database; the putaway screen is photographed for the README."""

from __future__ import annotations

import httpx
from playwright.async_api import BrowserContext, Page, expect
from sqlalchemy import func, select

from models.db import Location, LocationStock, StockMovement, Supplier, SupplierProduct, User
from tests.browser.conftest import SCREENSHOTS, photograph
from tests.browser.test_pda_journey import scan
from tests.support.order_api import staff
from tests.support.purchasing import sent
from tests.support.stack import Stack

QUANTITIES = (6, 4, 3)


async def _three_line_po(
    stack: Stack, api: httpx.AsyncClient, warehouse: int
) -> tuple[str, list[int]]:
    """A sent PO of an approved supplier for three of its SKUs, all to `warehouse`."""
    async with stack.sessions() as session:
        rows = (
            await session.execute(
                select(Supplier.id, SupplierProduct.sku_id)
                .join(SupplierProduct, SupplierProduct.supplier_id == Supplier.id)
                .where(Supplier.status == "approved")
                .order_by(Supplier.id, SupplierProduct.sku_id)
            )
        ).all()
    by_supplier: dict[int, list[int]] = {}
    for supplier, sku in rows:
        by_supplier.setdefault(supplier, []).append(sku)
    supplier, skus = next((s, k[:3]) for s, k in by_supplier.items() if len(k) >= 3)
    buyer = await staff(api, "purchasing")
    body = {
        "supplier_id": supplier,
        "lines": [
            {"sku_id": sku, "warehouse_id": warehouse, "quantity": q, "unit_price_fen": 250}
            for sku, q in zip(skus, QUANTITIES, strict=True)
        ],
    }
    created = await api.post("/v1/purchase-orders", json=body, headers=buyer)
    assert created.status_code == 201, created.text
    po_no = created.json()["po_no"]
    submitted = await api.post(f"/v1/purchase-orders/{po_no}/submit", headers=buyer)
    assert submitted.status_code == 200, submitted.text
    for role in submitted.json()["required_roles"]:
        approved = await api.post(
            f"/v1/purchase-orders/{po_no}/approve", json={}, headers=await staff(api, role)
        )
        assert approved.status_code == 200, approved.text
    await sent(api, po_no, buyer)
    return po_no, skus


async def _sign_in_on_handheld(
    pda: Page, api: httpx.AsyncClient, stack: Stack, warehouse: int
) -> None:
    manager = await staff(api, "warehouse_manager")
    created = await api.post(
        f"/v1/warehouses/{warehouse}/devices", json={"name": "PDA-P1"}, headers=manager
    )
    async with stack.sessions() as session:
        ops = await session.scalar(select(User.id).where(User.username == "ops"))
    badge = {"user_id": ops, "badge_code": "EMP-0303"}
    given = await api.post(f"/v1/warehouses/{warehouse}/badges", json=badge, headers=manager)
    assert created.status_code == given.status_code == 201, (created.text, given.text)
    await pda.goto("/pda/")
    await scan(pda, created.json()["pairing_code"])
    await scan(pda, "EMP-0303")
    await expect(pda.locator("#say")).to_contain_text("请选择作业")


async def _units(stack: Stack, sku: int, location: int) -> int:
    async with stack.sessions() as session:
        units = await session.scalar(
            select(func.coalesce(func.sum(LocationStock.quantity), 0)).where(
                LocationStock.sku_id == sku, LocationStock.location_id == location
            )
        )
        return int(units or 0)


async def test_receive_three_lines_into_receiving_then_put_them_all_away(
    handheld: tuple[BrowserContext, list[str]], stack: Stack, api: httpx.AsyncClient
) -> None:
    ops = await staff(api, "ops")
    warehouses = (await api.get("/v1/warehouses", headers=ops)).json()["data"]
    sh01 = int(next(w["id"] for w in warehouses if w["code"] == "SH01"))
    po_no, skus = await _three_line_po(stack, api, sh01)
    catalogue = {sku: (await api.get(f"/v1/skus/{sku}", headers=ops)).json() for sku in skus}
    async with stack.sessions() as session:
        receiving = await session.scalar(
            select(Location).where(Location.warehouse_id == sh01, Location.kind == "receiving")
        )
        assert receiving is not None
    before = {sku: await _units(stack, sku, receiving.id) for sku in skus}

    context, problems = handheld
    pda = await context.new_page()
    await _sign_in_on_handheld(pda, api, stack, sh01)

    # Receiving: the PO, then each line's SKU and its accepted units; the location left empty.
    await pda.get_by_role("link", name="收货", exact=True).click()
    await scan(pda, po_no)
    for sku, quantity in zip(skus, QUANTITIES, strict=True):
        await scan(pda, catalogue[sku]["barcode"])
        await expect(pda.locator("input[name=location]")).to_have_value("")
        if catalogue[sku]["batch_managed"]:
            await pda.locator("input[name=batch]").fill("B2612")
            await pda.locator("input[name=accepted]").focus()
        if sku == skus[-1]:
            await photograph(pda, "pda-receive")
        await scan(pda, str(quantity))
        await expect(pda.locator("#msg")).to_contain_text("已收货")
    for sku, quantity in zip(skus, QUANTITIES, strict=True):
        assert await _units(stack, sku, receiving.id) == before[sku] + quantity

    # Putaway: task after task until nothing is left.
    await pda.goto("/pda/")
    await pda.get_by_role("link", name="上架").click()
    manager = await staff(api, "warehouse_manager")
    put_tasks: dict[str, tuple[int, int]] = {}  # task → (SKU, destination)
    photographed = False
    for _ in range(10):
        if await pda.locator("#task-no").count() == 0:
            break
        task_no = await pda.locator("#task-no").get_attribute("data-task")
        assert task_no
        task = (await api.get(f"/v1/putaway-tasks/{task_no}", headers=manager)).json()
        assert task["sku_id"] in skus and task["from_location_code"] == receiving.code
        await expect(pda.locator("#say")).to_contain_text("请扫描商品")
        await scan(pda, catalogue[task["sku_id"]]["barcode"])
        suggested = task["suggested_location_code"]
        assert suggested, task
        await expect(pda.locator("#suggested")).to_have_text(suggested)
        await expect(pda.locator("#say")).to_contain_text(suggested)
        if not photographed:  # the first task in two goes: two units first
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await pda.screenshot(path=str(SCREENSHOTS / "pda-putaway.png"), full_page=True)
            photographed = True
            await pda.locator("input[name=quantity]").fill("2")
            await pda.locator("input[name=location]").focus()
            await scan(pda, task["suggested_location_barcode"])
            await expect(pda.locator("#msg")).to_contain_text("已上架部分")
            await expect(pda.locator("#remaining")).to_have_text(str(task["remaining"] - 2))
        await scan(pda, task["suggested_location_barcode"])
        await expect(pda.locator("#msg")).to_contain_text("上架完成")
        put_tasks[task_no] = (task["sku_id"], task["suggested_location_id"])
    await expect(pda.locator("#say")).to_contain_text("没有待上架的任务")
    assert sorted(sku for sku, _ in put_tasks.values()) == sorted(skus)

    # Stock per location: nothing of them left in receiving, each at its destination.
    for sku in skus:
        assert await _units(stack, sku, receiving.id) == before[sku]
    async with stack.sessions() as session:
        for task_no, (sku, destination) in put_tasks.items():
            rows = (
                await session.execute(
                    select(StockMovement.movement_type, StockMovement.location_id,
                           StockMovement.on_hand_delta)
                    .where(StockMovement.ref_type == "putaway", StockMovement.ref_no == task_no)
                    .order_by(StockMovement.id)
                )
            ).all()  # fmt: skip
            quantity = QUANTITIES[skus.index(sku)]
            outs = [r for r in rows if r[0] == "move_out"]
            ins = [r for r in rows if r[0] == "move_in"]
            assert {r[1] for r in outs} == {receiving.id} and {r[1] for r in ins} == {destination}
            assert -sum(r[2] for r in outs) == sum(r[2] for r in ins) == quantity
            assert len(rows) == (4 if len(outs) == 2 else 2)
            assert await _units(stack, sku, destination) >= quantity
    assert problems == []
