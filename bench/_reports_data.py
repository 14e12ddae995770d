"""The reports benchmark's data (issue 17, bench/reports.py): N orders written straight into the
stack's database by bulk SQL (generate_series, not through workflows: placing a million orders
is not what is measured), spread the way a shop's sales spread:

- over the last 365 days, more in the evening than at night (the minute of day is skewed) and on
  weekends, every business day having orders;
- over the demo SKUs with a long tail (SKU popularity ∝ a squared uniform), 1 to 3 lines an
  order (about 1.6 on average), 1 to 3 units a line, a tenth of lines discounted;
- over 3 storefronts (the demo one and two more), the 31 provinces (the coastal ones most, by
  the same skew) and every warehouse (one per order, reserved there);
- 95 % paid (a payment 5 minutes after placing), 4 % of paid orders refunded in part a week
  later (a third of the goods), 90 % of paid orders shipped the next day with their cost of
  goods in the cost ledger at a per-SKU unit cost.

The ledgers balance: every payment and refund has its money ledger row (paid − refunded = Σ
ledger per order, and the orders' paid/refunded figures agree); the cost ledger's sales_out rows
are matched by an opening balance of the same units and value per SKU and warehouse, so the
cost ledger still sums to stock_costs. The sales rollup is filled by the same path as in
production: the statement triggers of migration 0051_sales_rollups fire on each bulk INSERT."""

from __future__ import annotations

import time
from typing import Final

from _figures import say
from _stack import Stack
from sqlalchemy import text

CHUNK: Final = 100_000
PREFIX: Final = "SR"  # order numbers SR000000000001…, their packages PR…

# Per order i: u(i, k) a well-spread pseudo-random fraction in [0, 1) (deterministic).
U = "((({i}::bigint * {k}) % 1000003) / 1000003.0)"


def u(i: str, k: int) -> str:
    return U.format(i=i, k=k)


PLACED = (
    "date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai')"
    f" - (1 + floor({u('i', 7919)} * 365))::int * interval '1 day'"
    f" + (floor(1440 * sqrt({u('i', 104729)})))::int * interval '1 minute'"
)

