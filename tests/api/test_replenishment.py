"""Replenishment over the whole back office: a SKU below its reorder point shows in the
low-stock list and gets a draft PO for its preferred supplier, up to the reorder level in whole
purchase units; a second run drafts nothing while that PO is open; each warehouse has its
schedule."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from temporalio.client import Client

from models.contracts.purchasing import PoPolicy, PoTimings
from models.db import Stock, Supplier, SupplierProduct, Warehouse
from models.domain.purchasing import replenishment_quantity
from tests.support.order_api import problem, staff, warehouse_id
from tests.support.stack import Stack
from workers.schedules import ensure_replenishment_schedules

Json = dict[str, Any]


async def preferred_sku(stack: Stack, code: str) -> tuple[int, int, int, int, int]:
    """A SKU stocked in `code` with a preferred approved supplier, made to come in cases of 6:
    (sku, supplier, price, sellable, in transit)."""
    wh = await warehouse_id(stack, code)
    async with stack.sessions() as session:
        row = (
            await session.execute(
                select(
                    SupplierProduct.sku_id,
                    SupplierProduct.supplier_id,
                    SupplierProduct.supply_price_fen,
                    Stock.on_hand - Stock.reserved - Stock.safety_hold,
                    Stock.in_transit,
                )
                .join(Supplier, Supplier.id == SupplierProduct.supplier_id)
                .join(Stock, Stock.sku_id == SupplierProduct.sku_id)
                .where(
                    SupplierProduct.preferred,
                    Supplier.status == "approved",
                    Stock.warehouse_id == wh,
                    Stock.on_hand > 0,
                )
                .order_by(SupplierProduct.sku_id)
            )
        ).first()
        assert row is not None
        await session.execute(
            update(SupplierProduct)
            .where(SupplierProduct.sku_id == row[0], SupplierProduct.preferred)
            .values(units_per_purchase_unit=6)
        )
        await session.commit()
    return int(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[4])


async def test_a_sku_below_its_reorder_point_is_drafted_once(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    sku, supplier, price, sellable, in_transit = await preferred_sku(stack, "SH01")
    sh = await warehouse_id(stack, "SH01")
    buyer = await staff(api, "purchasing")
    point, level = sellable + in_transit + 10, sellable + in_transit + 25
    bad = {"sku_id": sku, "warehouse_id": sh, "reorder_point": 10, "reorder_level": 5}
    problem(await api.put("/v1/reorder-rules", json=bad, headers=buyer), 422)
    rule = {"sku_id": sku, "warehouse_id": sh, "reorder_point": point, "reorder_level": level}
    assert (await api.put("/v1/reorder-rules", json=rule, headers=buyer)).status_code == 200

    ops = await staff(api, "ops")
    low = (await api.get("/v1/stock/low", params={"warehouse_id": sh}, headers=ops)).json()
    assert {"sku_id": sku, "warehouse_id": sh, "sellable": sellable, "in_transit": in_transit,
            "reorder_point": point, "reorder_level": level} in low  # fmt: skip

    first = await api.post(f"/v1/warehouses/{sh}/replenish", headers=buyer)
    assert first.status_code == 200, first.text
    drafted = first.json()["drafted"]
    assert len(drafted) >= 1
    pos = [(await api.get(f"/v1/purchase-orders/{no}", headers=buyer)).json() for no in drafted]
    [po] = [p for p in pos if sku in [ln["sku_id"] for ln in p["lines"]]]
    [line] = [ln for ln in po["lines"] if ln["sku_id"] == sku]
    position = {"sellable": sellable, "in_transit": in_transit}
    rule_of = {"reorder_point": point, "reorder_level": level, "purchase_unit": 6}
    expected = replenishment_quantity(**position, **rule_of)
    assert (po["supplier_id"], po["status"]) == (supplier, "draft")
    assert (line["quantity"], line["unit_price_fen"], line["warehouse_id"]) == (expected, price, sh)
    assert line["quantity"] % 6 == 0 and sellable + in_transit + line["quantity"] >= level

    second = await api.post(f"/v1/warehouses/{sh}/replenish", headers=buyer)
    assert second.status_code == 200, second.text
    again = [(await api.get(f"/v1/purchase-orders/{n}", headers=buyer)).json()
             for n in second.json()["drafted"]]  # fmt: skip
    assert all(sku not in [ln["sku_id"] for ln in p["lines"]] for p in again)
    # The draft goes through approval like any PO (the system drafted it; people decide).
    submitted = await api.post(f"/v1/purchase-orders/{po['po_no']}/submit", headers=buyer)
    assert submitted.status_code == 200, submitted.text


async def test_every_warehouse_gets_a_replenishment_schedule(
    stack: Stack, dev_client: Client
) -> None:
    async with stack.sessions() as session:
        codes = sorted(await session.scalars(select(Warehouse.code)))
    kwargs: Json = {"task_queue": stack.task_queue, "timings": PoTimings(), "policy": PoPolicy()}
    ids = await ensure_replenishment_schedules(
        dev_client, stack.sessions, every=timedelta(hours=2), **kwargs
    )
    again = await ensure_replenishment_schedules(
        dev_client, stack.sessions, every=timedelta(minutes=30), **kwargs
    )  # exists: updated, not duplicated
    try:
        assert ids == again == [f"replenish-{c}" for c in codes]
        described = await dev_client.get_schedule_handle(ids[0]).describe()
        [interval] = described.schedule.spec.intervals
        assert interval.every == timedelta(minutes=30)
    finally:
        for schedule_id in ids:
            await dev_client.get_schedule_handle(schedule_id).delete()
