"""The orders and after-sales reports (issue 17, DESIGN §6.11 and §10) at the scale of a year
of 1,000,000 orders, as bench/reports.py runs them (`report_rows`), or alone:

    .venv/bin/python bench/_reports_orders.py [--orders 1000000] [--days 365] [--calls 20]

The reports read only their day rollups (models/db/reports_orders.py), so the bench makes the
rollup rows 1,000,000 orders leave behind by bulk SQL: per day and storefront the funnel and the
cancels by kind; per day and warehouse the paid → handover buckets; per day and SKU (2,000
SKUs) the units sold; per day, SKU and reason the after-sales (5 % of orders), refunds and
decision buckets. No order rows are made: no view reads them. Then each report is timed through
the API (`GET`, a staff token), ~20 calls: the last 30 days and the whole year, per day and per
month. A last row shows what keeping the rollups costs a write: the same 20,000 timeline steps
inserted with the trigger and without it (the baseline)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import _figures
import _floor
import _stack
import httpx
from _figures import ms, percentile, say
from _http import Http, http_clients
from _stack import Stack, free_port
from sqlalchemy import text

Row = tuple[str, ...]
STOREFRONTS = 4
SKUS = 2_000
REASONS = ("质量问题", "尺码不合适", "不想要了", "发错货", "少件", "破损", "与描述不符", "其他")
TARGET_S = 1.0
DEFAULTS = {"orders": 1_000_000, "days": 365, "calls": 20, "trigger_rows": 20_000}


def _fill_sql(days: int, orders: int) -> list[tuple[str, dict[str, Any]]]:
    """Bulk statements making the rollup rows `orders` orders over `days` days leave."""
    per_day = orders / days / STOREFRONTS  # orders placed per day and storefront
    first = date.today() - timedelta(days=days - 1)
    p: dict[str, Any] = {"first": first, "days": days, "per": per_day, "skus": SKUS,
                         "reasons": list(REASONS), "shops_n": STOREFRONTS}  # fmt: skip
    days_sql = "SELECT CAST(:first AS date) + n AS day FROM generate_series(0, :days - 1) n"
    shops = "SELECT id FROM api_keys WHERE name LIKE 'bench-report-shop-%'"
    statements = [
        ("SELECT setseed(0.17)", {}),
        (
            """INSERT INTO order_funnel_days (day, api_key_id, placed, paid, handed_over, completed,
                cancelled)
            SELECT d.day, s.id, x.placed, (x.placed * 0.9)::int, (x.placed * 0.86)::int,
                   (x.placed * 0.8)::int, (x.placed * 0.1)::int
            FROM (DAYS) d CROSS JOIN (SHOPS) s
            CROSS JOIN LATERAL (SELECT round(:per * (0.8 + 0.4 * random()))::int + s.id * 0
                                AS placed) x
            ON CONFLICT DO NOTHING""",
            p,
        ),
        (
            """INSERT INTO order_cancel_days (day, api_key_id, kind, orders)
            SELECT d.day, s.id, k.kind, 1 + (random() * :per * 0.03)::int
            FROM (DAYS) d CROSS JOIN (SHOPS) s
            CROSS JOIN unnest(ARRAY['payment_timeout', 'customer', 'staff', 'risk_review',
                                    'out_of_stock']) k(kind)
            ON CONFLICT DO NOTHING""",
            p,
        ),
        (
            """INSERT INTO handover_time_days (day, warehouse_id, bucket, packages)
            SELECT d.day, w.id, b, 1 + (random() * :per * 0.2 * exp(-((b - 30) ^ 2) / 40.0))::int
            FROM (DAYS) d CROSS JOIN warehouses w CROSS JOIN generate_series(12, 48) b
            ON CONFLICT DO NOTHING""",
            p,
        ),
        (
            """INSERT INTO sku_sold_days (day, sku_id, units)
            SELECT d.day, k.id, 1 + (random() * :per * :shops_n * 3 / :skus * 2)::int
            FROM (DAYS) d
            CROSS JOIN (SELECT id FROM skus ORDER BY id LIMIT :skus) k
            ON CONFLICT DO NOTHING""",
            p,
        ),
        (
            """INSERT INTO after_sale_sku_days (day, sku_id, reason, requests, units, refunded_fen)
            SELECT d.day, k.id, r.reason, 1, 1 + (random() * 2)::int, (random() * 20000)::bigint
            FROM (DAYS) d
            CROSS JOIN (SELECT id FROM skus ORDER BY id LIMIT :skus) k
            CROSS JOIN unnest(CAST(:reasons AS text[])) r(reason)
            WHERE random() < :per * :shops_n * 0.05 / (:skus * 8)
            ON CONFLICT DO NOTHING""",
            p,
        ),
        (
            """INSERT INTO after_sale_reason_days (day, reason, requests, refunds, refunded_fen)
            SELECT d.day, r.reason, x.n, (x.n * 0.7)::int, (x.n * 0.7 * 9000)::bigint
            FROM (DAYS) d CROSS JOIN unnest(CAST(:reasons AS text[])) r(reason)
            CROSS JOIN LATERAL (SELECT 1 + (random() * :per * :shops_n * 0.05 / 4)::int
                                + length(r.reason) * 0 AS n) x
            ON CONFLICT DO NOTHING""",
            p,
        ),
        (
            """INSERT INTO after_sale_decision_days (day, reason, bucket, decided, within_sla)
            SELECT d.day, r.reason, b, x.n, (x.n * 0.85)::int
            FROM (DAYS) d CROSS JOIN unnest(CAST(:reasons AS text[])) r(reason)
            CROSS JOIN generate_series(10, 50) b
            CROSS JOIN LATERAL (SELECT 1 + (random() * 6 * exp(-((b - 32) ^ 2) / 60.0))::int
                                + length(r.reason) * 0 AS n) x
            ON CONFLICT DO NOTHING""",
            p,
        ),
    ]
    numbers = {":per": f"{per_day:.3f}", ":shops_n": str(STOREFRONTS), ":skus": str(SKUS),
               ":days": str(days)}  # fmt: skip
    out = []
    for statement, params in statements:
        sql = statement.replace("DAYS", days_sql).replace("SHOPS", shops)
        for name, value in numbers.items():
            sql = sql.replace(name, value)
        out.append((sql, params))
    return out


async def make_data(stack: Stack, args: Any) -> dict[str, int]:
    """The rollup rows of `args.orders` orders over `args.days` days, and what they add up to."""
    began = time.perf_counter()
    async with stack.sessions() as session:
        await session.execute(text(
            "INSERT INTO api_keys (name, prefix, key_hash, role, active)"
            " SELECT 'bench-report-shop-' || n, 'brs' || lpad(n::text, 5, '0'), repeat('0', 64),"
            " 'storefront', false FROM generate_series(1, :n) n"
        ), {"n": STOREFRONTS})  # fmt: skip
        missing = SKUS - int(await session.scalar(text("SELECT count(*) FROM skus")) or 0)
        if missing > 0:  # more SKUs, of the first product
            await session.execute(text(
                "INSERT INTO skus (spu_id, code, name, barcode, weight_g, volume_cm3,"
                " list_price_fen, attributes, batch_managed, active)"
                " SELECT (SELECT min(id) FROM spus), 'BR-' || n, 'bench SKU ' || n,"
                " '98' || lpad(n::text, 11, '0'), 100, 100, 1000, '{}', false, true"
                " FROM generate_series(1, :n) n"
            ), {"n": missing})  # fmt: skip
        for sql, params in _fill_sql(args.days, args.orders):
            await session.execute(text(sql), params)
        await session.commit()
        counts = {}
        for table in ("order_funnel_days", "handover_time_days", "sku_sold_days",
                      "after_sale_sku_days", "after_sale_decision_days"):  # fmt: skip
            query = text("SELECT count(*) FROM " + table)  # noqa: S608 - our own table names
            counts[table] = int(await session.scalar(query) or 0)
        counts["orders"] = int(
            await session.scalar(text("SELECT sum(placed) FROM order_funnel_days")) or 0
        )
        await session.execute(text("ANALYZE"))
    say(f"[reports-orders] rollups of {counts['orders']:,} orders made in "
        f"{time.perf_counter() - began:.1f} s: {counts}")  # fmt: skip
    return counts


async def _timed(api: httpx.AsyncClient, path: str, params: dict[str, Any], headers: Any,
                 calls: int) -> tuple[float, float, int]:  # fmt: skip
    """p50, p95 (s) of `calls` sequential GETs (after one warm-up) and the rows answered."""
    answer = await api.get(path, params=params, headers=headers, timeout=60)
    body = _stack.ok(answer, 200)
    took = []
    for _ in range(calls):
        start = time.perf_counter()
        _stack.ok(await api.get(path, params=params, headers=headers, timeout=60), 200)
        took.append(time.perf_counter() - start)
    return percentile(took, 50), percentile(took, 95), len(body["rows"])


async def _trigger_cost(stack: Stack, n: int) -> Row:
    """20,000 'placed' steps of 20,000 orders inserted in one statement with the rollup trigger
    and, for other orders, without it: the write cost of keeping the rollups."""
    took = []
    async with stack.sessions() as session:
        for run, enabled in (("a", True), ("b", False)):
            await session.execute(text(
                "INSERT INTO orders (order_no, api_key_id, customer_id, status, status_seq,"
                " region_code, address, goods_list_fen, discount_fen, freight_fen, payable_fen,"
                " paid_fen, refunded_fen, pricing, payment_deadline, under_review, escalated,"
                " placed_at)"
                " SELECT 'BR' || :run || n, (SELECT min(id) FROM api_keys"
                "  WHERE name LIKE 'bench-report-shop-%'), 1, 'awaiting_payment', 0, '310000',"
                " '{}', 0, 0, 0, 0, 0, 0, '{}', now(), false, false, now()"
                " FROM generate_series(1, :n) n"
            ), {"run": run, "n": n})  # fmt: skip
            if not enabled:
                await session.execute(
                    text("ALTER TABLE order_events DISABLE TRIGGER order_events_rollups")
                )
            start = time.perf_counter()
            await session.execute(text(
                "INSERT INTO order_events (order_no, step, seq, actor_kind, actor_name,"
                " actor_role, detail, idempotency_key, at)"
                " SELECT 'BR' || :run || n, 'placed', 0, 'storefront', 'bench', '', '{}',"
                " 'BR' || :run || n || '\\:placed', now() FROM generate_series(1, :n) n"
            ), {"run": run, "n": n})  # fmt: skip
            took.append(time.perf_counter() - start)
            if not enabled:
                await session.execute(
                    text("ALTER TABLE order_events ENABLE TRIGGER order_events_rollups")
                )
        await session.commit()
    with_trigger, without = took
    return (f"{n:,} timeline steps written, with the rollup trigger (baseline: without)",
            f"{with_trigger * 1e6 / n:.0f} µs/step", f"{without * 1e6 / n:.0f} µs/step",
            f"{with_trigger / without:.2f}×", "", "")  # fmt: skip


async def report_rows(stack: Stack, http: Http, args: Any) -> list[Row]:
    """Make the rollups of `args.orders` orders (default 1,000,000) and time both reports."""
    for key, value in DEFAULTS.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    counts = await make_data(stack, args)
    token = await _floor.login(http.api, "ops")
    headers = {"Authorization": f"Bearer {token}"}
    today = datetime.now(UTC).date() + timedelta(days=1)  # Asia/Shanghai is ahead of UTC
    year = {"date_from": str(today - timedelta(days=args.days)), "date_to": str(today)}
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("orders report, last 30 days per day", "/v1/reports/orders", {}),
        ("orders report, a year per day", "/v1/reports/orders", {**year, "by": "day"}),
        ("orders report, a year per month", "/v1/reports/orders", {**year, "by": "month"}),
        ("after-sales report, last 30 days", "/v1/reports/after-sales", {}),
        ("after-sales report, a year", "/v1/reports/after-sales", year),
        ("after-sales report, a year by rate", "/v1/reports/after-sales",
         {**year, "sort": "-rate"}),
    ]  # fmt: skip
    rows: list[Row] = []
    for figure, path, params in cases:
        p50, p95, answered = await _timed(http.api, path, params, headers, args.calls)
        say(f"[reports-orders] {figure}: p50 {ms(p50)}, p95 {ms(p95)}, {answered} rows")
        rows.append((f"{figure} ({counts['orders']:,} orders), p50 / p95",
                     f"{ms(p50)} / {ms(p95)}", "", "", "≤ 1 s",
                     "met" if p95 <= TARGET_S else "MISSED"))  # fmt: skip
    rows.append(await _trigger_cost(stack, args.trigger_rows))
    return rows


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--orders", type=int, default=DEFAULTS["orders"])
    p.add_argument("--days", type=int, default=DEFAULTS["days"])
    p.add_argument("--calls", type=int, default=DEFAULTS["calls"])
    p.add_argument("--trigger-rows", type=int, default=DEFAULTS["trigger_rows"])
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> list[Row]:
    began = time.perf_counter()
    # Free ports for the notification sandboxes too: other stacks on this machine may hold the
    # defaults (running_stack picks the others).
    for name in ("SANDBOX_ROBOTS_PORT", "SANDBOX_SMTP_PORT"):
        os.environ.setdefault(f"HOUTAI_EMBEDDED__{name}", str(free_port()))
    async with _stack.running_stack() as stack:
        say(f"[stack] up in {time.perf_counter() - began:.1f} s in {stack.workdir}")
        async with http_clients(stack, 10) as http:
            return await report_rows(stack, http, args)


def main(argv: list[str]) -> int:
    args = parse(argv)
    return _figures.run_bench(run, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
