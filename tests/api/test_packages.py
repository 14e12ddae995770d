"""Package routes over the whole back office: devices act only in their own warehouse, the
weight check holds a package for a manager, handover needs a waybill, and a lost parcel is
refunded by its value when staff decide so (the carrier's side: test_package_carrier.py)."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select, text

from models.db import MoneyEntry, Refund, Reservation, Warehouse
from tests.support.invariants import assert_stock_invariants
from tests.support.order_api import (
    DEVICE,
    Json,
    events_of,
    only_in,
    package,
    package_row,
    paid_order,
    problem,
    recorded,
    staff,
    track,
    view,
    wait_package,
)
from tests.support.orders import SHOP, eventually, pack_and_hand_over
from tests.support.picking import pick_package
from tests.support.stack import Stack

# --- devices and warehouses ------------------------------------------------------------------


async def test_a_device_of_another_warehouse_is_refused(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    order = await paid_order(stack, api, [(await only_in(stack, "SH01"), 1)])
    [parcel] = order["packages"]
    number = parcel["package_no"]
    path = f"/v1/packages/{number}"
    stranger = DEVICE["GZ01"]

    problem(await api.get(path, headers=stranger), 403)
    problem(await api.post(f"{path}/pack", json={"measured_weight_g": 100}, headers=stranger), 403)
    problem(await api.post(f"{path}/handover", headers=stranger), 403)
    cs = await staff(api, "cs")
    problem(await api.post(f"{path}/pack", json={"measured_weight_g": 100}, headers=cs), 403)
    problem(await api.get("/v1/packages/PK000000000000", headers=DEVICE["SH01"]), 404)

    mine = await package(api, number, DEVICE["SH01"])
    assert (mine["status"], mine["measured_weight_g"]) == ("released", None)
    row = await package_row(stack, number)
    assert (row.status, row.measured_weight_g) == ("released", None)
    assert [e[0] for e in await events_of(stack, number)] == ["released"]


# --- the weight check and handover -----------------------------------------------------------


async def test_a_package_outside_the_weight_tolerance_waits_for_a_managers_override(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    order = await paid_order(stack, api, [(await only_in(stack, "SH01"), 2)])
    number = order["packages"][0]["package_no"]
    device = DEVICE["SH01"]
    path = f"/v1/packages/{number}"
    expected = (await package(api, number, device))["expected_weight_g"]
    assert expected > 0
    # Handing over before there is a waybill is refused (released, then held).
    problem(await api.post(f"{path}/handover", headers=device), 409)
    # Packing before the wave picked it is refused too.
    early = problem(
        await api.post(f"{path}/pack", json={"measured_weight_g": expected}, headers=device), 409
    )
    assert "not picked yet" in early["detail"]
    assert (await pick_package(api, order["packages"][0]))["status"] == "picked"

    heavy = expected * 2 + 100
    held = await api.post(f"{path}/pack", json={"measured_weight_g": heavy}, headers=device)

    assert held.status_code == 200, held.text
    body = held.json()
    assert (body["status"], body["measured_weight_g"], body["waybill_no"]) == (
        "weight_hold",
        heavy,
        None,
    )
    assert str(heavy) in body["hold_reason"] and str(expected) in body["hold_reason"]
    row = await package_row(stack, number)
    assert (row.status, row.measured_weight_g, row.waybill_no) == ("weight_hold", heavy, None)
    problem(await api.post(f"{path}/handover", headers=device), 409)
    reason = {"reason": "复称确认，含赠品包装"}
    problem(await api.post(f"{path}/override-weight", json=reason, headers=device), 403)
    ops = await staff(api, "ops")
    problem(await api.post(f"{path}/override-weight", json=reason, headers=ops), 403)
    manager = await staff(api, "warehouse_manager")
    problem(await api.post(f"{path}/override-weight", json={"reason": ""}, headers=manager), 422)
    assert (await package(api, number, device))["status"] == "weight_hold"

    overridden = await api.post(f"{path}/override-weight", json=reason, headers=manager)

    assert overridden.status_code == 200, overridden.text
    # Answered with the label, as a pack is; the package shows the same.
    assert overridden.json()["status"] == "waybill_created"
    assert overridden.json()["tracking_no"]
    waybilled = await wait_package(api, number, "waybill_created", device)
    assert waybilled["tracking_no"] == overridden.json()["tracking_no"]
    assert waybilled["waybill_no"] and waybilled["tracking_no"]
    assert waybilled["measured_weight_g"] == heavy
    steps = await recorded(stack, number, "waybill_created")
    assert [s[0] for s in steps] == [
        "released",
        "picked",
        "weight_hold",
        "weight_override",
        "waybill_created",
    ]
    _, kind, name, detail = steps[3]
    assert (kind, name, detail["reason"]) == ("user", "warehouse_manager", reason["reason"])
    problem(await api.post(f"{path}/override-weight", json=reason, headers=manager), 409)
    problem(
        await api.post(f"{path}/pack", json={"measured_weight_g": expected}, headers=device), 409
    )
    handed = await api.post(f"{path}/handover", headers=device)
    assert handed.status_code == 200, handed.text
    assert handed.json()["status"] == "shipped"


# --- a lost parcel ---------------------------------------------------------------------------


async def test_a_lost_parcel_refunded_by_ops_refunds_that_packages_value(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> None:
    sku_sh, sku_gz = await only_in(stack, "SH01"), await only_in(stack, "GZ01")
    async with stack.sessions() as session:
        before = dict(
            (
                await session.execute(
                    text("SELECT sku_id, on_hand FROM stocks WHERE sku_id IN (:a, :b)"),
                    {"a": sku_sh, "b": sku_gz},
                )
            ).all()
        )
    order = await paid_order(stack, api, [(sku_sh, 1), (sku_gz, 2)])
    number, payable = order["order_no"], order["payable_fen"]
    codes = {}
    async with stack.sessions() as session:
        codes = dict((await session.execute(select(Warehouse.id, Warehouse.code))).all())
    parcels = {codes[p["warehouse_id"]]: p for p in order["packages"]}
    delivered, lost = parcels["SH01"], parcels["GZ01"]
    [lost_line] = lost["lines"]
    value = next(li["paid_fen"] for li in order["lines"] if li["line_no"] == lost_line["line_no"])
    assert 0 < value < payable

    kept = await pack_and_hand_over(api, delivered)
    gone = await pack_and_hand_over(api, lost)
    problem(await api.post(f"/v1/orders/{number}/cancel", json={}, headers=SHOP), 409)
    # One push per parcel (a push arriving while the previous one is recorded is another test).
    await track(carrier, kept, "delivered")
    await track(carrier, gone, "lost")
    await wait_package(api, delivered["package_no"], "delivered", DEVICE["SH01"])
    await wait_package(api, lost["package_no"], "exception", DEVICE["GZ01"])
    decide = f"/v1/packages/{lost['package_no']}/exception-decision"
    refund = {"decision": "refund", "reason": "承运商确认丢件"}
    problem(await api.post(decide, json=refund, headers=DEVICE["GZ01"]), 403)
    ops = await staff(api, "ops")

    decided = await api.post(decide, json=refund, headers=ops)

    assert decided.status_code == 200, decided.text

    async def settled() -> Json | None:
        found = await view(api, number)
        return found if found["refunded_fen"] and found["status"] == "delivered" else None

    final = await eventually(settled, "the lost package refunded and the order delivered")
    assert (final["paid_fen"], final["refunded_fen"]) == (payable, value)
    async with stack.sessions() as session:
        refunds = list(await session.scalars(select(Refund).where(Refund.order_no == number)))
        balance = await session.scalar(
            select(func.sum(MoneyEntry.amount_fen)).where(MoneyEntry.order_no == number)
        )
        held = await session.scalar(
            select(func.count()).select_from(Reservation).where(Reservation.status == "held")
        )
        after = dict(
            (
                await session.execute(
                    text("SELECT sku_id, on_hand FROM stocks WHERE sku_id IN (:a, :b)"),
                    {"a": sku_sh, "b": sku_gz},
                )
            ).all()
        )
        await assert_stock_invariants(session)
    assert [(r.refund_no, r.amount_fen) for r in refunds] == [
        ("RF" + lost["package_no"][2:], value)
    ]
    assert balance == payable - value
    assert held == 0
    assert after == {sku_sh: before[sku_sh] - 1, sku_gz: before[sku_gz] - 2}  # both left
    decision = [e for e in await events_of(stack, lost["package_no"]) if e[0] == "decided_refund"]
    assert [(e[1], e[2], e[3]["reason"]) for e in decision] == [("user", "ops", "承运商确认丢件")]
    problem(await api.post(decide, json=refund, headers=ops), 409)
    # The delivered parcel exists and has no exception to decide: a state conflict, not 404.
    problem(
        await api.post(
            f"/v1/packages/{delivered['package_no']}/exception-decision", json=refund, headers=ops
        ),
        409,
    )
