"""Wave picking over the whole back office: plan now, devices claim and scan (stored once,
mistakes refused with what was expected, own warehouse only), two devices never share a task,
short picks re-allocated or left short, and cancelled packages leaving their wave."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import httpx
from pypdf import PdfReader
from sqlalchemy import func, select, text

from core.security import hash_api_key, new_api_key
from models.db import ApiKey, AuditEntry, LocationStock, PickAllocation, StockMovement
from tests.support.invariants import assert_stock_invariants
from tests.support.order_api import (
    DEVICE,
    Json,
    figures,
    only_in,
    package,
    paid_order,
    problem,
    skus_in,
    staff,
    warehouse_id,
)
from tests.support.orders import eventually
from tests.support.picking import (
    claim,
    pick_everything,
    pick_package,
    pick_task,
    plan_now,
    scan_id,
    scan_stop,
    staff_release_reason,
)
from tests.support.stack import Stack


async def assert_location_holds(stack: Stack) -> None:
    """Each batch's reserved units are exactly what live allocations hold there."""
    async with stack.sessions() as session:
        wrong = (
            await session.execute(
                text(
                    """
            SELECT l.id FROM location_stocks l
            LEFT JOIN (SELECT location_stock_id, SUM(CASE
                          WHEN status IN ('open','picked') THEN quantity
                          WHEN status = 'short' THEN picked ELSE 0 END) AS held
                       FROM pick_allocations GROUP BY location_stock_id) a
              ON a.location_stock_id = l.id
            WHERE l.reserved <> COALESCE(a.held, 0)"""
                )
            )
        ).all()
        assert wrong == []
        await assert_stock_invariants(session)


async def allocated(stack: Stack, package_no: str) -> list[PickAllocation]:
    async with stack.sessions() as session:
        rows = await session.scalars(
            select(PickAllocation)
            .where(PickAllocation.package_no == package_no)
            .order_by(PickAllocation.id)
        )
        return list(rows)


async def device_key(stack: Stack, code: str, name: str) -> dict[str, str]:
    key, prefix = new_api_key()
    async with stack.sessions() as session:
        session.add(
            ApiKey(
                name=name,
                prefix=prefix,
                key_hash=hash_api_key(key),
                role="device",
                warehouse_id=await warehouse_id(stack, code),
            )
        )
        await session.commit()
    return {"X-API-Key": key}


async def planned_package(stack: Stack, api: httpx.AsyncClient, quantity: int = 2) -> Json:
    order = await paid_order(stack, api, [(await only_in(stack, "SH01"), quantity)])
    [parcel] = order["packages"]
    await eventually(lambda: _status_is(api, parcel["package_no"], "released"), "package released")
    [wave] = await plan_now(api, parcel["warehouse_id"])
    assert (wave["orders"], wave["units"], wave["release_reason"]) == (
        1,
        quantity,
        staff_release_reason(wave),
    )
    return {**parcel, "order_no": order["order_no"]}


async def _status_is(api: httpx.AsyncClient, number: str, status: str) -> bool:
    return (await package(api, number, DEVICE["SH01"]))["status"] == status


# --- scans ---------------------------------------------------------------------------------


