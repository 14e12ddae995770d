"""Purchasing over HTTP on the dev server, end to end: replenishment drafts a PO for a SKU below
its reorder point → submitted and approved by every required role → sent (in transit) → two
receipts → closed → the supplier's invoice matches → paid through the sandbox bank on its due
date → settled, with the stock and money ledgers balanced."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from models.db import MoneyEntry, StockMovement
from tests.support.invariants import assert_stock_invariants
from tests.support.order_api import DEVICE, staff, warehouse_id
from tests.support.purchasing import location_in, stock_of, wait_po
from tests.support.stack import Stack, running_stack

Json = dict[str, Any]


@pytest_asyncio.fixture
async def stack(
    seeded_engine: AsyncEngine, dev_client: Client, task_queue: str
) -> AsyncIterator[Stack]:
    async with running_stack(seeded_engine, dev_client, task_queue) as running:
        yield running


async def below_point(stack: Stack, api: httpx.AsyncClient, headers: dict[str, str]) -> int:
    """A rule that puts the first low-stock-able SKU of SH01 below its point; its SKU."""
    sh = await warehouse_id(stack, "SH01")
    rules = (await api.get("/v1/stock", params={"warehouse_id": sh}, headers=headers)).json()
    sku = next(r["sku_id"] for r in rules["data"] if r["sellable"] > 0)
    on_hand, in_transit = await stock_of(stack, sku, sh)  # on hand ≥ sellable: surely below
    rule = {"sku_id": sku, "warehouse_id": sh, "reorder_point": on_hand + in_transit + 1,
            "reorder_level": on_hand + in_transit + 30}  # fmt: skip
    answer = await api.put("/v1/reorder-rules", json=rule, headers=headers)
    assert answer.status_code == 200, answer.text
    return int(sku)


@pytest.mark.e2e
async def test_replenished_po_is_received_invoiced_and_paid(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api, timeout=30) as api:
        buyer = await staff(api, "purchasing")
        sh = await warehouse_id(stack, "SH01")
        sku = await below_point(stack, api, buyer)
        on_hand_before, transit_before = await stock_of(stack, sku, sh)

        drafted = (await api.post(f"/v1/warehouses/{sh}/replenish", headers=buyer)).json()
        pos = [(await api.get(f"/v1/purchase-orders/{n}", headers=buyer)).json()
               for n in drafted["drafted"]]  # fmt: skip
        [po] = [p for p in pos if sku in [ln["sku_id"] for ln in p["lines"]]]
        number = po["po_no"]
        submitted = (await api.post(f"/v1/purchase-orders/{number}/submit", headers=buyer)).json()
        for role in submitted["required_roles"]:
            approver = await staff(api, role)
            answer = await api.post(f"/v1/purchase-orders/{number}/approve",
                                    json={"role": role}, headers=approver)  # fmt: skip
            assert answer.status_code == 200, answer.text
        shown = await wait_po(api, number, "sent", buyer)
        ordered = {ln["line_no"]: ln for ln in shown["lines"]}
        assert (await stock_of(stack, sku, sh))[1] == transit_before + next(
            ln["quantity"] for ln in ordered.values() if ln["sku_id"] == sku
        )

        loc = await location_in(stack, "SH01")
        for n, share in enumerate((0.5, 0.5)):
            lines = []
            for line in ordered.values():
                first = int(line["quantity"] * share)
                quantity = first if n == 0 else line["quantity"] - first
                if quantity:
                    lines.append({"line_no": line["line_no"], "sku_id": line["sku_id"],
                                  "received": quantity, "accepted": quantity,
                                  "batch_no": f"E2E-{n}", "expiry_date": "2028-01-01"})  # fmt: skip
            body = {"receipt_key": f"e2e-{n}", "warehouse_id": sh, "location_id": loc,
                    "lines": lines}  # fmt: skip
            answer = await api.post(f"/v1/purchase-orders/{number}/receipts", json=body,
                                    headers=DEVICE["SH01"])  # fmt: skip
            assert answer.status_code == 201, answer.text
        closed = await wait_po(api, number, "closed", buyer)
        assert (closed["close_reason"], closed["totals"]["open"]) == ("fully_received", 0)

        finance = await staff(api, "finance")
        invoice = {
            "invoice_no": f"INV-{number}",
            "invoice_date": (date.today() - timedelta(days=120)).isoformat(),  # due long ago
            "lines": [{"line_no": ln["line_no"], "sku_id": ln["sku_id"],
                       "quantity": ln["quantity"], "unit_price_fen": ln["unit_price_fen"]}
                      for ln in ordered.values()],
        }  # fmt: skip
        booked = await api.post(f"/v1/purchase-orders/{number}/invoices", json=invoice,
                                headers=finance)  # fmt: skip
        assert booked.status_code == 201, booked.text
        assert booked.json()["discrepancies"] == []
        settled = await wait_po(api, number, "settled", finance)
        paid = (await api.get(f"/v1/purchase-orders/{number}/invoices", headers=finance)).json()[0]

    total = sum(ln["quantity"] * ln["unit_price_fen"] for ln in ordered.values())
    assert (paid["status"], paid["payable_fen"]) == ("paid", total)
    assert paid["transfer_id"]
    assert settled["status"] == "settled"
    on_hand_after, transit_after = await stock_of(stack, sku, sh)
    received = next(ln["quantity"] for ln in ordered.values() if ln["sku_id"] == sku)
    assert (on_hand_after - on_hand_before, transit_after) == (received, transit_before)
    async with stack.sessions() as session:
        money = (
            await session.execute(
                select(MoneyEntry.entry_type, MoneyEntry.amount_fen)
                .where(MoneyEntry.po_no == number)
                .order_by(MoneyEntry.id)
            )
        ).all()
        movements = await session.scalar(
            select(func.count()).select_from(StockMovement).where(StockMovement.ref_no == number)
        )
        await assert_stock_invariants(session)
    assert [tuple(m) for m in money] == [("supplier_invoice", total), ("supplier_payment", -total)]
    assert movements == len(ordered)  # in transit raised per line (receipts have their own)