# Lines first, into a scratch table: 1 + (u < .45) + (u < .15) of them an order, a SKU from the
# long tail, 1–3 units, one line in ten discounted by a tenth; the order's warehouse.
SCRATCH_SQL = f"""
CREATE TEMP TABLE bench_lines ON COMMIT DROP AS
SELECT l.*, k.list_price_fen AS price, l.quantity * k.list_price_fen AS list_amount,
       CASE WHEN (l.i + l.line_no) % 10 = 0 THEN l.quantity * k.list_price_fen / 10 ELSE 0 END
           AS discount
FROM (
    SELECT '{PREFIX}' || lpad(i::text, 12, '0') AS order_no, i, n AS line_no,
           (CAST(:skus AS int[]))[1 + floor(power({u("(i * 3 + n)", 49979687)}, 2)
                                  * cardinality(CAST(:skus AS int[])))::int] AS sku_id,
           1 + floor({u("(i * 5 + n)", 86028121)} * 3)::int AS quantity,
           (CAST(:warehouses AS int[]))[1 + i % cardinality(CAST(:warehouses AS int[]))]
               AS warehouse_id
    FROM generate_series(CAST(:first AS int), CAST(:last AS int)) AS i,
         generate_series(1, 1 + ({u("i", 179424673)} < 0.45)::int
                            + ({u("i", 179424673)} < 0.15)::int) AS n
) l JOIN skus k ON k.id = l.sku_id
"""  # noqa: S608
# The order from its lines: freight 10.00 under 99.00; one in twenty cancelled unpaid, the
# others paid in full; one in twenty-five of the paid refunded a third of the goods.
ORDERS_SQL = f"""
INSERT INTO orders (order_no, api_key_id, customer_id, status, status_seq, region_code, address,
    goods_list_fen, discount_fen, freight_fen, payable_fen, paid_fen, refunded_fen, coupon_id,
    pricing, payment_deadline, under_review, escalated, cancel_reason, placed_at, updated_at)
SELECT order_no,
       (CAST(:shops AS int[]))[1 + floor(power({u("i", 15485863)}, 2) * 3)::int],
       1 + (i::bigint * 7919) % 200000,
       CASE WHEN i % 20 = 0 THEN 'cancelled' ELSE 'completed' END, 3,
       (CAST(:provinces AS text[]))[1 + floor(power({u("i", 32452843)}, 2) * 31)::int],
       '{{}}'::jsonb, goods, discount, freight, goods - discount + freight,
       CASE WHEN i % 20 = 0 THEN 0 ELSE goods - discount + freight END,
       CASE WHEN i % 20 <> 0 AND i % 25 = 1 THEN (goods - discount) / 3 ELSE 0 END,
       NULL, '{{}}'::jsonb,
       ({PLACED}) AT TIME ZONE 'Asia/Shanghai' + interval '30 minutes',
       false, false, NULL,
       ({PLACED}) AT TIME ZONE 'Asia/Shanghai',
       ({PLACED}) AT TIME ZONE 'Asia/Shanghai'
FROM (SELECT order_no, i, SUM(list_amount) AS goods, SUM(discount) AS discount,
             CASE WHEN SUM(list_amount - discount) >= 9900 THEN 0 ELSE 1000 END AS freight
      FROM bench_lines GROUP BY order_no, i) o
"""  # noqa: S608
RESERVATIONS_SQL = """
INSERT INTO reservations (package_no, line_no, order_no, warehouse_id, sku_id, quantity, status)
SELECT 'P' || order_no, line_no, order_no, warehouse_id, sku_id, quantity,
       CASE WHEN i % 20 = 0 THEN 'released' ELSE 'consumed' END
FROM bench_lines
"""
LINES_SQL = """
INSERT INTO order_lines (order_no, line_no, sku_id, quantity, unit_price_fen, list_amount_fen,
    discount_fen, paid_fen, is_gift, allocations)
SELECT order_no, line_no, sku_id, quantity, price, list_amount, discount, list_amount - discount,
       false, '[]'::jsonb
FROM bench_lines
"""
PACKAGES_SQL = """
INSERT INTO packages (package_no, order_no, warehouse_id, status, status_seq, carrier_code,
    expected_weight_g, tracking_events, updated_at)
SELECT DISTINCT ON (r.package_no) r.package_no, r.order_no, r.warehouse_id,
       CASE WHEN r.status = 'released' THEN 'cancelled' ELSE 'delivered' END, 3, 'SF', 500,
       '[]'::jsonb, o.placed_at + interval '1 day'
FROM reservations r JOIN orders o ON o.order_no = r.order_no
WHERE r.order_no BETWEEN :first_no AND :last_no
"""
PAYMENTS_SQL = """
INSERT INTO payments (transaction_id, provider, payment_id, order_no, amount_fen, currency,
    accepted, paid_at, recorded_at)
SELECT 'TX' || order_no, 'sandbox', 'PAY' || order_no, order_no, paid_fen, 'CNY', true,
       placed_at + interval '5 minutes', placed_at + interval '5 minutes'
FROM orders WHERE order_no BETWEEN :first_no AND :last_no AND paid_fen > 0
"""
PAYMENT_LEDGER_SQL = """
INSERT INTO money_ledger (order_no, entry_type, amount_fen, ref_no, created_at)
SELECT order_no, 'payment', paid_fen, 'TX' || order_no, placed_at + interval '5 minutes'
FROM orders WHERE order_no BETWEEN :first_no AND :last_no AND paid_fen > 0
"""
REFUNDS_SQL = """
INSERT INTO refunds (refund_no, order_no, transaction_id, provider_refund_id, amount_fen, reason,
    created_at, confirmed_at)
SELECT 'RF' || order_no, order_no, 'TX' || order_no, 'PRF' || order_no, refunded_fen, '退款',
       LEAST(placed_at + interval '7 days', now()), LEAST(placed_at + interval '7 days', now())
FROM orders WHERE order_no BETWEEN :first_no AND :last_no AND refunded_fen > 0
"""
REFUND_LEDGER_SQL = """
INSERT INTO money_ledger (order_no, entry_type, amount_fen, ref_no, created_at)
SELECT order_no, 'refund', -refunded_fen, 'RF' || order_no,
       LEAST(placed_at + interval '7 days', now())
FROM orders WHERE order_no BETWEEN :first_no AND :last_no AND refunded_fen > 0
"""
# Paid orders but one in ten ship the next day; the cost of goods at 60 % of the list price.
COST_SQL = """
INSERT INTO stock_cost_entries (created_at, movement_type, sku_id, warehouse_id, units,
    value_fen, unit_cost_fen, ref_type, ref_no)
SELECT LEAST(o.placed_at + interval '1 day', now()), 'sales_out', r.sku_id, r.warehouse_id,
       -r.quantity,
       -r.quantity * (k.list_price_fen * 6 / 10), k.list_price_fen * 6 / 10, 'package',
       r.package_no
FROM reservations r JOIN orders o ON o.order_no = r.order_no JOIN skus k ON k.id = r.sku_id
WHERE r.order_no BETWEEN :first_no AND :last_no AND o.paid_fen > 0
  AND substr(o.order_no, 3)::int % 10 <> 3
"""
# What was shipped came in first: an opening balance of the same units and value, so the cost
# ledger sums to stock_costs per SKU and warehouse as before.
OPENING_SQL = f"""
INSERT INTO stock_cost_entries (created_at, movement_type, sku_id, warehouse_id, units,
    value_fen, unit_cost_fen, ref_type, ref_no)
SELECT now() - interval '400 days', 'opening_balance', sku_id, warehouse_id, -SUM(units),
       -SUM(value_fen), 0, 'bench', 'reports'
FROM stock_cost_entries WHERE ref_type = 'package' AND ref_no LIKE 'P{PREFIX}%'
GROUP BY sku_id, warehouse_id
"""  # noqa: S608
STOREFRONTS_SQL = """
INSERT INTO api_keys (name, prefix, key_hash, role, active, created_at, updated_at)
SELECT name, prefix, repeat('0', 64), 'storefront', true, now(), now()
FROM (VALUES ('小程序商城', 'hk_benchmp'), ('抖音小店', 'hk_benchdy')) AS v(name, prefix)
ON CONFLICT (prefix) DO NOTHING
"""
PROVINCES: Final = (
    "440000", "330000", "320000", "310000", "110000", "370000", "510000", "350000", "420000",
    "410000", "430000", "340000", "130000", "500000", "610000", "210000", "360000", "120000",
    "450000", "530000", "140000", "220000", "230000", "520000", "620000", "150000", "650000",
    "460000", "640000", "630000", "540000",
)  # fmt: skip


