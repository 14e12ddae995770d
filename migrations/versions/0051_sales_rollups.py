"""sales rollups (issue 17): the sales report's figures per (business day, SKU, storefront,
warehouse, province), kept by statement triggers on the rows the processes write, in the same
transaction: order lines (GMV, discount, units placed), the money ledger (paid, refunded) and the
cost ledger (cost of goods shipped, net of customer returns). Backfilled from existing rows.

Revision ID: 0051_sales_rollups
Revises: 0040_inventory_cost
Create Date: 2026-12-06 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0051_sales_rollups"
down_revision: str | None = "0040_inventory_cost"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The definitions (docs/architecture.md, "Reports"). Every figure is booked on the business
# day (Asia/Shanghai) of the row that caused it:
# - GMV = Σ list_amount_fen of order lines as placed (orders.placed_at), discount = Σ their
#   allocated discounts, units = Σ quantities placed;
# - paid = Σ the money ledger's `payment` rows of orders, refunded = −Σ its `refund` rows of
#   orders (ledger created_at), net = paid − refunded: equal to the ledger for every period;
# - cost of goods = Σ the cost ledger's sales_out values (shipped) − Σ its return_in values
#   (customer returns back on hand), margin = net − cost of goods.
# An order's money is spread over its lines by their paid_fen (whole fen, floor; the remainder
# to the last line; all to the last line when no line has a paid amount), so per-SKU figures add
# up to the ledger exactly. A line's warehouse is where its units were reserved (the lowest
# warehouse id when split; 0 when none); shipped cost carries the warehouse it left from. The
# province is the first two digits of the order's region code, as 'NN0000'.

DAY = "(({at}) AT TIME ZONE 'Asia/Shanghai')::date"
PROVINCE = "left(o.region_code, 2) || '0000'"
LINE_WAREHOUSE = (
    "COALESCE((SELECT min(r.warehouse_id) FROM reservations r"
    " WHERE r.order_no = {line}.order_no AND r.line_no = {line}.line_no), 0)"
)
FIGURES = (
    "units_placed",
    "gmv_fen",
    "discount_fen",
    "paid_fen",
    "refunded_fen",
    "units_shipped",
    "units_returned",
    "cogs_fen",
)
KEY = "day, sku_id, api_key_id, warehouse_id, province"
SLOTS = 4  # rows per (day, dimension, value): concurrent writers seldom wait on one row
# The per-dimension rollup (sales_rollup_by) gets the same deltas, summed per single dimension
# (the category as the SKU's at the time), in the same statement: every view reads a few
# hundred rows a day instead of one per sold line's grain.
UPSERT = (
    "WITH d AS ({select}), base AS ("  # noqa: S608
    f" INSERT INTO sales_rollup ({KEY}, {', '.join(FIGURES)}) SELECT * FROM d"
    " ORDER BY 1, 2, 3, 4, 5"
    f" ON CONFLICT ({KEY}) DO UPDATE SET "
    + ", ".join(f"{f} = sales_rollup.{f} + EXCLUDED.{f}" for f in FIGURES)
    + f") INSERT INTO sales_rollup_by (day, dimension, key, slot, {', '.join(FIGURES)})"
    f" SELECT d.day, x.dimension, x.key, pg_backend_pid() % {SLOTS}, "
    + ", ".join(f"SUM(d.{f})" for f in FIGURES)
    + " FROM d JOIN skus k ON k.id = d.sku_id JOIN spus s ON s.id = k.spu_id"
    " CROSS JOIN LATERAL (VALUES ('category', s.category_id::text), ('sku', d.sku_id::text),"
    " ('storefront', d.api_key_id::text), ('warehouse', d.warehouse_id::text),"
    " ('province', d.province)) AS x(dimension, key)"
    " GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
    " ON CONFLICT (day, dimension, key, slot) DO UPDATE SET "
    + ", ".join(f"{f} = sales_rollup_by.{f} + EXCLUDED.{f}" for f in FIGURES)
)


def _select(key: str, figures: dict[str, str], rest: str) -> str:
    sums = ", ".join(
        f"COALESCE(SUM({figures[f]}), 0) AS {f}" if f in figures else f"0 AS {f}" for f in FIGURES
    )
    names = ("day", "sku_id", "api_key_id", "warehouse_id", "province")
    keys = ", ".join(f"{k} AS {n}" for k, n in zip(_split(key), names, strict=True))
    return f"SELECT {keys}, {sums} {rest} GROUP BY 1, 2, 3, 4, 5"


def _split(key: str) -> list[str]:
    """The five key expressions of a select (commas inside parentheses kept)."""
    parts, depth, current = [], 0, ""
    for ch in key:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    return [*parts, current.strip()]


def lines_sql(src: str) -> str:
    """Order lines as placed: GMV, discount, units."""
    key = (
        f"{DAY.format(at='o.placed_at')}, n.sku_id, o.api_key_id,"
        f" {LINE_WAREHOUSE.format(line='n')}, {PROVINCE}"
    )
    rest = f"FROM {src} n JOIN orders o ON o.order_no = n.order_no"
    figures = {
        "units_placed": "n.quantity",
        "gmv_fen": "n.list_amount_fen",
        "discount_fen": "n.discount_fen",
    }
    return UPSERT.format(select=_select(key, figures, rest))


def money_sql(src: str) -> str:
    """The money ledger's payment (+) and refund (−) rows of orders, spread over the lines."""
    spread = f"""
        FROM (
            SELECT e.entry_type, e.day, e.amount, l.order_no, l.line_no, l.sku_id,
                   o.api_key_id, {PROVINCE} AS province,
                   CASE WHEN w.total > 0 THEN floor(e.amount::numeric * l.paid_fen / w.total)
                        ELSE 0 END
                   + CASE WHEN l.line_no = w.last_line THEN e.amount - CASE WHEN w.total > 0
                        THEN (SELECT COALESCE(SUM(floor(e.amount::numeric * x.paid_fen
                                                        / w.total)), 0)
                              FROM order_lines x WHERE x.order_no = e.order_no)
                        ELSE 0 END ELSE 0 END AS share
            FROM (SELECT entry_type, order_no, abs(amount_fen) AS amount,
                         {DAY.format(at="created_at")} AS day
                  FROM {src}
                  WHERE order_no IS NOT NULL AND entry_type IN ('payment', 'refund')) e
            JOIN orders o ON o.order_no = e.order_no
            JOIN LATERAL (SELECT COALESCE(SUM(paid_fen), 0) AS total, max(line_no) AS last_line
                          FROM order_lines WHERE order_no = e.order_no) w ON true
            JOIN order_lines l ON l.order_no = e.order_no
        ) s"""  # noqa: S608
    key = f"s.day, s.sku_id, s.api_key_id, {LINE_WAREHOUSE.format(line='s')}, s.province"
    figures = {
        "paid_fen": "CASE WHEN s.entry_type = 'payment' THEN s.share END",
        "refunded_fen": "CASE WHEN s.entry_type = 'refund' THEN s.share END",
    }
    return UPSERT.format(select=_select(key, figures, spread))


