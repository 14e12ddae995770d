"""Purchase returns and settlement over the whole back office: QC rejection and a defect found
later go back to the supplier as credits, the invoice is matched three ways, a mismatch waits for
finance, the payable is paid through the sandbox bank on its due date, and the PO's money
ledger comes to zero."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from models.db import MoneyEntry
from tests.support.invariants import assert_stock_invariants
from tests.support.order_api import DEVICE, http, problem, staff
from tests.support.purchasing import approved_po, location_in, sent, stock_of, wait_po
from tests.support.stack import Stack

Json = dict[str, Any]
LONG_AGO = (date.today() - timedelta(days=90)).isoformat()  # past every demo supplier's terms


async def closed_po(stack: Stack, api: httpx.AsyncClient) -> tuple[str, list[int], int, int]:
    """100 + 40 ordered at 2.50; 95 (+5 rejected) and 40 received; closed short."""
    po, skus, sh = await approved_po(stack, api)
    number = po["po_no"]
    buyer = await staff(api, "purchasing")
    await sent(api, number, buyer)
    loc = await location_in(stack, "SH01")
    lines = [
        {"line_no": 1, "sku_id": skus[0], "received": 100, "accepted": 95, "rejected": 5},
        {"line_no": 2, "sku_id": skus[1], "received": 40, "accepted": 40},
    ]
    body = {
        "receipt_key": "all",
        "warehouse_id": sh,
        "location_id": loc,
        "lines": [{**line, "batch_no": "B-ALL"} for line in lines],
    }
    answer = await api.post(f"/v1/purchase-orders/{number}/receipts", json=body,
                            headers=DEVICE["SH01"])  # fmt: skip
    assert answer.status_code == 201, answer.text
    closing = await api.post(f"/v1/purchase-orders/{number}/close",
                             json={"reason": "5 rejected, not re-sent"}, headers=buyer)  # fmt: skip
    assert closing.status_code == 200, closing.text
    # The 5 rejected units stay open (the supplier owes them) until staff close the PO short.
    assert closing.json()["close_reason"] == "closed_short"
    return number, skus, sh, loc


async def ledger(stack: Stack, po_no: str) -> list[tuple[str, int]]:
    async with stack.sessions() as session:
        rows = await session.execute(
            select(MoneyEntry.entry_type, MoneyEntry.amount_fen)
            .where(MoneyEntry.po_no == po_no)
            .order_by(MoneyEntry.id)
        )
        return [(kind, amount) for kind, amount in rows.all()]


async def wait_invoice(
    api: httpx.AsyncClient,
    po_no: str,
    invoice_no: str,
    status: str,
    finance: dict[str, str] | None = None,
) -> Json:
    if finance is None:
        finance = await staff(api, "finance")
    for _ in range(150):
        shown: Json = (
            await api.get(f"/v1/purchase-orders/{po_no}/invoices/{invoice_no}", headers=finance)
        ).json()
        if shown.get("status") == status:
            return shown
        await asyncio.sleep(0.1)
    raise AssertionError(f"invoice of {po_no} never {status}: {shown}")


async def test_returns_credit_the_supplier_and_the_matched_invoice_is_paid_once(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    number, (sku_a, _), sh, loc = await closed_po(stack, api)
    device = DEVICE["SH01"]
    path = f"/v1/purchase-orders/{number}/returns"
    rejected = {"return_key": "qc", "warehouse_id": sh, "reason": "QC: dented cans",
                "lines": [{"line_no": 1, "quantity": 5}]}  # fmt: skip
    first = await api.post(path, json=rejected, headers=device)
    assert first.status_code == 201, first.text
    assert first.json()["credit_fen"] == 5 * 250
    again = await api.post(path, json=rejected, headers=device)
    assert (again.json()["duplicate"], again.json()["return_no"]) == (
        True,
        first.json()["return_no"],
    )
    too_many = {**rejected, "return_key": "qc2"}
    assert (
        "rejected units"
        in problem(await api.post(path, json=too_many, headers=device), 409)["detail"]
    )
    before = await stock_of(stack, sku_a, sh)
    leaking = {"line_no": 1, "quantity": 2, "location_id": loc, "batch_no": "B-ALL"}
    defect = {"return_key": "defect", "warehouse_id": sh, "reason": "found leaking in stock",
              "lines": [leaking]}  # fmt: skip
    found = await api.post(path, json=defect, headers=device)
    assert found.status_code == 201, found.text
    assert (await stock_of(stack, sku_a, sh))[0] == before[0] - 2
    assert found.json()["po"]["lines"][0]["returned"] == 7

    finance = await staff(api, "finance")
    invoice = {
        "invoice_no": "INV-001",
        "invoice_date": LONG_AGO,
        "lines": [
            {"line_no": 1, "sku_id": sku_a, "quantity": 100, "unit_price_fen": 250},
            {"line_no": 2, "sku_id": found.json()["po"]["lines"][1]["sku_id"], "quantity": 40,
             "unit_price_fen": 250},
        ],
    }  # fmt: skip
    buyer = await staff(api, "purchasing")
    problem(
        await api.post(f"/v1/purchase-orders/{number}/invoices", json=invoice, headers=buyer), 403
    )
    booked = await api.post(f"/v1/purchase-orders/{number}/invoices", json=invoice, headers=finance)
    assert booked.status_code == 201, booked.text
    shown = booked.json()
    assert (shown["expected_fen"], shown["invoiced_fen"]) == (35_000, 35_000)
    assert (shown["credit_fen"], shown["payable_fen"]) == (1_750, 33_250)
    assert shown["discrepancies"] == []
    paid = await wait_invoice(api, number, "INV-001", "paid")  # due long ago: paid at once
    assert paid["transfer_id"]
    problem(
        await api.post(f"/v1/purchase-orders/{number}/invoices", json=invoice, headers=finance), 409
    )
    await wait_po(api, number, "settled", finance)
    entries = await ledger(stack, number)
    assert sorted(entries) == sorted(
        [
            ("supplier_credit", -1_250),
            ("supplier_credit", -500),
            ("supplier_invoice", 35_000),
            ("supplier_payment", -33_250),
        ]
    )
    assert sum(amount for _, amount in entries) == 0
    async with http(stack.payments) as bank:
        transfers = (await bank.get("/v1/transfers")).json()
    assert [t["amount_fen"] for t in transfers if t["memo"].startswith(number)] == [33_250]
    listed = await api.get("/v1/payables", params={"status": "paid"}, headers=finance)
    assert number in [p["po_no"] for p in listed.json()["data"]]
    async with stack.sessions() as session:
        await assert_stock_invariants(session)


async def test_a_mismatched_invoice_waits_for_finance(stack: Stack, api: httpx.AsyncClient) -> None:
    number, (sku_a, sku_b), _, _ = await closed_po(stack, api)
    finance = await staff(api, "finance")
    invoice = {
        "invoice_no": "INV-002",
        "invoice_date": date.today().isoformat(),
        "lines": [
            {"line_no": 1, "sku_id": sku_a, "quantity": 100, "unit_price_fen": 260},
            {"line_no": 2, "sku_id": sku_b, "quantity": 40, "unit_price_fen": 250},
        ],
    }
    booked = await api.post(f"/v1/purchase-orders/{number}/invoices", json=invoice, headers=finance)
    assert booked.status_code == 201, booked.text
    shown = booked.json()
    assert shown["status"] == "mismatch"
    assert next(d["kind"] for d in shown["discrepancies"]) == "price_mismatch"
    assert shown["due_date"] is None
    path = f"/v1/purchase-orders/{number}/invoices/INV-002/decision"
    wrong = f"/v1/purchase-orders/{number}/invoices/INV-999/decision"
    assert (await api.post(wrong, json={"approve": True, "reason": "no such invoice"},
                           headers=finance)).status_code == 404  # fmt: skip
    buyer = await staff(api, "purchasing")
    problem(await api.post(path, json={"approve": True, "reason": "ok"}, headers=buyer), 403)
    decided = await api.post(
        path, json={"approve": True, "reason": "price rise agreed by phone"}, headers=finance
    )
    assert decided.status_code == 200, decided.text
    payable = decided.json()
    assert payable["status"] == "payable"
    assert payable["decision_reason"] == "price rise agreed by phone"
    # Due after the supplier's terms: waits on a durable timer, nothing paid yet.
    assert date.fromisoformat(payable["due_date"]) > date.today()
    assert await ledger(stack, number) == [("supplier_invoice", 36_000)]
    problem(await api.post(path, json={"approve": True, "reason": "again"}, headers=finance), 409)
