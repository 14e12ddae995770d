"""Recorded scenarios (tests/replay/record_every.py): purchasing, settlement, replenishment,
transfers, reconciliation and diagnostics."""

from __future__ import annotations

from datetime import UTC, date, datetime

from models.domain.reconciliation import business_day
from tests.replay.scenario_clients import LONG_AGO, Clients
from tests.support.order_api import (
    DEVICE,
    Json,
    only_in,
    paid_order,
    staff,
    warehouse_id,
)
from tests.support.orders import (
    eventually,
    wait_cancelled,
)
from tests.support.purchasing import location_in, sent, supplier_with_products, wait_po

# --- purchasing, settlement, replenishment -----------------------------------------------------


async def _po(
    c: Clients, unit_price_fen: int, quantities: tuple[int, int]
) -> tuple[Json, list[int], int]:
    """A PO of the demo supplier's two SKUs to SH01, created and submitted by purchasing."""
    supplier, skus = await supplier_with_products(c.stack)
    loc_wh = (await c.api.get("/v1/warehouses", headers=DEVICE["SH01"])).json()["data"][0]["id"]
    buyer = await staff(c.api, "purchasing")
    body = {
        "supplier_id": supplier,
        "lines": [
            {"sku_id": sku, "warehouse_id": loc_wh, "quantity": q, "unit_price_fen": unit_price_fen}
            for sku, q in zip(skus, quantities, strict=True)
        ],
    }
    created = await c.api.post("/v1/purchase-orders", json=body, headers=buyer)
    assert created.status_code == 201, created.text
    po: Json = created.json()
    submitted = await c.api.post(f"/v1/purchase-orders/{po['po_no']}/submit", headers=buyer)
    assert submitted.status_code == 200, submitted.text
    return submitted.json(), skus, loc_wh


async def _approve(c: Clients, po_no: str, role: str) -> None:
    approved = await c.api.post(
        f"/v1/purchase-orders/{po_no}/approve", json={}, headers=await staff(c.api, role)
    )
    assert approved.status_code == 200, approved.text


async def _receive(c: Clients, po_no: str, sh: int, key: str, lines: list[Json]) -> None:
    body = {
        "receipt_key": key,
        "warehouse_id": sh,
        "location_id": await location_in(c.stack, "SH01"),
        "lines": [{**line, "batch_no": f"B-{key}"} for line in lines],
    }
    path = f"/v1/purchase-orders/{po_no}/receipts"
    answer = await c.api.post(path, json=body, headers=DEVICE["SH01"])
    assert answer.status_code == 201, answer.text


async def _invoice(c: Clients, po_no: str, number: str, when: str, lines: list[Json]) -> Json:
    finance = await staff(c.api, "finance")
    body = {"invoice_no": number, "invoice_date": when, "lines": lines}
    path = f"/v1/purchase-orders/{po_no}/invoices"
    booked = await c.api.post(path, json=body, headers=finance)
    assert booked.status_code == 201, booked.text
    found: Json = booked.json()
    return found


async def _invoice_status(c: Clients, po_no: str, invoice_no: str, status: str) -> None:
    finance = await staff(c.api, "finance")
    path = f"/v1/purchase-orders/{po_no}/invoices/{invoice_no}"

    async def reached() -> bool:
        return bool((await c.api.get(path, headers=finance)).json().get("status") == status)

    await eventually(reached, f"invoice {invoice_no} {status}")


async def purchase_tiered(c: Clients) -> None:
    """A PO above the two-level threshold: approved by the purchasing manager and by finance,
    sent to the supplier, received in two deliveries (fully), invoiced as ordered and due long
    ago: paid at once (SettlementWorkflow), the PO settled."""
    po, (sku_a, sku_b), sh = await _po(c, 50_000, (100, 40))
    number = po["po_no"]
    assert sorted(po["required_roles"]) == ["finance", "purchasing_manager"], po
    await _approve(c, number, "purchasing_manager")
    await _approve(c, number, "finance")
    buyer = await staff(c.api, "purchasing")
    await sent(c.api, number, buyer)
    await _receive(c, number, sh, "d1", [{"line_no": 1, "sku_id": sku_a, "received": 60,
                                          "accepted": 60}])  # fmt: skip
    await _receive(c, number, sh, "d2", [
        {"line_no": 1, "sku_id": sku_a, "received": 40, "accepted": 40},
        {"line_no": 2, "sku_id": sku_b, "received": 40, "accepted": 40},
    ])  # fmt: skip
    lines = [
        {"line_no": 1, "sku_id": sku_a, "quantity": 100, "unit_price_fen": 50_000},
        {"line_no": 2, "sku_id": sku_b, "quantity": 40, "unit_price_fen": 50_000},
    ]
    await _invoice(c, number, "INV-T1", LONG_AGO, lines)
    await _invoice_status(c, number, "INV-T1", "paid")
    await wait_po(c.api, number, "settled", await staff(c.api, "finance"))
    c.finished(f"po-{number}", f"settle-{number}")


