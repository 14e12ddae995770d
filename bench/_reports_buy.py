"""The purchasing and finance reports (issue 17) at scale, as bench/reports.py runs them (and
alone: `.venv/bin/python bench/_reports_buy.py`).

The data, in bulk SQL on the stack's database with the source tables' triggers off
(`session_replication_role = replica`): 200 suppliers, 10,000 POs of 5 lines (50,000 PO lines)
approved over a year, their receipts and timelines, settled ones invoiced and paid, some
invoiced and owed with due dates spread over four months, 2 % still open; the refunds of
1,000,000 orders (8 % refunded, every refund cause, each order's payment beside its refund so
its ledger balances); 2,000 reconciliation differences, half resolved. Then the rollups are
rebuilt by the migration's own backfill (timed: what upgrading such a database costs), and
every report is called ~20 times through the API: p50 and p95 against the target ≤ 1 s.
Open POs and payables are read over a partial index of the few rows still open."""

# ruff: noqa: S608 - the SQL is put together from this module's constants only.
from __future__ import annotations

import asyncio
import importlib.util
import os
import shlex
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _figures
import _floor
import _stack
import httpx
from _figures import ms, percentile, say
from _http import Http, http_clients
from _stack import Stack
from sqlalchemy import text

from models.domain.reconciliation import business_day

