"""Console benchmark (DESIGN §10, issue 14): every list page of the staff console and the 工作台,
p95 server-side with 1,000,000 orders in the database. Target: p95 ≤ 300 ms each.

On the embedded stack (`houtai up` in a temp dir), the orders are written straight into its
database by SQL (generate_series, not through workflows: placing a million orders is not what is
measured): --orders orders over the last 365 days (2 % awaiting payment, 3 % paid, 5 %
fulfilling, 10 % delivered, 70 % completed, 10 % cancelled; 0.1 % escalated, 0.1 % under
review), one line each, a package and a payment for each paid one. Then ANALYZE, as autovacuum
would.

Each page is fetched --repeat times one after another by the signed-in demo admin (every page of
the menu) over real HTTP on
localhost (the console calls /v1 in process, so one request is the console and the API): the
time to the last byte is the server's time plus a loopback round trip. The pages are the
console's menu (every list page it links to, found in the page itself, so pages added later are
measured too) plus each filter of the orders list.

Figures are printed, not asserted: the exit status is non-zero only if the run itself breaks."""

from __future__ import annotations

import argparse
import asyncio
import re
import shlex
import sys
import time
from datetime import UTC, datetime
from html import unescape
from typing import Any
from urllib.parse import urlencode

import _figures
import _stack
import httpx
from _figures import ms, percentile, say, table
from _stack import Stack
from sqlalchemy import text

from core.totp import time_step, totp_code
from workers.seed import DEMO_PASSWORD, DEMO_TOTP_SECRETS

TARGET_P95_S = 0.300

ORDERS_SQL = """
INSERT INTO orders (order_no, api_key_id, customer_id, status, status_seq, region_code, address,
    goods_list_fen, discount_fen, freight_fen, payable_fen, paid_fen, refunded_fen, coupon_id,
    pricing, payment_deadline, under_review, escalated, cancel_reason, placed_at, updated_at)
SELECT 'SO9' || lpad(i::text, 15, '0'),
       :api_key_id,
       1 + (i::bigint * 7919) % 200000,
       CASE WHEN i % 100 < 2 THEN 'awaiting_payment' WHEN i % 100 < 5 THEN 'paid'
            WHEN i % 100 < 10 THEN 'fulfilling' WHEN i % 100 < 20 THEN 'delivered'
            WHEN i % 100 < 90 THEN 'completed' ELSE 'cancelled' END,
       3,
       '310115',
       '{"name": "张三", "phone": "13800000000", "region_code": "310115",
         "detail": "世纪大道 1 号"}'::jsonb,
       1000 + (i % 50) * 100, 0, 0, 1000 + (i % 50) * 100,
       CASE WHEN i % 100 BETWEEN 2 AND 89 THEN 1000 + (i % 50) * 100 ELSE 0 END,
       0, NULL, '{}'::jsonb,
       now() - (i % 525600) * interval '1 minute' + interval '30 minutes',
       i % 1000 = 1, i % 1000 = 2,
       CASE WHEN i % 100 >= 90 THEN 'customer' END,
       now() - (i % 525600) * interval '1 minute',
       now() - (i % 525600) * interval '1 minute'
FROM generate_series(CAST(:first AS int), CAST(:last AS int)) AS i
"""
LINES_SQL = """
INSERT INTO order_lines (order_no, line_no, sku_id, quantity, unit_price_fen, list_amount_fen,
    discount_fen, paid_fen, is_gift, allocations)
SELECT 'SO9' || lpad(i::text, 15, '0'), 1,
       (CAST(:skus AS int[]))[1 + i % cardinality(CAST(:skus AS int[]))], 1,
       1000 + (i % 50) * 100, 1000 + (i % 50) * 100, 0,
       CASE WHEN i % 100 BETWEEN 2 AND 89 THEN 1000 + (i % 50) * 100 ELSE 0 END, false,
       '[]'::jsonb
FROM generate_series(CAST(:first AS int), CAST(:last AS int)) AS i
"""
PACKAGES_SQL = """
INSERT INTO packages (package_no, order_no, warehouse_id, status, status_seq, carrier_code,
    expected_weight_g, tracking_no, tracking_events, updated_at)
SELECT 'PK9' || lpad(i::text, 15, '0'), 'SO9' || lpad(i::text, 15, '0'),
       (CAST(:warehouses AS int[]))[1 + i % cardinality(CAST(:warehouses AS int[]))],
       CASE WHEN i % 100 < 5 THEN 'released' WHEN i % 100 < 10 THEN 'shipped'
            WHEN i % 1000 = 3 THEN 'weight_hold' ELSE 'delivered' END,
       3, 'SF', 500, CASE WHEN i % 100 >= 5 THEN 'SFB' || i END, '[]'::jsonb,
       now() - (i % 525600) * interval '1 minute'
FROM generate_series(CAST(:first AS int), CAST(:last AS int)) AS i
WHERE i % 100 BETWEEN 2 AND 89
"""
PAYMENTS_SQL = """
INSERT INTO payments (transaction_id, provider, payment_id, order_no, amount_fen, currency,
    accepted, paid_at, recorded_at)
SELECT 'TXB' || i, 'sandbox', 'PAYB' || i, 'SO9' || lpad(i::text, 15, '0'),
       1000 + (i % 50) * 100, 'CNY', true,
       now() - (i % 525600) * interval '1 minute' + interval '5 minutes',
       now() - (i % 525600) * interval '1 minute' + interval '5 minutes'
FROM generate_series(CAST(:first AS int), CAST(:last AS int)) AS i
WHERE i % 100 BETWEEN 2 AND 89
"""
CHUNK = 100_000


