"""The stock and warehouse reports (issue 17) at realistic scale: 5,000 SKUs × 3 warehouses with
batches received over a year, a year of daily shipment rollup rows, stock-out spells, a year of
warehouse days and of picking hours (10 workers a warehouse, 8 hours a day). Every report is
timed through the API (~20 calls: p50/p95), next to GET /v1/stock/value (one page of an indexed
list) as the baseline. Target: each report ≤ 1 s.

The data is made by bulk SQL. The stock is booked as opening-balance movements (the cost
trigger values it; stocks, batches and the ledger balance); the rollups' history is written
straight into the rollup tables (a year of shipments is what the triggers would have kept).

    .venv/bin/python bench/_reports_stock.py [--skus 5000] [--days 365] [--calls 20]

bench/reports.py calls `report_rows(stack, http, args)`."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import _figures
import _floor
import _stack
from _figures import ms, percentile, say
from _http import Http, http_clients
from _stack import Stack
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from workers.embedded import free_port

Row = tuple[str, ...]
DEFAULTS = {"skus": 5000, "days": 365, "calls": 20}
TARGET_S = 1.0

MAKE_DATA = (
    # a third warehouse when the demo has two, each with one storage location to hold batches
    """INSERT INTO warehouses (code, name, region_code, timezone, address, active)
       SELECT 'BJ01', '北京仓', '110000', 'Asia/Shanghai', '', true
       WHERE (SELECT COUNT(*) FROM warehouses) < 3 ON CONFLICT DO NOTHING""",
    """INSERT INTO locations (warehouse_id, code, barcode, kind, zone, aisle, bay, level, x_cm,
                              y_cm, active)
       SELECT w.id, 'R-99-99-9', w.code || '-R-99-99-9', 'storage', 'R', 99, 99, 9, 0, 0, true
       FROM warehouses w ON CONFLICT DO NOTHING""",
    """INSERT INTO categories (code, name) SELECT 'rb-' || g, '报表品类 ' || g
       FROM generate_series(1, 40) g ON CONFLICT DO NOTHING""",
    """INSERT INTO spus (code, name, category_id, description, active)
       SELECT 'RB-' || g, '报表商品 ' || g,
              (SELECT id FROM categories WHERE code = 'rb-' || (1 + g % 40)), '', true
       FROM generate_series(1, CAST(:skus AS int)) g""",
    """INSERT INTO skus (spu_id, code, name, barcode, weight_g, volume_cm3, list_price_fen,
                        attributes, batch_managed, active)
       SELECT p.id, p.code || '-1', p.name, '79' || lpad(substr(p.code, 4), 10, '0'), 500, 1000,
              1000 + (substr(p.code, 4)::int % 50) * 100, '{}', true, true
       FROM spus p WHERE p.code LIKE 'RB-%'""",
    """INSERT INTO stocks (sku_id, warehouse_id, on_hand, reserved, in_transit, safety_hold)
       SELECT s.id, w.id, 0, 0, 0, 0 FROM skus s CROSS JOIN warehouses w
       WHERE s.code LIKE 'RB-%'""",
    # two batches per SKU and warehouse, received over the last year, expiring over the next
    """CREATE TEMP TABLE rb_batches AS
       SELECT s.id AS sku_id, w.id AS warehouse_id, l.id AS location_id, b AS batch,
              (10 + (s.id * 7 + w.id * 13 + b) % 200)::int AS quantity,
              now() - make_interval(days => (s.id * 31 + w.id * 17 + b * 101)
                                             % CAST(:days AS int)) AS at,
              current_date + ((s.id * 11 + b * 97) % 500 - 30)::int AS expiry,
              (200 + (s.id % 50) * 60)::bigint AS cost
       FROM skus s CROSS JOIN warehouses w
       JOIN locations l ON l.warehouse_id = w.id AND l.code = 'R-99-99-9'
       CROSS JOIN generate_series(1, 2) b WHERE s.code LIKE 'RB-%'""",
    """INSERT INTO location_stocks (sku_id, warehouse_id, location_id, batch_no, expiry_date,
                                   received_at, quantity, reserved, disabled)
       SELECT sku_id, warehouse_id, location_id, 'RB' || batch, expiry, at, quantity, 0, false
       FROM rb_batches""",
)
AFTER_OPENING = (
    """UPDATE stocks s SET on_hand = b.units FROM (SELECT sku_id, warehouse_id,
       SUM(quantity) AS units FROM rb_batches GROUP BY 1, 2) b
       WHERE s.sku_id = b.sku_id AND s.warehouse_id = b.warehouse_id""",
)
AFTER_DAILY_OUT = (
    """INSERT INTO stock_activity (sku_id, warehouse_id, last_out_on)
       SELECT sku_id, warehouse_id, MAX(day) FROM stock_daily_out GROUP BY 1, 2
       ON CONFLICT (sku_id, warehouse_id) DO UPDATE SET last_out_on = EXCLUDED.last_out_on""",
    # stock-out spells: one SKU in 20 was out on 1..20 days a month, one in 50 is out now
    """INSERT INTO stock_out_days (day, sku_id, warehouse_id)
       SELECT d::date, s.sku_id, s.warehouse_id FROM stocks s
       JOIN skus k ON k.id = s.sku_id AND k.code LIKE 'RB-%'
       CROSS JOIN generate_series((current_date - CAST(:days AS int))::timestamp,
                                  (current_date - 1)::timestamp, interval '1 day') d
       WHERE s.sku_id % 20 = 0 AND extract(day FROM d) <= 1 + s.sku_id % 20
       ON CONFLICT DO NOTHING""",
    # held back as safety stock: sellable 0 (the trigger opens the spell), five days ago
    """UPDATE stocks SET safety_hold = on_hand WHERE sku_id % 50 = 7
       AND sku_id IN (SELECT id FROM skus WHERE code LIKE 'RB-%')""",
    """UPDATE stock_activity SET zero_since = zero_since - interval '5 days'
       WHERE zero_since IS NOT NULL AND sku_id % 50 = 7""",
    """INSERT INTO warehouse_daily (day, warehouse_id, waves_done, waves_on_time, stops_done,
                                   stops_short, units_picked, units_short, packages_weighed,
                                   packages_held)
       SELECT d::date, w.id, 40, 36 + extract(dow FROM d)::int % 4, 4000, 30, 9000, 40, 3500, 12
       FROM warehouses w
       CROSS JOIN generate_series((current_date - CAST(:days AS int))::timestamp,
                                  current_date::timestamp, interval '1 day') d
       ON CONFLICT DO NOTHING""",
    """INSERT INTO pick_hourly (hour_at, warehouse_id, device, worker, units, scans)
       SELECT date_trunc('day', d) + make_interval(hours => h), w.id,
              'api_key:PDA-' || w.code || '-' || p, 'picker-' || w.code || '-' || p,
              80 + (p * 7 + h) % 40, 60
       FROM warehouses w
       CROSS JOIN generate_series(now() - make_interval(days => CAST(:days AS int)), now(),
                                  interval '1 day') d
       CROSS JOIN generate_series(1, 8) h CROSS JOIN generate_series(1, 10) p
       ON CONFLICT DO NOTHING""",
    "ANALYZE",
)

# the opening balance as movements (the cost trigger values them), a tenth per statement
OPENING = """INSERT INTO stock_movements (movement_type, sku_id, warehouse_id, location_id,
                                   batch_no, on_hand_delta, reserved_delta, in_transit_delta,
                                   ref_type, ref_no, actor, reason, unit_cost_fen)
       SELECT 'opening_balance', sku_id, warehouse_id, location_id, 'RB' || batch, quantity, 0,
              0, 'bench', 'RB-' || sku_id || '-' || warehouse_id || '-' || batch,
              'system:bench', 'report bench', cost
       FROM rb_batches WHERE sku_id % 10 = :part"""

# a year of shipments, 30 days per statement: each SKU ships in a warehouse on about a third of
# the days, and a tenth of the SKUs not in the last 120 days (dead stock)
DAILY_OUT = """INSERT INTO stock_daily_out (day, sku_id, warehouse_id, units)
       SELECT d::date, s.sku_id, s.warehouse_id, 1 + (s.sku_id + extract(doy FROM d)::int) % 9
       FROM stocks s JOIN skus k ON k.id = s.sku_id AND k.code LIKE 'RB-%'
       CROSS JOIN generate_series((current_date - CAST(:hi AS int))::timestamp,
                                  (current_date - CAST(:lo AS int))::timestamp,
                                  interval '1 day') d
       WHERE (s.sku_id + s.warehouse_id + extract(doy FROM d)::int) % 3 = 0
         AND (s.sku_id % 10 <> 0 OR d < (current_date - 120)::timestamp)
       ON CONFLICT DO NOTHING"""


async def make_data(stack: Stack, args: Any) -> dict[str, int]:
    """The bench's data, on a connection of its own without the pool's 60 s command timeout (a
    busy shared machine makes bulk statements slow)."""
    began = time.perf_counter()
    engine = create_async_engine(
        f"postgresql+asyncpg://postgres@127.0.0.1:{stack.pg_port}/houtai",
        connect_args={"command_timeout": None},
    )
    try:
        await _make(engine, args)
    finally:
        await engine.dispose()
    async with stack.sessions() as session:
        counts = {
            table: int(await session.scalar(text(f"SELECT COUNT(*) FROM {table}")) or 0)  # noqa: S608
            for table in (
                "stocks",
                "location_stocks",
                "stock_daily_out",
                "stock_out_days",
                "warehouse_daily",
                "pick_hourly",
            )
        }
    violations = await _stack.invariant_violations(stack.sessions)
    say(f"[reports_stock] data made in {time.perf_counter() - began:.1f} s: {counts}")
    say(f"[reports_stock] stock invariants: {violations or 'all hold'}")
    return counts


async def _make(engine: AsyncEngine, args: Any) -> None:
    async with AsyncSession(engine) as session:
        for sql in MAKE_DATA:
            await session.execute(text(sql), {"skus": args.skus, "days": args.days})
        for part in range(10):
            await session.execute(text(OPENING), {"part": part})
        for sql in AFTER_OPENING:
            await session.execute(text(sql), {"skus": args.skus, "days": args.days})
        await session.commit()
        for lo in range(0, args.days + 1, 30):
            hi = min(lo + 29, args.days)
            await session.execute(text(DAILY_OUT), {"lo": lo, "hi": hi})
            await session.commit()
        for sql in AFTER_DAILY_OUT:
            await session.execute(text(sql), {"skus": args.skus, "days": args.days})
            await session.commit()


REPORTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("stock value by warehouse", "/v1/reports/stock/value", {}),
    ("stock value by category", "/v1/reports/stock/value", {"group": "category"}),
    ("batch aging and expiry by warehouse", "/v1/reports/stock/aging", {}),
    ("batch aging and expiry by category", "/v1/reports/stock/aging", {"group": "category"}),
    ("days of cover, 30 days, first page", "/v1/reports/stock/cover", {"days": 30}),
    ("days of cover, 90 days, most shipped", "/v1/reports/stock/cover",
     {"days": 90, "sort": "-units_out"}),
    ("dead stock, 90 days", "/v1/reports/stock/dead", {"days": 90}),
    ("stock-out days, last 30 days", "/v1/reports/stock/stockouts", {}),
    ("stock-out days, a year", "/v1/reports/stock/stockouts", {"year": True}),
    ("warehouse per day, 30 days", "/v1/reports/warehouse", {}),
    ("warehouse per month, a year", "/v1/reports/warehouse", {"by": "month", "year": True}),
    ("units/hour per worker per week, a year", "/v1/reports/warehouse/pickers",
     {"by": "week", "year": True}),
    ("units/hour per device per day, 30 days", "/v1/reports/warehouse/pickers",
     {"dimension": "device"}),
)  # fmt: skip


async def _timed(http: Http, path: str, params: dict[str, Any], headers: dict[str, str],
                 calls: int) -> tuple[list[float], int]:  # fmt: skip
    seconds, rows = [], 0
    for _ in range(calls):
        began = time.perf_counter()
        answer = await http.api.get(path, params=params, headers=headers)
        seconds.append(time.perf_counter() - began)
        body = _stack.ok(answer, 200)
        rows = int(body.get("count", len(body.get("rows", body.get("data", [])))))
    return seconds, rows


async def report_rows(stack: Stack, http: Http, args: Any) -> list[Row]:
    """Make the data, then time every stock and warehouse report through the API."""
    for key, value in DEFAULTS.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    await make_data(stack, args)
    token = await _floor.login(http.api, "ops")
    ops = {"Authorization": f"Bearer {token}"}
    calls = args.calls
    base, _ = await _timed(http, "/v1/stock/value", {"limit": 50}, ops, calls)
    base_p50, base_p95 = percentile(base, 50), percentile(base, 95)
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
    year_ago = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600 - 364 * 86400))
    rows: list[Row] = [
        ("baseline: GET /v1/stock/value (50 rows)", f"{ms(base_p50)} / {ms(base_p95)}",
         "", "", "", ""),
    ]  # fmt: skip
    for label, path, given in REPORTS:
        params = {k: v for k, v in given.items() if k != "year"}
        if given.get("year"):
            params |= {"date_from": year_ago, "date_to": today}
        await http.api.get(path, params=params, headers=ops)  # warm
        seconds, count = await _timed(http, path, params, ops, calls)
        p50, p95 = percentile(seconds, 50), percentile(seconds, 95)
        rows.append(
            (
                f"{label} ({count:,} rows), p50 / p95",
                f"{ms(p50)} / {ms(p95)}",
                f"{ms(base_p50)} / {ms(base_p95)}",
                f"{p95 / base_p95:.1f}×" if base_p95 else "",
                "≤ 1 s",
                "met" if p95 <= TARGET_S else "MISSED",
            )
        )
    return rows


async def run(args: Any) -> list[Row]:
    # The notification sandboxes' fixed ports may be taken by another stack on this machine.
    for name in ("HOUTAI_EMBEDDED__SANDBOX_ROBOTS_PORT", "HOUTAI_EMBEDDED__SANDBOX_SMTP_PORT"):
        os.environ.setdefault(name, str(free_port()))
    async with _stack.running_stack() as stack, http_clients(stack) as http:
        return await report_rows(stack, http, args)


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--skus", type=int, default=DEFAULTS["skus"], help="SKUs made [5,000]")
    p.add_argument("--days", type=int, default=DEFAULTS["days"], help="days of history [365]")
    p.add_argument("--calls", type=int, default=DEFAULTS["calls"], help="calls per report [20]")
    args = p.parse_args(argv)
    return _figures.run_bench(
        run, args, ("figure", "houtai", "baseline", "ratio", "target", "verdict")
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