async def fill(stack: Stack, orders: int) -> float:
    """Write `orders` orders (and everything they carry); seconds taken."""
    started = time.perf_counter()
    async with stack.sessions() as session:
        await session.execute(text(STOREFRONTS_SQL))
        await session.commit()
        shops = list(
            await session.scalars(
                text("SELECT id FROM api_keys WHERE role = 'storefront' ORDER BY id LIMIT 3")
            )
        )
        skus = list(
            await session.scalars(text("SELECT id FROM skus ORDER BY list_price_fen DESC, id"))
        )
        warehouses = list(await session.scalars(text("SELECT id FROM warehouses ORDER BY id")))
    while len(shops) < 3:
        shops.append(shops[0])
    say(f"[reports] {len(skus)} SKUs, {len(warehouses)} warehouses, storefronts {shops}")
    for first in range(1, orders + 1, CHUNK):
        last = min(first + CHUNK - 1, orders)
        bounds = {"first": first, "last": last}
        numbers = {
            "first_no": f"{PREFIX}{first:012d}",
            "last_no": f"{PREFIX}{last:012d}",
        }
        lines = {**bounds, "skus": skus, "warehouses": warehouses}
        async with stack.sessions() as session:
            await session.execute(text(SCRATCH_SQL), lines)
            await session.execute(text(ORDERS_SQL), {"shops": shops, "provinces": list(PROVINCES)})
            await session.execute(text(RESERVATIONS_SQL))
            await session.execute(text(LINES_SQL))  # the rollup's trigger: GMV
            await session.execute(text(PACKAGES_SQL), numbers)
            await session.execute(text(PAYMENTS_SQL), numbers)
            await session.execute(text(PAYMENT_LEDGER_SQL), numbers)  # trigger: paid
            await session.execute(text(REFUNDS_SQL), numbers)
            await session.execute(text(REFUND_LEDGER_SQL), numbers)  # trigger: refunded
            await session.execute(text(COST_SQL), numbers)  # trigger: cost of goods
            await session.commit()
        say(f"[reports]   {last:,} orders written ({time.perf_counter() - started:.0f} s)")
    async with stack.sessions() as session:
        await session.execute(text(OPENING_SQL))
        await session.commit()
        await session.execute(text("ANALYZE"))
        await session.commit()
    return time.perf_counter() - started


async def ledgers_balance(stack: Stack) -> dict[str, int]:
    """The checks the bench prints: orders whose figures disagree with the money ledger, and
    the rollup's paid / refunded against the ledger's (both 0 when balanced)."""
    async with stack.sessions() as session:
        orders_off = await session.scalar(
            text(
                "SELECT count(*) FROM orders o LEFT JOIN (SELECT order_no, SUM(amount_fen) AS s"
                " FROM money_ledger WHERE order_no IS NOT NULL GROUP BY order_no) m"
                " ON m.order_no = o.order_no"
                " WHERE o.paid_fen - o.refunded_fen <> COALESCE(m.s, 0)"
            )
        )
        row = (
            await session.execute(
                text(
                    "SELECT (SELECT COALESCE(SUM(paid_fen), 0) FROM sales_rollup)"
                    " - (SELECT COALESCE(SUM(amount_fen), 0) FROM money_ledger"
                    "    WHERE order_no IS NOT NULL AND entry_type = 'payment'),"
                    " (SELECT COALESCE(SUM(refunded_fen), 0) FROM sales_rollup)"
                    " + (SELECT COALESCE(SUM(amount_fen), 0) FROM money_ledger"
                    "    WHERE order_no IS NOT NULL AND entry_type = 'refund'),"
                    " (SELECT count(*) FROM sales_rollup),"
                    " (SELECT count(*) FROM order_lines)"
                )
            )
        ).one()
    return {
        "orders off the ledger": int(orders_off or 0),
        "rollup paid − ledger": int(row[0]),
        "rollup refunded − ledger": int(row[1]),
        "rollup rows": int(row[2]),
        "order lines": int(row[3]),
    }