async def seed(stack: Stack, orders: int) -> float:
    started = time.perf_counter()
    async with stack.sessions() as session:
        api_key_id = await session.scalar(
            text("SELECT id FROM api_keys WHERE role = 'storefront' ORDER BY id LIMIT 1")
        )
        skus = list(await session.scalars(text("SELECT id FROM skus ORDER BY id")))
        warehouses = list(await session.scalars(text("SELECT id FROM warehouses ORDER BY id")))
    for first in range(1, orders + 1, CHUNK):
        last = min(first + CHUNK - 1, orders)
        async with stack.sessions() as session:
            bounds = {"first": first, "last": last}
            await session.execute(text(ORDERS_SQL), {**bounds, "api_key_id": api_key_id})
            await session.execute(text(LINES_SQL), {**bounds, "skus": skus})
            await session.execute(text(PACKAGES_SQL), {**bounds, "warehouses": warehouses})
            await session.execute(text(PAYMENTS_SQL), bounds)
            await session.commit()
        say(f"  {last:,} orders written")
    async with stack.sessions() as session:
        await session.execute(text("ANALYZE"))
        await session.commit()
    return time.perf_counter() - started


async def sign_in(web: httpx.AsyncClient) -> None:
    """As the demo admin (every page of the menu), with its second factor's current code."""
    await web.get("/console/login")
    form = {
        "username": "admin",
        "password": DEMO_PASSWORD,
        "csrf": web.cookies["houtai_csrf"],
        "totp_code": totp_code(DEMO_TOTP_SECRETS["admin"], time_step(datetime.now(UTC))),
    }
    answer = await web.post("/console/login", data=form)
    if answer.status_code != 303:
        raise SystemExit(f"could not sign in: {answer.status_code} {answer.text[:300]}")


async def menu_pages(web: httpx.AsyncClient) -> list[str]:
    home = await web.get("/console/")
    nav = re.search(r'<nav class="menu".*?</nav>', home.text, re.S)
    assert nav, "the console's menu"
    return [unescape(h) for h in re.findall(r'href="(/console[^"]*)"', nav.group(0))]


async def timed(web: httpx.AsyncClient, path: str, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = await web.get(path)
        elapsed = time.perf_counter() - started
        if answer.status_code != 200:
            raise SystemExit(f"{path} answered {answer.status_code}: {answer.text[:300]}")
        times.append(elapsed)
    return times


async def main(args: argparse.Namespace) -> None:
    load_before = _load()
    async with _stack.running_stack() as stack:
        say(f"writing {args.orders:,} orders")
        seconds = await seed(stack, args.orders)
        say(f"written in {seconds:.0f} s")
        async with httpx.AsyncClient(base_url=stack.api, timeout=60) as web:
            await sign_in(web)
            pages = await menu_pages(web)
            a_sku = await _scalar(stack, "SELECT sku_id FROM order_lines LIMIT 1")
            a_warehouse = await _scalar(stack, "SELECT id FROM warehouses ORDER BY id LIMIT 1")
            filters: list[dict[str, object]] = [
                {"status": "awaiting_payment"},
                {"status": "completed"},
                {"customer_id": 4242},
                {"sku_id": a_sku},
                {"warehouse_id": a_warehouse},
                {"escalated": "true"},
                {"refund_refused": "true"},
                {"sort": "-payable_fen"},
                {"placed_from": "2026-01-01", "placed_until": "2026-01-31"},
                {"page": 1_000},
            ]
            pages += [f"/console/orders?{urlencode(f)}" for f in filters]
            rows = []
            for path in dict.fromkeys(pages):
                await web.get(path)  # one warm-up: the first call pays for plans and caches
                times = await timed(web, path, args.repeat)
                p95 = percentile(times, 95)
                verdict = "met" if p95 <= TARGET_P95_S else "MISSED"
                rows.append((path, ms(percentile(times, 50)), ms(p95), ms(TARGET_P95_S), verdict))
                say(f"  {path}: p95 {ms(p95)}")
    print()
    print(table(rows, ("page", "p50", "p95", "target p95", "verdict")))
    print()
    command = shlex.join([sys.executable, *sys.argv])
    print(f"command: {command}")
    print(f"orders: {args.orders:,}; each page {args.repeat} times after one warm-up")
    print(f"load average before {load_before}, after {_load()}")
    figures = [(f"p95 of {page} (p50 {p50})", p95, "", "", target, verdict)
               for page, p50, p95, target, verdict in rows]  # fmt: skip
    run = f"{args.orders:,} orders; load average before {load_before}, after {_load()}"
    _figures.keep_figures(figures, _figures.HEADER, command, run)


async def _scalar(stack: Stack, sql: str) -> Any:
    async with stack.sessions() as session:
        return await session.scalar(text(sql))


def _load() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="100,000 orders, 10 repeats")
    parsed = parser.parse_args()
    if parsed.quick:
        parsed.orders, parsed.repeat = 100_000, 10
    asyncio.run(main(parsed))
