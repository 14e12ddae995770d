"""The purchasing and finance reports (issue 17) on data made by the real processes, against
hand-computed figures; the rollups kept current by the next action; the refund totals equal to
the money ledger's; business days, weeks and months in Asia/Shanghai."""

from __future__ import annotations

import importlib.util
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from models.domain.reconciliation import business_day
from tests.api.test_po_settlement import LONG_AGO, wait_invoice
from tests.api.test_reconciliation import paid_and_refunded, plant, run
from tests.api.test_refund_before_shipment import _ask, _refunded
from tests.support.order_api import paid_order, refunds, signed_in, skus_in, staff
from tests.support.purchasing import approved_po, sent, wait_po
from tests.support.reports_buy import buying, close_short, receive, today
from tests.support.stack import Stack

Json = dict[str, Any]
PURCHASING = "/v1/reports/purchasing"
MIGRATION = Path(__file__).resolve().parents[2] / (
    "migrations/versions/0054_purchase_finance_rollups.py"
)
ROLLUPS = (
    "report_po_facts",
    "report_supplier_days",
    "report_price_days",
    "report_money_days",
    "report_payables",
    "report_reconciliation_days",
)
FINANCE = "/v1/reports/finance"


async def report(api: httpx.AsyncClient, path: str, role: str, **params: Any) -> Json:
    """The report as `role` reads it (one sign-in per role: finance's each take a TOTP step)."""
    answer = await api.get(path, params=params, headers=await signed_in(api, role))
    assert answer.status_code == 200, answer.text
    body: Json = answer.json()
    return body


