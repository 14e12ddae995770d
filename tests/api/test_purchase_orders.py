"""Purchase orders over the whole back office (PostgreSQL, the dev server, a worker): drafting
only an approved supplier's products, tiered approval, in-transit, three deliveries whose
figures add up, over-delivery refused, a duplicate receipt key, another warehouse's device."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select

from models.db import StockMovement
from tests.support.invariants import assert_stock_invariants
from tests.support.order_api import DEVICE, http, problem, staff, warehouse_id
from tests.support.purchasing import (
    approved_po,
    location_in,
    sent,
    stock_of,
    supplier_with_products,
)
from tests.support.stack import Stack

Json = dict[str, Any]


async def test_three_deliveries_short_over_and_a_sample_add_up(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    po, (sku_a, sku_b), sh = await approved_po(stack, api)
    number = po["po_no"]
    buyer = await staff(api, "purchasing")
    shown = await sent(api, number, buyer)
    assert shown["approvals"] and shown["totals"]["open"] == 140
    async with http(stack.supplier) as portal:  # the supplier got it, once
        at_supplier = (await portal.get(f"/v1/orders/{number}")).json()
    ordered = [(ln["quantity"], ln["ship_to"]) for ln in at_supplier["lines"]]
    assert ordered == [(100, "SH01"), (40, "SH01")]
    assert any(e["step"] == "sent_to_supplier"
               and e["detail"]["supplier_order_no"] == at_supplier["supplier_order_no"]
               for e in shown["timeline"])  # fmt: skip
    before_a = await stock_of(stack, sku_a, sh)
    assert before_a[1] >= 100  # in transit since sent
    loc = await location_in(stack, "SH01")
    device = DEVICE["SH01"]

    def receipt(key: str, lines: list[Json], extras: list[Json] | None = None) -> Json:
        batch = {"batch_no": f"B-{key}", "production_date": "2026-11-01",
                 "expiry_date": "2027-11-01"}  # fmt: skip
        return {
            "receipt_key": key,
            "warehouse_id": sh,
            "location_id": loc,
            "lines": [{**line, **batch} for line in lines],
            "extras": [{**extra, **batch} for extra in extras or []],
        }

    path = f"/v1/purchase-orders/{number}/receipts"
    # 1: line 1 short (60 of 100, 2 rejected by QC).
    first = await api.post(
        path,
        json=receipt("d1", [{"line_no": 1, "sku_id": sku_a, "received": 60, "accepted": 58,
                             "rejected": 2}]),
        headers=device,
    )  # fmt: skip
    assert first.status_code == 201, first.text
    # 2: line 2 over by 2 (5 % of 40 allowed), plus a sample of SKU A.
    second = await api.post(
        path,
        json=receipt(
            "d2",
            [{"line_no": 2, "sku_id": sku_b, "received": 42, "accepted": 42}],
            [{"sku_id": sku_a, "quantity": 3, "kind": "sample"}],
        ),
        headers=device,
    )
    assert second.status_code == 201, second.text
    # The same key again: the same receipt, nothing booked twice.
    again = await api.post(
        path,
        json=receipt("d2", [{"line_no": 2, "sku_id": sku_b, "received": 42, "accepted": 42}]),
        headers=device,
    )
    assert again.status_code == 201, again.text
    assert again.json()["duplicate"] is True
    assert again.json()["receipt_no"] == second.json()["receipt_no"]
    # Beyond tolerance: refused, naming the line.
    over = await api.post(
        path,
        json=receipt("d3x", [{"line_no": 2, "sku_id": sku_b, "received": 1, "accepted": 1}]),
        headers=device,
    )
    body = problem(over, 409)
    assert "PO line 2" in body["detail"]
    # 3: the rest of line 1.
    third = await api.post(
        path,
        json=receipt("d3", [{"line_no": 1, "sku_id": sku_a, "received": 42, "accepted": 42}]),
        headers=device,
    )
    assert third.status_code == 201, third.text

    final = third.json()["po"]
    lines = {ln["line_no"]: ln for ln in final["lines"]}
    assert (lines[1]["received"], lines[1]["accepted"], lines[1]["rejected"]) == (102, 100, 2)
    assert (lines[2]["received"], lines[2]["accepted"], lines[2]["open"]) == (42, 42, 0)
    totals = final["totals"]
    assert totals == {
        "ordered": 140,
        "received": 144,
        "accepted": 142,
        "rejected": 2,
        "returned": 0,
        "open": 0,
        "extras": 3,
    }
    assert len(final["receipts"]) == 3
    closed = await api.get(f"/v1/purchase-orders/{number}", headers=buyer)
    for _ in range(100):
        if closed.json()["status"] == "closed":
            break
        await asyncio.sleep(0.1)
        closed = await api.get(f"/v1/purchase-orders/{number}", headers=buyer)
    assert (closed.json()["status"], closed.json()["close_reason"]) == ("closed", "fully_received")
    on_hand_a, transit_a = await stock_of(stack, sku_a, sh)
    assert on_hand_a - before_a[0] == 100 + 3  # accepted + the sample
    assert transit_a == before_a[1] - 100
    async with stack.sessions() as session:
        kinds = dict(
            (
                await session.execute(
                    select(StockMovement.movement_type, func.sum(StockMovement.on_hand_delta))
                    .where(StockMovement.ref_no.in_(final["receipts"]))
                    .group_by(StockMovement.movement_type)
                )
            ).all()
        )
        await assert_stock_invariants(session)
    assert kinds == {"purchase_in": 142, "sample_in": 3, "purchase_arrived": 0}


async def test_only_approved_suppliers_products_and_the_right_warehouse(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    buyer = await staff(api, "purchasing")
    pending, pending_skus = await supplier_with_products(stack, "pending")
    sh = await warehouse_id(stack, "SH01")
    line = {"sku_id": pending_skus[0], "warehouse_id": sh, "quantity": 1}
    problem(
        await api.post(
            "/v1/purchase-orders", json={"supplier_id": pending, "lines": [line]}, headers=buyer
        ),
        409,
    )
    supplier, _ = await supplier_with_products(stack)
    foreign = {**line, "sku_id": pending_skus[0]}
    refused = problem(
        await api.post(
            "/v1/purchase-orders", json={"supplier_id": supplier, "lines": [foreign]}, headers=buyer
        ),
        422,
    )
    assert "not a product of" in str(refused)
    po, (sku_a, _), sh = await approved_po(stack, api)
    await sent(api, po["po_no"], buyer)
    other = {
        "receipt_key": "gz",
        "warehouse_id": sh,
        "location_id": await location_in(stack, "SH01"),
        "lines": [{"line_no": 1, "sku_id": sku_a, "received": 1, "accepted": 1, "batch_no": "B1"}],
    }
    problem(
        await api.post(
            f"/v1/purchase-orders/{po['po_no']}/receipts", json=other, headers=DEVICE["GZ01"]
        ),
        403,
    )
    # The submitter's own approval and a finance approval the PO does not need are refused.
    problem(await api.post(f"/v1/purchase-orders/{po['po_no']}/submit", headers=buyer), 409)