async def test_scans_are_stored_once_and_mistakes_are_refused_with_what_was_expected(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    parcel = await planned_package(stack, api)
    device = DEVICE["SH01"]
    task = await claim(api, device)
    assert task is not None and task["status"] == "claimed"
    stop = task["next"]["stop"]
    path = f"/v1/pick-tasks/{task['task_no']}/scans"

    def body(**change: Any) -> dict[str, Any]:
        return {
            "scan_id": scan_id(),
            "location_barcode": stop["location_barcode"],
            "sku_barcode": stop["sku_barcode"],
            "quantity": 1,
        } | change

    wrong_place = body(location_barcode="LOC-NOWHERE")
    refused = problem(await api.post(path, headers=device, json=wrong_place), 409)
    assert refused["error"] == "wrong_location"
    assert refused["expected"]["location_barcode"] == stop["location_barcode"]
    # The same scan id again gets the stored answer.
    assert (await api.post(path, headers=device, json=wrong_place)).json() == refused
    wrong_sku = problem(await api.post(path, headers=device, json=body(sku_barcode="690000")), 409)
    assert (wrong_sku["error"], wrong_sku["expected"]["sku_barcode"]) == (
        "wrong_sku",
        stop["sku_barcode"],
    )
    over = problem(await api.post(path, headers=device, json=body(quantity=3)), 409)
    assert (over["error"], over["expected"]["remaining"]) == ("over_pick", 2)

    # Another warehouse's device may not touch the task, not even read it.
    stranger = DEVICE["GZ01"]
    problem(await api.post(path, headers=stranger, json=body()), 403)
    problem(await api.get(f"/v1/pick-tasks/{task['task_no']}", headers=stranger), 403)
    problem(await api.get(f"/v1/waves/{task['wave_no']}", headers=stranger), 403)

    # Five retries of one scan, at once: one effect, five times the same answer.
    once = body(quantity=2)
    answers = await asyncio.gather(*(api.post(path, headers=device, json=once) for _ in range(5)))
    assert {a.status_code for a in answers} == {200}
    assert all(a.json() == answers[0].json() for a in answers)
    assert answers[0].json()["next"]["action"] == "pack"
    [allocation] = await allocated(stack, parcel["package_no"])
    assert (allocation.quantity, allocation.picked, allocation.status) == (2, 2, "picked")

    shown = await package(api, parcel["package_no"], device)
    picked = await pick_package(api, parcel)  # already picked: the wave tells the package
    assert (picked["status"], picked["expected_weight_g"]) == ("picked", shown["expected_weight_g"])
    manager = await staff(api, "warehouse_manager")

    async def wave_done() -> Json | None:
        wave: Json = (await api.get(f"/v1/waves/{task['wave_no']}", headers=manager)).json()
        return wave if wave["status"] == "done" else None

    wave = await eventually(wave_done, "wave done")
    assert wave["progress"] == {
        "tasks_done": 1,
        "tasks_short": 0,
        "tasks_open": 0,
        "tasks_cancelled": 0,
        "units_allocated": 2,
        "units_picked": 2,
    }
    listed = (await api.get("/v1/waves?status=done", headers=manager)).json()
    assert [w["wave_no"] for w in listed["data"]] == [task["wave_no"]]
    assert (await claim(api, device)) is None  # nothing left to pick
    await assert_location_holds(stack)


async def test_two_devices_racing_for_one_task_never_both_get_it(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    await planned_package(stack, api, quantity=1)
    first, second = DEVICE["SH01"], await device_key(stack, "SH01", "pda-sh01-2")
    answers = await asyncio.gather(
        api.get("/v1/devices/me/next-task", headers=first),
        api.get("/v1/devices/me/next-task", headers=second),
    )
    assert sorted(a.status_code for a in answers) == [200, 204]
    winner, loser = (first, second) if answers[0].status_code == 200 else (second, first)
    task = next(a for a in answers if a.status_code == 200).json()
    # The loser cannot scan it; the winner gets the same task back when it asks again.
    refused = problem(await scan_stop(api, loser, task), 409)
    assert "claimed by" in refused["detail"]
    again = await claim(api, winner)
    assert again is not None and again["task_no"] == task["task_no"]
    done = await pick_task(api, winner, again)
    assert done["status"] == "done"
    # Asking again for the task it holds is no claim: one claim, audited once.
    async with stack.sessions() as session:
        claims = await session.scalar(
            select(func.count()).where(
                AuditEntry.action == "pick_task.claim", AuditEntry.object_id == task["task_no"]
            )
        )
    assert claims == 1


# --- short picks ------------------------------------------------------------------------------


async def test_a_short_pick_is_reallocated_to_another_location_of_the_warehouse(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    parcel = await planned_package(stack, api, quantity=2)
    device = DEVICE["SH01"]
    task = await claim(api, device)
    assert task is not None
    [first] = await allocated(stack, parcel["package_no"])
    before = await figures(stack)
    # Elsewhere in the warehouse: 5 more units at a location the SKU was not at.
    manager = await staff(api, "warehouse_manager")
    async with stack.sessions() as session:
        used = set(
            await session.scalars(
                select(LocationStock.location_id).where(LocationStock.sku_id == first.sku_id)
            )
        )
        spare = await session.scalar(
            text(
                "SELECT id FROM locations WHERE warehouse_id = :w AND kind = 'storage' "
                "AND NOT (id = ANY(:used)) ORDER BY id DESC LIMIT 1"
            ),
            {"w": first.warehouse_id, "used": list(used)},
        )
    added = await api.post(
        "/v1/stock/adjustments",
        headers=manager,
        json={
            "sku_id": first.sku_id,
            "warehouse_id": first.warehouse_id,
            "location_id": spare,
            "quantity_delta": 5,
            "batch_no": "B-FOUND",
            "production_date": "2026-11-01",
            "expiry_date": "2027-11-01",
            "reason": "found during a count",
        },
    )
    assert added.status_code == 201, added.text
    # Only 1 of 2 is at the first location: picked, the other is short there.
    short = await api.post(
        f"/v1/pick-tasks/{task['task_no']}/short",
        headers=device,
        json={"scan_id": scan_id(), "found": 1},
    )
    assert short.status_code == 200, short.text
    step = short.json()["next"]
    assert step["action"] == "pick"
    assert step["stop"]["remaining"] == 1
    assert step["stop"]["location_barcode"] != task["next"]["stop"]["location_barcode"]
    done = await pick_task(api, device, short.json())
    assert done["status"] == "short"  # the task had a short stop, the package has everything
    picked = await pick_package(api, parcel)
    assert picked["status"] == "picked"
    rows = await allocated(stack, parcel["package_no"])
    assert [(a.quantity, a.picked, a.status) for a in rows] == [(2, 1, "short"), (1, 1, "picked")]
    async with stack.sessions() as session:
        written_off = (
            await session.execute(
                select(StockMovement.location_id, StockMovement.on_hand_delta).where(
                    StockMovement.movement_type == "pick_short"
                )
            )
        ).all()
    assert written_off == [(first.location_id, -1)]
    after = await figures(stack)
    key = (first.sku_id, first.warehouse_id)
    assert after[key][0] == before[key][0] + 5 - 1  # on hand: +5 found, -1 not found
    assert after[key][1] == before[key][1]  # still reserved for the package: all 2 units
    await assert_location_holds(stack)


async def test_a_cancelled_order_leaves_its_wave_and_picked_units_go_back(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    parcel = await planned_package(stack, api, quantity=3)
    device = DEVICE["SH01"]
    before = await figures(stack)
    task = await claim(api, device)
    assert task is not None
    answer = await scan_stop(api, device, task, quantity=1)  # 1 of 3 picked, then cancelled
    assert answer.status_code == 200, answer.text
    cs = await staff(api, "cs")
    cancelled = await api.post(
        f"/v1/orders/{parcel['order_no']}/cancel", headers=cs, json={"reason": "客户要求取消"}
    )
    assert cancelled.status_code == 200, cancelled.text
    await eventually(lambda: _status_is(api, parcel["package_no"], "cancelled"), "cancelled")
    rows = await allocated(stack, parcel["package_no"])
    assert [(a.picked, a.status) for a in rows] == [(1, "cancelled")]
    again = (await api.get(f"/v1/pick-tasks/{task['task_no']}", headers=device)).json()
    assert again["status"] == "cancelled"
    assert [s["status"] for s in again["stops"]] == ["cancelled"]
    assert (await claim(api, device)) is None
    after = await figures(stack)
    key = (rows[0].sku_id, rows[0].warehouse_id)
    assert after[key][0] == before[key][0]  # nothing left the warehouse
    assert after[key][1] == before[key][1] - 3  # no longer reserved
    async with stack.sessions() as session:
        held = await session.scalar(
            select(func.sum(LocationStock.reserved)).where(LocationStock.sku_id == key[0])
        )
    assert held == 0
    await assert_location_holds(stack)


async def test_picking_in_one_warehouse_leaves_the_other_alone(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    await planned_package(stack, api, quantity=1)
    assert (await claim(api, DEVICE["GZ01"])) is None
    assert await pick_everything(api, DEVICE["SH01"])


async def test_the_put_wall_sorts_a_multi_line_package_and_sends_strangers_to_the_exception_tote(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    one, two = await skus_in(stack, "SH01", count=2)
    order = await paid_order(stack, api, [(one, 1), (two, 2)])
    [parcel] = order["packages"]
    device = DEVICE["SH01"]
    [wave] = await plan_now(api, parcel["warehouse_id"])
    assert wave["profile"] == "multi_line"
    [task] = await pick_everything(api, device)
    assert task["next"] == {"action": "put_wall", "wave_no": wave["wave_no"]}
    assert (await package(api, parcel["package_no"], device))["status"] == "released"
    barcodes = {}
    async with stack.sessions() as session:
        for sku in (one, two):
            barcodes[sku] = await session.scalar(text(f"SELECT barcode FROM skus WHERE id = {sku}"))
    path = f"/v1/waves/{wave['wave_no']}/put-wall/scans"

    async def put(barcode: str, scan: str | None = None) -> Json:
        answer = await api.post(
            path, headers=device, json={"scan_id": scan or scan_id("p"), "sku_barcode": barcode}
        )
        assert answer.status_code == 200, answer.text
        body: Json = answer.json()
        return body

    stranger = await put("6900000000000")
    assert (stranger["accepted"], stranger["action"]) == (False, "exception_tote")
    first = await put(barcodes[one], "put-first-unit")
    assert (first["action"], first["slot_no"], first["slot_complete"]) == ("put", 1, False)
    assert await put(barcodes[one], "put-first-unit") == first  # a resent scan: same answer
    extra = await put(barcodes[one])  # one was picked, one is on the wall: not from this wave
    assert extra["action"] == "exception_tote"
    await put(barcodes[two])
    last = await put(barcodes[two])
    assert (last["slot_complete"], last["next"]) == (
        True,
        {"action": "pack", "package_no": parcel["package_no"]},
    )
    picked = await pick_package(api, parcel)
    assert picked["status"] == "picked"
    problem(
        await api.post(
            path, headers=DEVICE["GZ01"], json={"scan_id": scan_id(), "sku_barcode": "x"}
        ),
        403,
    )
    listed = await api.get(f"/v1/pick-tasks/{task['task_no']}/pick-list.pdf", headers=device)
    assert listed.status_code == 200 and listed.headers["content-type"] == "application/pdf"
    words = "".join(p.extract_text() for p in PdfReader(io.BytesIO(listed.content)).pages)
    assert task["task_no"] in words
    assert all(stop["location_code"] in words for stop in task["stops"])
    again = await api.get(f"/v1/pick-tasks/{task['task_no']}/pick-list.pdf", headers=device)
    assert again.content == listed.content


async def test_a_package_no_cutoff_can_promise_is_flagged_and_listed_not_planned(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    async with stack.sessions() as session:  # SF stops collecting at SH01
        await session.execute(
            text(
                "DELETE FROM carrier_cutoffs WHERE carrier_id = (SELECT id FROM carriers "
                "WHERE code = 'SF') AND warehouse_id = (SELECT id FROM warehouses "
                "WHERE code = 'SH01')"
            )
        )
        await session.commit()
    order = await paid_order(stack, api, [(await only_in(stack, "SH01"), 1)])
    [parcel] = order["packages"]
    assert await plan_now(api, parcel["warehouse_id"]) == []
    manager = await staff(api, "warehouse_manager")
    path = f"/v1/warehouses/{parcel['warehouse_id']}/outbound"
    flagged = (await api.get(f"{path}?flagged=true", headers=manager)).json()
    assert [(o["package_no"], o["status"]) for o in flagged["data"]] == [
        (parcel["package_no"], "waiting")
    ]
    assert "no cutoff configured for carrier SF" in flagged["data"][0]["flag_reason"]
    assert (await api.get(f"{path}?flagged=false", headers=manager)).json()["count"] == 0
    problem(await api.get(path, headers=DEVICE["GZ01"]), 403)