async def rebuilt(stack: Stack) -> None:
    """The rollups emptied and rebuilt by the migration's backfill, as an upgrade builds them."""
    spec = importlib.util.spec_from_file_location("rollups_0054", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    async with stack.sessions() as session:
        await session.execute(text(f"TRUNCATE {', '.join(ROLLUPS)}"))
        for statement in module.BACKFILL:
            await session.execute(text(statement))
        await session.commit()


def figures(row: Json) -> tuple[int, ...]:
    keys = ("pos_closed", "units_ordered", "units_received", "receipts", "receipts_on_time")
    return tuple(int(row[k]) for k in keys)


async def test_supplier_fill_on_time_prices_and_open_pos(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    b = await buying(stack, api)
    day = today().isoformat()
    shown = await report(api, PURCHASING, "purchasing", supplier_id=b.supplier, sku_id=b.sku_a)
    [row] = shown["rows"]
    assert (row["period"], row["supplier_id"]) == (day, b.supplier)
    # Closed: 140 + 50 ordered, 60 + 50 received; two receipts, the late PO's one late.
    assert figures(row) == (2, 190, 110, 2, 1)
    assert figures(shown["totals"]) == (2, 190, 110, 2, 1) and shown["count"] == 1
    [price] = shown["prices"]["rows"]
    # 100 @250 + 50 @300 + 10 @280 = 42 800 fen over 160 units: 267.5 → 268 (half up).
    assert (price["period"], price["lines"], price["units"], price["value_fen"]) == (
        day,
        3,
        160,
        42_800,
    )
    assert (price["avg_price_fen"], price["min_price_fen"], price["max_price_fen"]) == (
        268,
        250,
        300,
    )
    [open_row] = shown["open_pos"]["rows"]
    assert (open_row["pos"], open_row["amount_fen"]) == (1, 2_800)
    assert open_row["buckets"]["0-7"] == {"pos": 1, "amount_fen": 2_800}
    assert all(open_row["buckets"][k]["pos"] == 0 for k in ("8-30", "31-90", ">90"))

    # Later: the open PO gets 4 of its 10 (on time: due at approval + lead time) and closes.
    await receive(stack, api, b.open_po, "open-1", [(1, b.sku_a, 4)])
    await close_short(api, b.open_po)
    after = await report(api, PURCHASING, "purchasing", supplier_id=b.supplier)
    assert figures(after["rows"][0]) == (3, 200, 114, 3, 2)
    assert after["open_pos"]["rows"] == [] and after["open_pos"]["totals"]["pos"] == 0

    # An empty period, and week / month periods named by their first day.
    past = (today() - timedelta(days=400)).isoformat()
    empty = await report(api, PURCHASING, "purchasing", date_from=past, date_to=past)
    assert (empty["rows"], empty["count"], empty["totals"]["receipts"]) == ([], 0, 0)
    t = today()
    week = await report(api, PURCHASING, "purchasing", supplier_id=b.supplier, by="week")
    assert week["rows"][0]["period"] == (t - timedelta(days=t.weekday())).isoformat()
    month = await report(api, PURCHASING, "purchasing", supplier_id=b.supplier, by="month")
    assert month["rows"][0]["period"] == t.replace(day=1).isoformat()
    assert figures(month["rows"][0]) == (3, 200, 114, 3, 2)
    # An upgraded database: the migration's backfill finds the same figures.
    asked = {"supplier_id": b.supplier, "sku_id": b.sku_a}
    kept = await report(api, PURCHASING, "purchasing", **asked)
    await rebuilt(stack)
    assert await report(api, PURCHASING, "purchasing", **asked) == kept
    # Who may read it, and what is refused.
    refused = await api.get(PURCHASING, headers=await staff(api, "cs"))
    assert refused.status_code == 403
    bad = await api.get(
        PURCHASING,
        params={"date_from": day, "date_to": past},
        headers=await staff(api, "purchasing"),
    )
    assert bad.status_code == 422


async def ledger_refunds(stack: Stack, first: date, last: date) -> tuple[int, int]:
    async with stack.sessions() as session:
        count, total = (
            await session.execute(
                text(
                    "SELECT count(*), COALESCE(-SUM(amount_fen), 0) FROM money_ledger"
                    " WHERE entry_type = 'refund' AND (created_at AT TIME ZONE 'Asia/Shanghai')"
                    "::date BETWEEN :first AND :last"
                ),
                {"first": first, "last": last},
            )
        ).one()
    return int(count), int(total)


async def test_payments_payables_refunds_and_reconciliation(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    first = await report(api, FINANCE, "finance")
    t = today()
    # A supplier paid: 100 + 40 at 2.50 received, invoiced long ago, so paid at once.
    po, skus, _ = await approved_po(stack, api)
    number = po["po_no"]
    await sent(api, number, await staff(api, "purchasing"))
    await receive(stack, api, number, "all", [(1, skus[0], 100), (2, skus[1], 40)])
    finance = await signed_in(api, "finance")
    await wait_po(api, number, "closed", finance)
    invoice = {
        "invoice_no": "INV-R1",
        "invoice_date": LONG_AGO,
        "lines": [
            {"line_no": 1, "sku_id": skus[0], "quantity": 100, "unit_price_fen": 250},
            {"line_no": 2, "sku_id": skus[1], "quantity": 40, "unit_price_fen": 250},
        ],
    }
    booked = await api.post(f"/v1/purchase-orders/{number}/invoices", json=invoice, headers=finance)
    assert booked.status_code == 201, booked.text
    await wait_invoice(api, number, "INV-R1", "paid", finance)
    # A second PO, invoiced today: owed, not yet due.
    po2, skus2, _ = await approved_po(stack, api, (20, 10))
    await sent(api, po2["po_no"], await staff(api, "purchasing"))
    await receive(stack, api, po2["po_no"], "all", [(1, skus2[0], 20), (2, skus2[1], 10)])
    await wait_po(api, po2["po_no"], "closed", finance)
    invoice2 = {
        "invoice_no": "INV-R2",
        "invoice_date": t.isoformat(),
        "lines": [
            {"line_no": 1, "sku_id": skus2[0], "quantity": 20, "unit_price_fen": 250},
            {"line_no": 2, "sku_id": skus2[1], "quantity": 10, "unit_price_fen": 250},
        ],
    }
    booked2 = await api.post(
        f"/v1/purchase-orders/{po2['po_no']}/invoices", json=invoice2, headers=finance
    )
    assert booked2.status_code == 201, booked2.text
    await wait_invoice(api, po2["po_no"], "INV-R2", "payable", finance)

    # Refunds of two causes: a cancel (cs) and an after-sale refund of one unit of three.
    sku_a, sku_b = await skus_in(stack, "SH01", 2)
    cancelled = await paid_and_refunded(stack, api, sku_a, "rep-cancel")
    [cancel_refund] = await refunds(stack, cancelled)
    order = await paid_order(stack, api, [(sku_b, 3)], key="rep-as")
    asked = await _ask(api, order["order_no"], "rep-as-1", (order["lines"][0]["line_no"], 1))
    await _refunded(api, asked["as_no"])
    [as_refund] = await refunds(stack, order["order_no"])

    shown = await report(api, FINANCE, "finance", supplier_id=po["supplier_id"])
    causes = {(r["cause"], r["refunds"], r["amount_fen"]) for r in shown["rows"]}
    before = {(r["cause"], r["refunds"], r["amount_fen"]) for r in first["rows"]}
    assert causes - before == {
        ("cancellation", 1, cancel_refund.amount_fen),
        ("after_sale", 1, as_refund.amount_fen),
    }
    window = (date.fromisoformat(shown["date_from"]), date.fromisoformat(shown["date_to"]))
    assert (shown["totals"]["refunds"], shown["totals"]["refund_fen"]) == await ledger_refunds(
        stack, *window
    )
    [paid] = shown["payments"]["rows"]  # per supplier over the window
    assert (paid["supplier_id"], paid["transfers"], paid["amount_fen"]) == (
        po["supplier_id"],
        1,
        35_000,
    )
    [today_row] = [p for p in shown["periods"] if p["period"] == t.isoformat()]
    assert (today_row["transfers"], today_row["paid_fen"]) == (1, 35_000)
    [owed] = shown["payables"]["rows"]
    assert (owed["pos"], owed["owed_fen"]) == (1, 7_500)
    assert owed["buckets"] == {"not_due": 7_500, "1-30": 0, "31-60": 0, "61-90": 0, ">90": 0}

    # A reconciliation difference opened, then closed by the next run.
    ordered = await paid_order(stack, api, [(sku_a, 1)], key="rep-recon")
    async with stack.sessions() as session:
        paid_at = await session.scalar(
            text("SELECT paid_at FROM payments WHERE order_no = :o"), {"o": ordered["order_no"]}
        )
    assert paid_at is not None
    day = business_day(paid_at)
    phantom = await plant(
        provider,
        kind="phantom",
        amount_fen=4321,
        date=day.isoformat(),
        merchant_order_no="PHANTOM-R",
    )
    await run(api, finance, day)
    opened = await report(
        api, FINANCE, "finance", date_from=day.isoformat(), date_to=day.isoformat()
    )
    assert {
        (r["kind"], r["open"], r["open_fen"], r["closed"]) for r in opened["reconciliation"]["rows"]
    } == {("missing_in_ledger", 1, 4321, 0)}
    async with stack.sessions() as session:
        await session.execute(
            text(
                "INSERT INTO money_ledger (order_no, entry_type, amount_fen, ref_no)"
                " VALUES ('PHANTOM-R', 'payment', 4321, :ref)"
            ),
            {"ref": phantom["entry_id"]},
        )
        await session.commit()
    await run(api, finance, day)
    closed = await report(
        api, FINANCE, "finance", date_from=day.isoformat(), date_to=day.isoformat()
    )
    assert {
        (r["kind"], r["open"], r["closed"], r["closed_fen"])
        for r in closed["reconciliation"]["rows"]
    } == {("missing_in_ledger", 0, 1, 4321)}
    assert closed["totals"]["differences_closed"] == 1

    refused = await api.get(FINANCE, headers=await staff(api, "purchasing"))
    assert refused.status_code == 403
    # An upgraded database: the migration's backfill finds the same figures.
    kept = await report(api, FINANCE, "finance")
    await rebuilt(stack)
    assert await report(api, FINANCE, "finance") == kept


async def test_refund_causes_and_business_days_in_shanghai(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    """Each refund number family as its cause, and a refund at 00:30 Monday in Shanghai (16:30
    Sunday UTC) counted on Monday, in Monday's week, and on the 1st in a new month."""
    monday = date(2026, 6, 1)  # a Monday, and the first of a month
    at_utc = datetime(2026, 5, 31, 16, 30, tzinfo=UTC)
    refunds_made = [
        ("RFAS202605310001", "SO1", "不想要了", 100),
        ("RF20260531000002C", "SO20260531000002", "order cancelled: group buy failed", 200),
        ("RF20260531000003C", "SO20260531000003", "order cancelled: balance not paid in time", 300),
        ("RF20260531000004C", "SO20260531000004", "order cancelled: 客户要求", 400),
        ("RF2026053100000401", "SO20260531000005", "package lost or refused: refunded", 500),
        ("RF2026053100000401S", "SO20260531000006", "units not found: refunded", 600),
        ("RF-TX123", "SO20260531000007", "late payment", 700),
    ]
    async with stack.sessions() as session:
        presale = await session.scalar(text("SELECT id FROM presales ORDER BY id LIMIT 1"))
        for refund_no, order_no, reason, fen in refunds_made:
            await session.execute(
                text(
                    "INSERT INTO refunds (refund_no, order_no, transaction_id, provider_refund_id,"
                    " amount_fen, reason, created_at) VALUES (:r, :o, 'tx', 'p', :a, :why, :at)"
                ),
                {"r": refund_no, "o": order_no, "a": fen, "why": reason, "at": at_utc},
            )
            await session.execute(
                text(
                    "INSERT INTO money_ledger (order_no, entry_type, amount_fen, ref_no,"
                    " created_at) VALUES (:o, 'refund', :a, :r, :at)"
                ),
                {"o": order_no, "a": -fen, "r": refund_no, "at": at_utc},
            )
        if presale is not None:
            await session.execute(
                text(
                    "INSERT INTO presale_orders (order_no, presale_id, quantity, deposit_fen,"
                    " stage, deposit_paid_fen, balance_paid_fen, forfeited_fen)"
                    " VALUES ('SO20260531000009', :p, 1, 50, 'cancelled', 50, 0, 0)"
                ),
                {"p": presale},
            )
            await session.execute(
                text(
                    "INSERT INTO money_ledger (order_no, entry_type, amount_fen, ref_no,"
                    " created_at) VALUES ('SO20260531000009', 'refund', -50,"
                    " 'RF20260531000009C', :at)"
                ),
                {"at": at_utc},
            )
        await session.commit()
    for by, period in (("day", monday), ("week", monday), ("month", monday)):
        shown = await report(
            api, FINANCE, "finance", date_from="2026-05-25", date_to="2026-06-07", by=by
        )
        got = {r["cause"]: (r["period"], r["amount_fen"]) for r in shown["rows"]}
        expected = {
            "after_sale": 100,
            "group_buy_failed": 200,
            "cancellation": 300 + 400,  # no presale order row: an ordinary cancel
            "package_refund": 500,
            "short_pick": 600,
            "late_payment": 700,
        }
        if presale is not None:
            expected["presale"] = 50
        assert got == {c: (period.isoformat(), fen) for c, fen in expected.items()}
    sunday = await report(api, FINANCE, "finance", date_from="2026-05-31", date_to="2026-05-31")
    assert sunday["rows"] == [] and sunday["totals"]["refund_fen"] == 0
