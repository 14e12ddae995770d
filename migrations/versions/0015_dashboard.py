"""dashboard: the indexes its figures count with (flagged orders, packages by status, accepted
payments by time) and the orders list sorted by amount, so the 工作台 and the lists answer in the
same time at a million orders

Revision ID: 0015_dashboard
Revises: 0014_promises
Create Date: 2026-12-06 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_dashboard"
down_revision: str | None = "0014_promises"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_orders_escalated", "orders", ["placed_at"], postgresql_where=sa.text("escalated")
    )
    op.create_index(
        "ix_orders_under_review", "orders", ["placed_at"], postgresql_where=sa.text("under_review")
    )
    op.create_index("ix_orders_payable", "orders", ["payable_fen", "order_no"])
    op.create_index("ix_packages_status_warehouse", "packages", ["status", "warehouse_id"])
    op.create_index(
        "ix_payments_accepted_paid_at",
        "payments",
        ["paid_at"],
        postgresql_include=["amount_fen"],
        postgresql_where=sa.text("accepted"),
    )
    # The orders list filtered by SKU or warehouse reads order numbers from the index alone.
    op.drop_index("ix_order_lines_sku", table_name="order_lines")
    op.create_index("ix_order_lines_sku", "order_lines", ["sku_id", "order_no"])
    op.drop_index("ix_packages_warehouse_id", table_name="packages")
    op.create_index("ix_packages_warehouse_order", "packages", ["warehouse_id", "order_no"])
    op.create_index("ix_packages_updated", "packages", ["updated_at", "package_no"])


def downgrade() -> None:
    op.drop_index("ix_packages_updated", table_name="packages")
    op.drop_index("ix_packages_warehouse_order", table_name="packages")
    op.create_index("ix_packages_warehouse_id", "packages", ["warehouse_id"])
    op.drop_index("ix_order_lines_sku", table_name="order_lines")
    op.create_index("ix_order_lines_sku", "order_lines", ["sku_id"])
    op.drop_index("ix_payments_accepted_paid_at", table_name="payments")
    op.drop_index("ix_packages_status_warehouse", table_name="packages")
    op.drop_index("ix_orders_payable", table_name="orders")
    op.drop_index("ix_orders_under_review", table_name="orders")
    op.drop_index("ix_orders_escalated", table_name="orders")
