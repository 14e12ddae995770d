"""Short picks over the device API (issue 4 review): a line split over two batches whose first
is short is re-allocated without taking the second again, safety stock is never promised, a
"short" that found everything is refused, and a scan id is never another scan's answer."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
from sqlalchemy import func, select, text

from models.db import Location, LocationStock, Reservation, Stock, StockMovement
from services.stock_ledger import sellable_units
from tests.api.test_waves import allocated, assert_location_holds, planned_package
from tests.support.order_api import DEVICE, Headers, Json, only_in, paid_order, problem, staff
from tests.support.picking import claim, pick_package, plan_now, scan_id, scan_stop
from tests.support.stack import Stack


async def spare_locations(stack: Stack, sku_id: int, warehouse_id: int, count: int) -> list[int]:
    """Storage locations of the warehouse where the SKU has never been."""
    async with stack.sessions() as session:
        found = await session.scalars(
            text(
                "SELECT id FROM locations WHERE warehouse_id = :w AND kind = 'storage' AND active "
                "AND id NOT IN (SELECT location_id FROM location_stocks WHERE sku_id = :s) "
                "ORDER BY id DESC LIMIT :n"
            ),
            {"w": warehouse_id, "s": sku_id, "n": count},
        )
        return list(found)


async def add_batch(
    api: httpx.AsyncClient, manager: Headers, at: tuple[int, int, int], **batch: object
) -> None:
    """Units found at a location (SKU, warehouse, location), as a stock adjustment."""
    sku_id, warehouse_id, location_id = at
    added = await api.post(
        "/v1/stock/adjustments",
        headers=manager,
        json={
            "sku_id": sku_id,
            "warehouse_id": warehouse_id,
            "location_id": location_id,
            "reason": "found during a count",
            **batch,
        },
    )
    assert added.status_code == 201, added.text


async def sellable(stack: Stack, sku_id: int) -> int:
    async with stack.sessions() as session:
        units = await session.scalar(select(sellable_units()).where(Stock.sku_id == sku_id))
    return int(units or 0)


async def report_short(
    api: httpx.AsyncClient, task: Json, found: int, scan: str | None = None
) -> httpx.Response:
    return await api.post(
        f"/v1/pick-tasks/{task['task_no']}/short",
        headers=DEVICE["SH01"],
        json={"scan_id": scan or scan_id("short"), "found": found},
    )


async def written_off(stack: Stack) -> list[tuple[int | None, int]]:
    async with stack.sessions() as session:
        rows = await session.execute(
            select(StockMovement.location_id, StockMovement.on_hand_delta)
            .where(StockMovement.movement_type == "pick_short")
            .order_by(StockMovement.id)
        )
        return [(location, delta) for location, delta in rows]


async def test_a_line_split_over_two_batches_short_at_the_first_is_made_good_from_a_third(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    sku = await only_in(stack, "SH01")
    manager = await staff(api, "warehouse_manager")
    async with stack.sessions() as session:  # the demo batches are out of the way
        old = list(await session.scalars(select(LocationStock).where(LocationStock.sku_id == sku)))
    for batch in old:
        answer = await api.patch(
            f"/v1/stock/batches/{batch.id}",
            headers=manager,
            json={"disabled": True, "reason": "kept out of this test"},
        )
        assert answer.status_code == 200, answer.text
    first, second, third = await spare_locations(stack, sku, old[0].warehouse_id, 3)
    soon = date.today() + timedelta(days=20)
    for location, units, name, days in ((first, 2, "B-A", 0), (second, 5, "B-B", 20),
                                        (third, 5, "B-C", 40)):  # fmt: skip
        expiry = soon + timedelta(days=days)
        await add_batch(
            api,
            manager,
            (sku, old[0].warehouse_id, location),
            quantity_delta=units,
            batch_no=name,
            production_date=str(expiry - timedelta(days=365)),
            expiry_date=str(expiry),
        )
    order = await paid_order(stack, api, [(sku, 3)])
    [parcel] = order["packages"]
    await plan_now(api, parcel["warehouse_id"])
    rows = await allocated(stack, parcel["package_no"])
    assert [(a.location_id, a.quantity) for a in rows] == [(first, 2), (second, 1)]  # FEFO
    async with stack.sessions() as session:
        barcode_a = await session.scalar(select(Location.barcode).where(Location.id == first))
    task = await claim(api, DEVICE["SH01"])
    assert task is not None
    while task["next"]["action"] == "pick":
        if task["next"]["stop"]["location_barcode"] == barcode_a:
            answer = await report_short(api, task, found=1)  # 1 of 2 at the first batch
        else:
            answer = await scan_stop(api, DEVICE["SH01"], task)
        assert answer.status_code == 200, answer.text
        task = answer.json()
    assert task["status"] == "short"
    assert (await pick_package(api, parcel))["status"] == "picked"  # all 3 units found
    rows = await allocated(stack, parcel["package_no"])
    assert sorted((a.location_id, a.quantity, a.picked, a.status) for a in rows) == sorted(
        [(first, 2, 1, "short"), (second, 1, 1, "picked"), (third, 1, 1, "picked")]
    )
    assert await written_off(stack) == [(first, -1)]
    await assert_location_holds(stack)  # the second batch still holds only its 1 unit


async def test_a_short_pick_never_takes_units_held_back_as_safety_stock(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    parcel = await planned_package(stack, api, quantity=2)
    [only] = await allocated(stack, parcel["package_no"])
    manager = await staff(api, "warehouse_manager")
    [spare] = await spare_locations(stack, only.sku_id, only.warehouse_id, 1)
    await add_batch(
        api,
        manager,
        (only.sku_id, only.warehouse_id, spare),
        quantity_delta=5,
        batch_no="B-SAFETY",
        production_date="2026-11-01",
        expiry_date="2030-11-01",
    )
    async with stack.sessions() as session:
        stock = await session.get(Stock, (only.sku_id, only.warehouse_id))
        assert stock is not None
    hold = stock.safety_hold + await sellable(stack, only.sku_id)  # nothing left to sell
    held = await api.put(
        f"/v1/stock/{only.sku_id}/{only.warehouse_id}/safety-hold",
        headers=manager,
        json={"safety_hold": hold, "reason": "keep a buffer"},
    )
    assert held.status_code == 200, held.text
    task = await claim(api, DEVICE["SH01"])
    assert task is not None
    answer = await report_short(api, task, found=1)
    assert answer.status_code == 200, answer.text
    assert answer.json()["next"]["action"] != "pick"  # no new stop: nothing may be re-allocated
    rows = await allocated(stack, parcel["package_no"])
    assert [(a.location_id, a.quantity, a.picked, a.status) for a in rows] == [
        (only.location_id, 2, 1, "short")
    ]
    async with stack.sessions() as session:
        line = await session.get(Reservation, (parcel["package_no"], only.line_no))
        spare_held = await session.scalar(
            select(func.sum(LocationStock.reserved)).where(LocationStock.location_id == spare)
        )
    assert line is not None and (line.quantity, line.status) == (1, "held")
    assert spare_held == 0
    assert await sellable(stack, only.sku_id) == 0  # the safety stock is still all there
    assert await written_off(stack) == [(only.location_id, -1)]
    await assert_location_holds(stack)


async def test_a_short_report_that_found_everything_is_refused_and_writes_nothing_off(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    parcel = await planned_package(stack, api, quantity=2)
    task = await claim(api, DEVICE["SH01"])
    assert task is not None
    scan = scan_id("short")
    refused = problem(await report_short(api, task, found=2, scan=scan), 409)
    assert (refused["error"], refused["detail"]) == (
        "nothing_short",
        "nothing is short: scan the units instead",
    )
    assert refused["expected"]["remaining"] == 2
    assert problem(await report_short(api, task, found=2, scan=scan), 409) == refused  # stored
    [allocation] = await allocated(stack, parcel["package_no"])
    assert (allocation.picked, allocation.status) == (0, "open")
    done = await scan_stop(api, DEVICE["SH01"], task)  # the units are scanned instead
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "done"
    assert await written_off(stack) == []
    async with stack.sessions() as session:
        zero = await session.scalar(
            select(func.count()).where(
                StockMovement.on_hand_delta == 0, StockMovement.reserved_delta == 0
            )
        )
    assert zero == 0
    await assert_location_holds(stack)


async def test_a_scan_id_used_before_is_refused_for_another_kind_of_scan_or_task(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    parcel = await planned_package(stack, api, quantity=2)
    task = await claim(api, DEVICE["SH01"])
    assert task is not None
    scan = scan_id("once")
    picked = await scan_stop(api, DEVICE["SH01"], task, scan_id=scan, quantity=1)
    assert picked.status_code == 200, picked.text
    reused = problem(await report_short(api, task, found=0, scan=scan), 409)
    assert f"scan id {scan} already used for a pick scan on {task['task_no']}" in reused["detail"]
    put = await api.post(
        f"/v1/waves/{task['wave_no']}/put-wall/scans",
        headers=DEVICE["SH01"],
        json={"scan_id": scan, "sku_barcode": task["next"]["stop"]["sku_barcode"]},
    )
    assert "already used for a pick scan" in problem(put, 409)["detail"]
    again = await scan_stop(api, DEVICE["SH01"], task, scan_id=scan, quantity=1)
    assert again.json() == picked.json()  # the same scan again: its own stored answer
    [allocation] = await allocated(stack, parcel["package_no"])
    assert (allocation.picked, allocation.status) == (1, "open")
    assert await written_off(stack) == []