def cost_sql(src: str) -> str:
    """The cost ledger: sales_out (a package shipped) and return_in (an after-sale's goods back)."""
    key = f"{DAY.format(at='c.created_at')}, c.sku_id, o.api_key_id, c.warehouse_id, {PROVINCE}"
    rest = f"""
        FROM {src} c
        LEFT JOIN packages p ON c.movement_type = 'sales_out' AND p.package_no = c.ref_no
        LEFT JOIN after_sales a ON c.movement_type = 'return_in' AND a.as_no = c.ref_no
        JOIN orders o ON o.order_no = COALESCE(p.order_no, a.order_no)
        WHERE (c.movement_type = 'sales_out' AND c.ref_type = 'package')
           OR (c.movement_type = 'return_in' AND c.ref_type = 'after_sale')"""
    figures = {
        "units_shipped": "CASE WHEN c.movement_type = 'sales_out' THEN -c.units END",
        "units_returned": "CASE WHEN c.movement_type = 'return_in' THEN c.units END",
        "cogs_fen": "-c.value_fen",
    }
    return UPSERT.format(select=_select(key, figures, rest))


TRIGGERS = (
    ("sales_rollup_lines", "order_lines", lines_sql),
    ("sales_rollup_money", "money_ledger", money_sql),
    ("sales_rollup_cost", "stock_cost_entries", cost_sql),
)


def upgrade() -> None:
    op.create_table(
        "sales_rollup",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("province", sa.String(length=6), nullable=False),
        *(sa.Column(f, sa.BigInteger(), nullable=False) for f in FIGURES),
        sa.PrimaryKeyConstraint(
            "day", "sku_id", "api_key_id", "warehouse_id", "province", name=op.f("pk_sales_rollup")
        ),
    )
    op.create_table(
        "sales_rollup_by",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dimension", sa.String(length=12), nullable=False),
        sa.Column("key", sa.String(length=12), nullable=False),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        *(sa.Column(f, sa.BigInteger(), nullable=False) for f in FIGURES),
        sa.PrimaryKeyConstraint("day", "dimension", "key", "slot", name=op.f("pk_sales_rollup_by")),
    )
    for name, table, sql in TRIGGERS:
        op.execute(sql(table))  # the backfill: existing rows, by the same statement
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN {sql('new_rows')}; RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {name} AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )


def downgrade() -> None:
    for name, table, _ in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON {table}")
        op.execute(f"DROP FUNCTION {name}()")
    op.drop_table("sales_rollup_by")
    op.drop_table("sales_rollup")
