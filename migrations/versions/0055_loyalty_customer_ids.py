"""points, levels and coupon redemptions keyed by the customer record (customers.id) instead of
the storefront's customer key: two storefronts' "customer 7" are two customers. Issued coupons
(customer_coupons) get their used/unused state.

Data: a ledger or level-history row that names an order goes to the record of the order's
(storefront, customer key), created when the storefront never upserted it; a row without an
order (an adjustment, an expiry) goes to the oldest record with that key (before this revision
the key was all there was). Rows no record can be found for are dropped (a key no storefront
ever named). The accounts are then rebuilt from the ledger, which is their definition; an
account a split would leave below 0 gets an `adjust` row bringing it back to 0.

Revision ID: 0055_loyalty_customer_ids
Revises: 0054_purchase_finance_rollups
Create Date: 2026-12-06 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0055_loyalty_customer_ids"
down_revision: str | None = "0054_purchase_finance_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Orders named by loyalty rows whose (storefront, key) has no record yet get one.
_MISSING_RECORDS = """
INSERT INTO customers (api_key_id, customer_key, name, phone, addresses, channel)
SELECT DISTINCT o.api_key_id, o.customer_id, '', '', '[]'::jsonb, 'migrated'
FROM orders o
WHERE (o.order_no IN (SELECT order_no FROM points_ledger WHERE order_no IS NOT NULL)
       OR o.order_no IN (SELECT order_no FROM member_level_history WHERE order_no IS NOT NULL)
       OR o.order_no IN (SELECT order_no FROM coupon_redemptions))
  AND NOT EXISTS (SELECT 1 FROM customers c
                  WHERE c.api_key_id = o.api_key_id AND c.customer_key = o.customer_id)
"""


def _rekey(table: str) -> None:
    """`table.customer_id` from the storefront's key to the record's id (see the docstring).
    `table` is one of this file's constant table names (hence the S608 waivers)."""
    op.execute(f"ALTER TABLE {table} ADD COLUMN record_id BIGINT")
    op.execute(
        f"""UPDATE {table} t SET record_id = c.id
            FROM orders o JOIN customers c
                 ON c.api_key_id = o.api_key_id AND c.customer_key = o.customer_id
            WHERE t.order_no = o.order_no"""  # noqa: S608
    )
    op.execute(
        f"""UPDATE {table} t SET record_id =
                (SELECT MIN(c.id) FROM customers c WHERE c.customer_key = t.customer_id)
            WHERE t.record_id IS NULL"""  # noqa: S608
    )
    op.execute(f"DELETE FROM {table} WHERE record_id IS NULL")  # noqa: S608
    op.execute(f"UPDATE {table} SET customer_id = record_id")  # noqa: S608
    op.execute(f"ALTER TABLE {table} DROP COLUMN record_id")


def upgrade() -> None:
    op.execute(_MISSING_RECORDS)
    # The per-customer keys of the ledger stay unique: an adjustment's key was unique per
    # storefront key, and a key maps to one record when the row names no order.
    op.drop_constraint("uq_points_ledger_customer_id_key", "points_ledger", type_="unique")
    _rekey("points_ledger")
    op.execute(
        """DELETE FROM points_ledger p USING points_ledger q
           WHERE p.customer_id = q.customer_id AND p.key = q.key AND p.id > q.id"""
    )
    op.create_unique_constraint(
        "uq_points_ledger_customer_id_key", "points_ledger", ["customer_id", "key"]
    )
    _rekey("member_level_history")
    op.alter_column("coupon_redemptions", "customer_id", type_=sa.BigInteger())
    _rekey("coupon_redemptions")

    # The accounts again from their ledger; a split account below 0 is adjusted to 0.
    op.execute(
        """INSERT INTO points_ledger (customer_id, kind, points, growth, key, detail)
           SELECT customer_id, 'adjust', -SUM(points), 0, 'adjust:migration-0055',
                  '{"reason": "accounts split by storefront (migration 0055)"}'::jsonb
           FROM points_ledger GROUP BY customer_id HAVING SUM(points) < 0"""
    )
    op.execute("DELETE FROM points_accounts")
    op.execute(
        """INSERT INTO points_accounts (customer_id, balance, growth, level_id)
           SELECT l.customer_id, SUM(l.points), GREATEST(SUM(l.growth), 0),
                  (SELECT m.id FROM member_levels m
                   WHERE m.growth_threshold <= GREATEST(SUM(l.growth), 0)
                   ORDER BY m.growth_threshold DESC LIMIT 1)
           FROM points_ledger l GROUP BY l.customer_id"""
    )

    # An issued coupon is used by one order at most, and given back when that order is
    # cancelled or refunded with its coupon returned.
    op.add_column("customer_coupons", sa.Column("used_order_no", sa.String(24), nullable=True))
    op.add_column(
        "customer_coupons", sa.Column("used_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_customer_coupons_coupon_customer",
        "customer_coupons",
        ["coupon_id", "customer_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_customer_coupons_used_order_no"),
        "customer_coupons",
        ["used_order_no"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_customer_coupons_used_order_no"), table_name="customer_coupons")
    op.drop_index("ix_customer_coupons_coupon_customer", table_name="customer_coupons")
    op.drop_column("customer_coupons", "used_at")
    op.drop_column("customer_coupons", "used_order_no")
    # Back to the storefront's key (two storefronts' customers merge again, as before).
    for table in ("points_ledger", "member_level_history", "coupon_redemptions"):
        op.execute(
            f"""UPDATE {table} t SET customer_id = c.customer_key
                FROM customers c WHERE c.id = t.customer_id"""  # noqa: S608
        )
    op.drop_constraint("uq_points_ledger_customer_id_key", "points_ledger", type_="unique")
    op.execute(
        """DELETE FROM points_ledger p USING points_ledger q
           WHERE p.customer_id = q.customer_id AND p.key = q.key AND p.id > q.id"""
    )
    op.create_unique_constraint(
        "uq_points_ledger_customer_id_key", "points_ledger", ["customer_id", "key"]
    )
    op.execute("DELETE FROM points_accounts")
    op.execute(
        """INSERT INTO points_accounts (customer_id, balance, growth, level_id)
           SELECT l.customer_id, GREATEST(SUM(l.points), 0), GREATEST(SUM(l.growth), 0), NULL
           FROM points_ledger l GROUP BY l.customer_id"""
    )
    op.alter_column("coupon_redemptions", "customer_id", type_=sa.Integer())