Row = tuple[str, ...]
SUPPLIERS = 200
POS = 10_000
LINES_PER_PO = 5  # 50,000 PO lines
ORDERS = 1_000_000
REFUNDED_EVERY = 12  # one order in 12 refunded: 83,333 refunds
DIFFERENCES = 2_000
DAYS = 365
CALLS = 20
TARGET_S = 1.0
MIGRATION = Path(__file__).resolve().parent.parent / (
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


def backfill_statements() -> tuple[str, ...]:
    """The migration's backfill, exactly as an upgrade runs it."""
    spec = importlib.util.spec_from_file_location("rollups_0054", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return tuple(module.BACKFILL)


DATA = (
    f"""
    INSERT INTO suppliers (code, name, contact_name, phone, email, payment_terms_days, status)
    SELECT 'RB' || lpad(i::text, 4, '0'), 'Bench supplier ' || i, '', '', '', 30, 'approved'
    FROM generate_series(1, {SUPPLIERS}) i
    """,
    # POs: one in 50 still open (sent), one in 10 closed and owed, the rest settled.
    f"""
    INSERT INTO purchase_orders (po_no, supplier_id, status, status_seq, amount_fen, note,
                                 required_roles, approvals, reminded, escalated, created_at,
                                 updated_at)
    SELECT 'PB' || lpad(i::text, 8, '0'),
           (SELECT min(id) FROM suppliers WHERE code LIKE 'RB%') + i % {SUPPLIERS},
           CASE WHEN i % 50 = 0 THEN 'sent' WHEN i % 10 = 1 THEN 'closed' ELSE 'settled' END,
           5, 0, '', '[]', '{{}}', false, false,
           now() - make_interval(days => (i * 7) % {DAYS}, hours => i % 24),
           now() - make_interval(days => (i * 7) % {DAYS}, hours => i % 24)
    FROM generate_series(1, {POS}) i
    """,
    f"""
    INSERT INTO purchase_order_lines (po_no, line_no, sku_id, warehouse_id, quantity,
                                      unit_price_fen, received, accepted, rejected, returned)
    SELECT po.po_no, n, s.ids[1 + (x % array_length(s.ids, 1))], w.id, 10 + x % 90,
           100 + (x * 37) % 900,
           CASE WHEN po.status = 'sent' THEN 0 ELSE 10 + x % 90 - x % 7 END,
           CASE WHEN po.status = 'sent' THEN 0 ELSE 10 + x % 90 - x % 7 END, 0, 0
    FROM purchase_orders po
    CROSS JOIN generate_series(1, {LINES_PER_PO}) n
    CROSS JOIN LATERAL (SELECT substr(po.po_no, 3)::int * {LINES_PER_PO} + n AS x) k
    CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids FROM skus) s
    CROSS JOIN (SELECT min(id) AS id FROM warehouses) w
    WHERE po.po_no LIKE 'PB%'
    """,
    """
    UPDATE purchase_orders po SET amount_fen = l.amount
    FROM (SELECT po_no, SUM(quantity::bigint * unit_price_fen) AS amount
          FROM purchase_order_lines WHERE po_no LIKE 'PB%' GROUP BY po_no) l
    WHERE l.po_no = po.po_no
    """,
    """
    INSERT INTO purchase_order_events (po_no, at, step, actor, detail, idempotency_key)
    SELECT po_no, created_at + interval '1 hour', 'approved_as_purchasing_manager', 'bench',
           '{}'::jsonb, '0002-approved'
    FROM purchase_orders WHERE po_no LIKE 'PB%'
    UNION ALL
    SELECT po_no, created_at + interval '6 days', 'fully_received', 'bench', '{}'::jsonb,
           '0005-closed'
    FROM purchase_orders WHERE po_no LIKE 'PB%' AND status <> 'sent'
    """,
    # A receipt 2 to 8 days after approval: later than the lead time for some.
    """
    INSERT INTO purchase_receipts (receipt_no, po_no, receipt_key, warehouse_id, location_id,
                                   actor, received_at)
    SELECT 'RCB' || substr(po.po_no, 3), po.po_no, 'bench', w.id, loc.id, 'bench',
           po.created_at + make_interval(days => 2 + substr(po.po_no, 3)::int % 7)
    FROM purchase_orders po
    CROSS JOIN (SELECT min(id) AS id FROM warehouses) w
    CROSS JOIN LATERAL (SELECT min(id) AS id FROM locations WHERE warehouse_id = w.id) loc
    WHERE po.po_no LIKE 'PB%' AND po.status <> 'sent'
    """,
    # Closed POs owe their invoice, due from 60 days ago to 60 days ahead; settled ones paid.
    """
    INSERT INTO supplier_invoices (po_no, invoice_no, invoice_date, status, expected_fen,
                                   invoiced_fen, credit_fen, payable_fen, discrepancies, due_date)
    SELECT po_no, 'INV-' || po_no, (now() - interval '90 days')::date + i % 120,
           CASE WHEN status = 'closed' THEN 'payable' ELSE 'paid' END, amount_fen, amount_fen, 0,
           amount_fen, '[]'::jsonb, (now() - interval '60 days')::date + i % 120
    FROM (SELECT po_no, status, amount_fen, substr(po_no, 3)::int AS i FROM purchase_orders
          WHERE po_no LIKE 'PB%' AND status IN ('closed', 'settled')) po
    """,
    """
    INSERT INTO money_ledger (po_no, entry_type, amount_fen, ref_no, created_at)
    SELECT po_no, 'supplier_invoice', amount_fen, po_no || '-INV', updated_at + interval '7 days'
    FROM purchase_orders WHERE po_no LIKE 'PB%' AND status IN ('closed', 'settled')
    UNION ALL
    SELECT po_no, 'supplier_payment', -amount_fen, 'TRB' || po_no, updated_at + interval '9 days'
    FROM purchase_orders WHERE po_no LIKE 'PB%' AND status = 'settled'
    """,
    # The refunds of 1,000,000 orders: every cause's refund number, each order's payment too.
    f"""
    CREATE TEMP TABLE bench_refunds AS
    SELECT 'SB' || lpad(i::text, 14, '0') AS order_no, i,
           CASE i % 7
               WHEN 0 THEN 'RFAS' || lpad(i::text, 14, '0')
               WHEN 1 THEN 'RF' || lpad(i::text, 14, '0') || 'C'
               WHEN 2 THEN 'RF' || lpad(i::text, 14, '0') || 'C'
               WHEN 3 THEN 'RF' || lpad(i::text, 14, '0') || '01'
               WHEN 4 THEN 'RF' || lpad(i::text, 14, '0') || '01S'
               WHEN 5 THEN 'RF-TXB' || i
               ELSE 'RF' || lpad(i::text, 14, '0') || 'C'
           END AS refund_no,
           CASE i % 7 WHEN 2 THEN 'order cancelled: group buy failed'
                      ELSE 'order cancelled: bench' END AS reason,
           1000 + (i * 13) % 50000 AS fen,
           now() - make_interval(days => i % {DAYS}, mins => i % 1440) AS at
    FROM generate_series({REFUNDED_EVERY}, {ORDERS}, {REFUNDED_EVERY}) i
    """,
    """
    INSERT INTO refunds (refund_no, order_no, transaction_id, provider_refund_id, amount_fen,
                         reason, created_at)
    SELECT refund_no, order_no, 'TXB' || i, 'PRB' || i, fen, reason, at FROM bench_refunds
    """,
    """
    INSERT INTO money_ledger (order_no, entry_type, amount_fen, ref_no, created_at)
    SELECT order_no, 'payment', fen, 'TXB' || i, at - interval '1 day' FROM bench_refunds
    UNION ALL
    SELECT order_no, 'refund', -fen, refund_no, at FROM bench_refunds
    """,
    f"""
    INSERT INTO reconciliation_differences (day, kind, entry_type, reference, order_no,
                                            provider_amount_fen, ledger_amount_fen, occurred_at,
                                            detail, resolved)
    SELECT (now() - make_interval(days => i % {DAYS}))::date,
           (ARRAY['missing_in_ledger','missing_at_provider','amount_mismatch'])[1 + i % 3],
           CASE WHEN i % 2 = 0 THEN 'payment' ELSE 'refund' END, 'DIFFB' || i, 'SB' || i,
           100 + i, 100, now() - make_interval(days => i % {DAYS}), 'bench', i % 2 = 0
    FROM generate_series(1, {DIFFERENCES}) i
    """,
)


async def make_data(stack: Stack) -> list[Row]:
    """The data set, then the rollups rebuilt by the migration's backfill (timed)."""
    began = time.perf_counter()
    async with stack.sessions() as session:
        await session.execute(text("SET session_replication_role = replica"))
        for statement in DATA:
            await session.execute(text(statement))
        await session.execute(text("SET session_replication_role = DEFAULT"))
        await session.commit()
    made = time.perf_counter() - began
    say(f"[reports-buy] data made in {made:.1f} s")
    began = time.perf_counter()
    async with stack.sessions() as session:
        await session.execute(text(f"TRUNCATE {', '.join(ROLLUPS)}"))
        for statement in backfill_statements():
            await session.execute(text(statement))
        await session.commit()
    backfill = time.perf_counter() - began
    async with stack.sessions() as session:
        for table in ROLLUPS:
            await session.execute(text(f"ANALYZE {table}"))
        await session.commit()
        sizes = {
            table: int(await session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
            for table in ROLLUPS
        }
    say(f"[reports-buy] rollups backfilled in {backfill:.1f} s: {sizes}")
    return [
        (
            "reports (buy): data",
            f"{POS * LINES_PER_PO:,} PO lines, {ORDERS // REFUNDED_EVERY:,}"
            f" refunds of {ORDERS:,} orders",
            "",
            "",
            "",
            "",
        ),
        (
            "reports (buy): rollup rows",
            ", ".join(f"{k[7:]} {v:,}" for k, v in sizes.items()),
            "",
            "",
            "",
            "",
        ),
        ("reports (buy): backfill (migration 0054)", f"{backfill:.1f} s", "", "", "", ""),
    ]


async def timed(
    api: httpx.AsyncClient, path: str, params: dict[str, Any], headers: dict[str, str]
) -> tuple[list[float], dict[str, Any]]:
    """CALLS answers of one report, one after another: their times and the last answer."""
    times: list[float] = []
    body: dict[str, Any] = {}
    for _ in range(CALLS):
        began = time.perf_counter()
        answer = await api.get(path, params=params, headers=headers)
        times.append(time.perf_counter() - began)
        body = _stack.ok(answer, 200)
    return times, body


async def report_rows(stack: Stack, http: Http, args: Any) -> list[Row]:
    """The data at scale, then each purchasing and finance report timed through the API."""
    rows = await make_data(stack)
    buyer = {"Authorization": f"Bearer {await _floor.login(http.api, 'purchasing')}"}
    finance = {"Authorization": f"Bearer {await _floor.login(http.api, 'finance')}"}
    async with stack.sessions() as session:
        sku = int(
            await session.scalar(
                text(
                    "SELECT sku_id FROM report_price_days GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
                )
            )
            or 0
        )
    today = business_day(datetime.now(UTC))
    year = {"date_from": (today - timedelta(days=364)).isoformat(), "date_to": today.isoformat()}
    cases = (
        ("purchasing, last 30 days by day", "/v1/reports/purchasing", {}, buyer),
        (
            "purchasing, a year by month, with a SKU's prices",
            "/v1/reports/purchasing",
            {**year, "by": "month", "sku_id": sku},
            buyer,
        ),
        (
            "purchasing, a year by day (page of 50)",
            "/v1/reports/purchasing",
            {**year, "limit": 50},
            buyer,
        ),
        ("finance, last 30 days by day", "/v1/reports/finance", {}, finance),
        ("finance, a year by week", "/v1/reports/finance", {**year, "by": "week"}, finance),
    )
    for figure, path, params, headers in cases:
        times, body = await timed(http.api, path, params, headers)
        p50, p95 = percentile(times, 50), percentile(times, 95)
        say(f"[reports-buy] {figure}: p50 {ms(p50)} p95 {ms(p95)}, {len(body['rows'])} rows")
        rows.append(
            (
                f"report {figure}: p50 / p95",
                f"{ms(p50)} / {ms(p95)}",
                "",
                "",
                "≤ 1 s",
                "met" if p95 <= TARGET_S else "MISSED",
            )
        )
    return rows


async def run() -> list[Row]:
    # Run alone on a shared machine: the robots' and mail sandboxes on free ports too.
    for name in ("ROBOTS", "SMTP"):
        os.environ.setdefault(f"HOUTAI_EMBEDDED__SANDBOX_{name}_PORT", str(_stack.free_port()))
    async with _stack.running_stack() as stack, http_clients(stack, 20) as http:
        return await report_rows(stack, http, None)


if __name__ == "__main__":
    command = shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    load, began = os.getloadavg()[0], time.perf_counter()
    found = asyncio.run(run())
    print(f"\n$ {command}")
    print(
        f"{os.cpu_count()} CPUs, load {load:.2f} before / {os.getloadavg()[0]:.2f} after, "
        f"{time.perf_counter() - began:.0f} s in all. The machine is shared: figures are noisy."
    )
    print(_figures.table(found, ("figure", "houtai", "baseline", "ratio", "target", "")))
