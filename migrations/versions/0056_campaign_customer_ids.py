"""flash-sale limits and group-buy membership keyed by the customer record (customers.id)
instead of the storefront's customer key: two storefronts' "customer 7" each get their own
per-customer limit and may both join the same group (issue 16, as 0055 did for loyalty).

- flash_claims and group_buy_members keep `customer_id`, the storefront's key as the order
  names it (what the storefront sees), and get `customer_record_id` (FK customers.id): the
  customer the limit and the membership count.
- flash_buyers (the running count under the per-customer limit) is keyed by customers.id and
  rebuilt from its definition: the units of the customer's claims not released.

Data: a row goes to the record of its order's (storefront, customer key) — the storefront from
the order, else from its order number (every claim and every member took one first) — with a
record created when the storefront never upserted that key; a row whose storefront cannot be
told goes to the oldest record with the key. Rows no record can be found for are dropped (a key
no storefront ever named; cannot happen for rows written by the gate or a group's join).

Revision ID: 0056_campaign_customer_ids
Revises: 0055_loyalty_customer_ids
Create Date: 2026-12-06 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0056_campaign_customer_ids"
down_revision: str | None = "0055_loyalty_customer_ids"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("flash_claims", "group_buy_members")

# The storefront of each row's order: the order's, else its number's.
_SHOP = """COALESCE((SELECT o.api_key_id FROM orders o WHERE o.order_no = t.order_no),
                    (SELECT n.api_key_id FROM order_numbers n WHERE n.order_no = t.order_no))"""


def _missing_records(table: str) -> str:
    """Records for the (storefront, key) pairs `table` names that have none (`table` is one of
    TABLES, hence the S608 waiver)."""
    return f"""
        INSERT INTO customers (api_key_id, customer_key, name, phone, addresses, channel)
        SELECT DISTINCT x.shop, x.customer_id, '', '', '[]'::jsonb, 'migrated'
        FROM (SELECT {_SHOP} AS shop, t.customer_id FROM {table} t) x
        WHERE x.shop IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM customers c
                          WHERE c.api_key_id = x.shop AND c.customer_key = x.customer_id)
    """  # noqa: S608


def _record(table: str) -> None:
    """`table.customer_record_id`, NOT NULL, FK customers.id (see the docstring)."""
    op.add_column(table, sa.Column("customer_record_id", sa.BigInteger(), nullable=True))
    op.execute(_missing_records(table))
    op.execute(
        f"""UPDATE {table} t SET customer_record_id = c.id
            FROM customers c
            WHERE c.api_key_id = {_SHOP} AND c.customer_key = t.customer_id"""  # noqa: S608
    )
    op.execute(
        f"""UPDATE {table} t SET customer_record_id =
                (SELECT MIN(c.id) FROM customers c WHERE c.customer_key = t.customer_id)
            WHERE t.customer_record_id IS NULL"""  # noqa: S608
    )
    op.execute(f"DELETE FROM {table} WHERE customer_record_id IS NULL")  # noqa: S608
    op.alter_column(table, "customer_record_id", nullable=False)
    op.create_foreign_key(
        op.f(f"fk_{table}_customer_record_id_customers"),
        table,
        "customers",
        ["customer_record_id"],
        ["id"],
    )


def _rebuild_buyers(customer_column: str) -> None:
    """flash_buyers from its definition: per sale and customer, the units of claims not
    released (`customer_column` of flash_claims: the record or the storefront's key)."""
    op.execute("DELETE FROM flash_buyers")
    op.execute(
        f"""INSERT INTO flash_buyers (flash_sale_id, customer_id, bought)
            SELECT flash_sale_id, {customer_column}, SUM(quantity) FROM flash_claims
            WHERE status <> 'released' GROUP BY flash_sale_id, {customer_column}"""  # noqa: S608
    )


def upgrade() -> None:
    for table in TABLES:
        _record(table)
    _rebuild_buyers("customer_record_id")
    op.create_foreign_key(
        op.f("fk_flash_buyers_customer_id_customers"),
        "flash_buyers",
        "customers",
        ["customer_id"],
        ["id"],
    )


def downgrade() -> None:
    # Back to the storefront's key (two storefronts' customers share a limit again, as before).
    op.drop_constraint(
        op.f("fk_flash_buyers_customer_id_customers"), "flash_buyers", type_="foreignkey"
    )
    _rebuild_buyers("customer_id")
    for table in TABLES:
        op.drop_constraint(
            op.f(f"fk_{table}_customer_record_id_customers"), table, type_="foreignkey"
        )
        op.drop_column(table, "customer_record_id")