async def purchase_short_mismatch(c: Clients) -> None:
    """One approval level; received short with units rejected, closed short by purchasing;
    invoiced at another price: the mismatch waits for finance, who approves it; paid."""
    po, (sku_a, sku_b), sh = await _po(c, 250, (100, 40))
    number = po["po_no"]
    assert po["required_roles"] == ["purchasing_manager"], po
    await _approve(c, number, "purchasing_manager")
    buyer = await staff(c.api, "purchasing")
    await sent(c.api, number, buyer)
    await _receive(c, number, sh, "all", [
        {"line_no": 1, "sku_id": sku_a, "received": 100, "accepted": 95, "rejected": 5},
        {"line_no": 2, "sku_id": sku_b, "received": 40, "accepted": 40},
    ])  # fmt: skip
    closing = await c.api.post(
        f"/v1/purchase-orders/{number}/close", json={"reason": "5 rejected"}, headers=buyer
    )
    assert closing.status_code == 200, closing.text
    lines = [
        {"line_no": 1, "sku_id": sku_a, "quantity": 100, "unit_price_fen": 260},
        {"line_no": 2, "sku_id": sku_b, "quantity": 40, "unit_price_fen": 250},
    ]
    booked = await _invoice(c, number, "INV-M1", LONG_AGO, lines)
    assert booked["status"] == "mismatch", booked
    decided = await c.api.post(
        f"/v1/purchase-orders/{number}/invoices/INV-M1/decision",
        json={"approve": True, "reason": "price rise agreed"},
        headers=await staff(c.api, "finance"),
    )
    assert decided.status_code == 200, decided.text
    await _invoice_status(c, number, "INV-M1", "paid")
    c.finished(f"po-{number}", f"settle-{number}")


async def purchase_payable_later(c: Clients) -> None:
    """One approval level, received in full, invoiced as ordered today: payable, the settlement
    waits on a durable timer for the supplier's terms (recorded while it waits)."""
    po, (sku_a, sku_b), sh = await _po(c, 250, (20, 10))
    number = po["po_no"]
    await _approve(c, number, "purchasing_manager")
    buyer = await staff(c.api, "purchasing")
    await sent(c.api, number, buyer)
    await _receive(c, number, sh, "all", [
        {"line_no": 1, "sku_id": sku_a, "received": 20, "accepted": 20},
        {"line_no": 2, "sku_id": sku_b, "received": 10, "accepted": 10},
    ])  # fmt: skip
    lines = [
        {"line_no": 1, "sku_id": sku_a, "quantity": 20, "unit_price_fen": 250},
        {"line_no": 2, "sku_id": sku_b, "quantity": 10, "unit_price_fen": 250},
    ]
    booked = await _invoice(c, number, "INV-L1", date.today().isoformat(), lines)
    assert booked["status"] == "payable", booked
    assert date.fromisoformat(booked["due_date"]) > date.today(), booked


async def purchase_rejected(c: Clients) -> None:
    """A PO the purchasing manager rejects: the process ends."""
    po, _, _ = await _po(c, 250, (10, 10))
    manager = await staff(c.api, "purchasing_manager")
    rejected = await c.api.post(
        f"/v1/purchase-orders/{po['po_no']}/reject",
        json={"reason": "not this quarter"},
        headers=manager,
    )
    assert rejected.status_code == 200, rejected.text
    c.finished(f"po-{po['po_no']}")


async def purchase_cancelled(c: Clients) -> None:
    """A PO submitted, then cancelled by purchasing before anyone approved it."""
    po, _, _ = await _po(c, 250, (10, 10))
    buyer = await staff(c.api, "purchasing")
    cancelled = await c.api.post(
        f"/v1/purchase-orders/{po['po_no']}/cancel", json={"reason": "ordered twice"}, headers=buyer
    )
    assert cancelled.status_code == 200, cancelled.text
    c.finished(f"po-{po['po_no']}")


async def replenishment(c: Clients) -> None:
    """A SKU below its reorder point: "replenish now" drafts a PO (a child PurchaseOrderWorkflow
    the run leaves running); purchasing submits it, the manager approves it, it is sent (recorded
    while it waits for the goods)."""
    from tests.api.test_replenishment import preferred_sku

    sku, _supplier, _price, sellable, in_transit = await preferred_sku(c.stack, "SH01")
    sh = (await c.api.get("/v1/warehouses", headers=DEVICE["SH01"])).json()["data"][0]["id"]
    buyer = await staff(c.api, "purchasing")
    point, level = sellable + in_transit + 10, sellable + in_transit + 25
    rule = {"sku_id": sku, "warehouse_id": sh, "reorder_point": point, "reorder_level": level}
    assert (await c.api.put("/v1/reorder-rules", json=rule, headers=buyer)).status_code == 200
    answer = await c.api.post(f"/v1/warehouses/{sh}/replenish", headers=buyer)
    assert answer.status_code == 200, answer.text
    drafted = answer.json()["drafted"]
    assert drafted, answer.text
    po_no = drafted[0]
    submitted = await c.api.post(f"/v1/purchase-orders/{po_no}/submit", headers=buyer)
    assert submitted.status_code == 200, submitted.text
    await _approve(c, po_no, "purchasing_manager")
    await sent(c.api, po_no, buyer)


