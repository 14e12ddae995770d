"""The backorder short-pick policy on the real path (issue 4 review): a pick comes up one unit
short with nothing else to sell, the package ships what it has (its slip says so), the unit comes
back in stock and ships as package …B; nothing is refunded, stock and money ledgers balance."""

from __future__ import annotations

import io
from datetime import timedelta

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from models.contracts.order import OrderPolicy
from models.db import Stock, StockMovement
from tests.api.test_wave_short_picks import add_batch, sellable, spare_locations
from tests.api.test_waves import assert_location_holds
from tests.support.invariants import unbalanced_orders
from tests.support.order_api import (
    DEVICE,
    Json,
    figures,
    ledger,
    only_in,
    paid_order,
    refunds,
    staff,
    view,
)
from tests.support.orders import eventually, pack_and_hand_over
from tests.support.picking import claim, pick_task, plan_now, scan_id
from tests.support.stack import Stack, fast_timings

BACKORDER = {
    "timings": fast_timings().model_copy(
        update={"backorder_retry": timedelta(seconds=2), "backorder_for": timedelta(minutes=10)}
    ),
    "policy": OrderPolicy(short_pick_policy="backorder"),
}


async def slip_text(api: httpx.AsyncClient, package_no: str) -> str:
    slip = await api.get(f"/v1/packages/{package_no}/packing-slip.pdf", headers=DEVICE["SH01"])
    assert slip.status_code == 200, slip.text
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(slip.content)).pages)


async def movements(stack: Stack, sku_id: int) -> list[tuple[str, str, int]]:
    async with stack.sessions() as session:
        rows = await session.execute(
            select(StockMovement.movement_type, StockMovement.ref_no, StockMovement.on_hand_delta)
            .where(StockMovement.sku_id == sku_id, StockMovement.on_hand_delta != 0)
            .where(StockMovement.movement_type.in_(("sales_out", "pick_short")))
            .order_by(StockMovement.id)
        )
        return [(kind, ref or "", delta) for kind, ref, delta in rows]


@pytest.mark.parametrize("stack", [BACKORDER], indirect=True, ids=["backorder"])
async def test_a_short_unit_comes_back_and_ships_as_package_b_and_nothing_is_refunded(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    sku = await only_in(stack, "SH01")
    before = await figures(stack)
    order = await paid_order(stack, api, [(sku, 2)])
    [parcel] = order["packages"]
    number, warehouse = parcel["package_no"], parcel["warehouse_id"]
    manager = await staff(api, "warehouse_manager")
    async with stack.sessions() as session:
        stock = await session.get(Stock, (sku, warehouse))
        assert stock is not None
    hold = stock.safety_hold + await sellable(stack, sku)  # nothing else to sell: no re-allocation
    answer = await api.put(
        f"/v1/stock/{sku}/{warehouse}/safety-hold",
        headers=manager,
        json={"safety_hold": hold, "reason": "keep a buffer"},
    )
    assert answer.status_code == 200, answer.text

    await plan_now(api, warehouse)
    task = await claim(api, DEVICE["SH01"])
    assert task is not None
    short = await api.post(
        f"/v1/pick-tasks/{task['task_no']}/short",
        headers=DEVICE["SH01"],
        json={"scan_id": scan_id("short"), "found": task["next"]["stop"]["remaining"] - 1},
    )
    assert short.status_code == 200, short.text
    assert (await pick_task(api, DEVICE["SH01"], short.json()))["status"] == "short"
    await pack_and_hand_over(api, parcel)  # the one unit it has
    slip = await slip_text(api, number)
    assert "Total units: 1" in slip and "Short / to follow: 1" in slip

    [spare] = await spare_locations(stack, sku, warehouse, 1)
    await add_batch(
        api,
        manager,
        (sku, warehouse, spare),
        quantity_delta=1,
        batch_no="B-BACK",
        production_date="2026-11-01",
        expiry_date="2030-11-01",
    )  # the unit is found again: the backorder can have it

    async def backordered() -> Json | None:
        shown = await view(api, order["order_no"])
        found = [p for p in shown["packages"] if p["package_no"] == f"{number}B"]
        return found[0] if found and found[0]["status"] == "released" else None

    second = await eventually(backordered, f"{number}B released")
    await pack_and_hand_over(api, second)
    assert "Total units: 1" in await slip_text(api, second["package_no"])

    shown = await view(api, order["order_no"])
    assert {p["package_no"]: p["status"] for p in shown["packages"]} == {
        number: "shipped",
        f"{number}B": "shipped",
    }
    assert "backorder" in [e["step"] for e in shown["timeline"]]
    assert "short_refunded" not in [e["step"] for e in shown["timeline"]]
    assert shown["refunded_fen"] == 0 and await refunds(stack, order["order_no"]) == []
    assert await ledger(stack, order["order_no"]) == [("payment", shown["paid_fen"])]
    assert await movements(stack, sku) == [
        ("pick_short", number, -1),
        ("sales_out", number, -1),
        ("sales_out", f"{number}B", -1),
    ]
    after = await figures(stack)  # −1 not found, +1 found again, −2 shipped; nothing held
    assert after[sku, warehouse] == (before[sku, warehouse][0] - 2, before[sku, warehouse][1])
    await assert_location_holds(stack)
    async with stack.sessions() as session:
        assert await unbalanced_orders(session) == []