# --- transfers between warehouses --------------------------------------------------------------


async def _transfer(c: Clients, key: str, quantity: int) -> tuple[str, int, Json]:
    """SH01 → GZ01 requested by ops; returns the number, SH01's id and the manager's headers."""
    from tests.support.transfers import request_transfer

    sh, gz = await warehouse_id(c.stack, "SH01"), await warehouse_id(c.stack, "GZ01")
    sku = await only_in(c.stack, "SH01")
    asked = await request_transfer(
        c.api, sh, gz, [(sku, quantity)], await staff(c.api, "ops"), request_key=key
    )
    assert asked.status_code == 201, asked.text
    return asked.json()["transfer_no"], sh, await staff(c.api, "warehouse_manager")


async def transfer_received(c: Clients) -> None:
    """Approved by the source's manager, picked in a wave (planner and wave workflows), shipped,
    received at GZ01 by its device with one unit damaged and one short: closed."""
    from tests.support.transfers import pick_transfer

    number, sh, manager = await _transfer(c, "replay-tr", 3)
    approved = await c.api.post(f"/v1/transfers/{number}/approve", headers=manager)
    assert approved.status_code == 200, approved.text
    await pick_transfer(c.api, DEVICE["SH01"], sh, number)
    shipped = await c.api.post(f"/v1/transfers/{number}/ship", headers=manager)
    assert shipped.status_code == 200, shipped.text
    receipt = {"receipt_key": "replay-r1", "lines": [{"line_no": 1, "good": 1, "damaged": 1}]}
    path = f"/v1/transfers/{number}/receive"
    received = await c.api.post(path, json=receipt, headers=DEVICE["GZ01"])
    assert received.status_code == 200, received.text
    c.finished(f"transfer-{number}")


async def transfer_rejected(c: Clients) -> None:
    """Rejected by the source's manager: the reservation released."""
    number, _, manager = await _transfer(c, "replay-tr-rej", 1)
    body = {"reason": "源仓库存要留给大促"}
    rejected = await c.api.post(f"/v1/transfers/{number}/reject", json=body, headers=manager)
    assert rejected.status_code == 200, rejected.text
    c.finished(f"transfer-{number}")


async def transfer_cancelled_after_picking(c: Clients) -> None:
    """Approved and picked, then cancelled before shipping: the picks go back, the reservation
    is released."""
    from tests.support.transfers import pick_transfer

    number, sh, manager = await _transfer(c, "replay-tr-cxl", 2)
    approved = await c.api.post(f"/v1/transfers/{number}/approve", headers=manager)
    assert approved.status_code == 200, approved.text
    await pick_transfer(c.api, DEVICE["SH01"], sh, number)
    body = {"reason": "不调了"}
    cancelled = await c.api.post(f"/v1/transfers/{number}/cancel", json=body, headers=manager)
    assert cancelled.status_code == 200, cancelled.text
    c.finished(f"transfer-{number}")


# --- finance and operations --------------------------------------------------------------------


async def reconciliation(c: Clients) -> None:
    """A paid order kept, one cancelled and refunded; the provider's statement altered (an
    amount changed, the refund left out, a phantom payment); finance reconciles the day: the
    differences recorded."""
    from tests.api.test_reconciliation import plant
    from tests.support.order_api import money_entries, refunds

    kept = await paid_order(c.stack, c.api, [(await only_in(c.stack, "SH01"), 1)], key="rec-1")
    order = await paid_order(c.stack, c.api, [(await only_in(c.stack, "GZ01"), 1)], key="rec-2")
    cs = await staff(c.api, "cs")
    body = {"reason": "客户要求"}
    cancel = await c.api.post(f"/v1/orders/{order['order_no']}/cancel", json=body, headers=cs)
    assert cancel.status_code == 200, cancel.text
    await wait_cancelled(c.api, order["order_no"])
    [refund] = await refunds(c.stack, order["order_no"])
    [(_, paid_fen, transaction_id)] = await money_entries(c.stack, kept["order_no"])
    day = business_day(datetime.now(UTC))
    await plant(c.provider, kind="alter_amount", entry_id=transaction_id, amount_fen=paid_fen + 1)
    await plant(c.provider, kind="omit", entry_id=refund.provider_refund_id)
    await plant(c.provider, kind="phantom", amount_fen=4321, date=day.isoformat(),
                merchant_order_no="PHANTOM-1")  # fmt: skip
    finance = await staff(c.api, "finance")
    path = "/v1/finance/reconciliation/run"
    run = await c.api.post(path, json={"day": day.isoformat()}, headers=finance)
    assert run.status_code == 200, run.text
    assert run.json()["run"]["status"] == "completed", run.text
    assert len(run.json()["differences"]) >= 2, run.text


async def diagnostics(c: Clients) -> None:
    """`GET /readyz?deep=true`: a DiagnosticsWorkflow checks the database from the worker."""
    deep = await c.api.get("/readyz", params={"deep": "true"})
    assert deep.status_code == 200, deep.text
    assert deep.json()["temporal"]["worker"] == c.stack.task_queue, deep.text
