"""stock counts (盘点): counts, their locations (not picked from while open) and counted entries

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 06:00:00
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _now() -> sa.Column[datetime]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence("stock_count_seq")))
    op.create_table(
        "stock_counts",
        sa.Column("count_no", sa.String(length=32), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("decided_by", sa.String(length=120), nullable=True),
        _now(),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('counting','approved','cancelled')",
            name=op.f("ck_stock_counts_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_stock_counts_warehouse_id_warehouses"),
        ),
        sa.PrimaryKeyConstraint("count_no", name=op.f("pk_stock_counts")),
    )
    op.create_index(
        op.f("ix_stock_counts_warehouse_id"), "stock_counts", ["warehouse_id"], unique=False
    )
    op.create_table(
        "stock_count_locations",
        sa.Column("count_no", sa.String(length=32), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["count_no"],
            ["stock_counts.count_no"],
            name=op.f("fk_stock_count_locations_count_no_stock_counts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_stock_count_locations_location_id_locations"),
        ),
        sa.PrimaryKeyConstraint("count_no", "location_id", name=op.f("pk_stock_count_locations")),
    )
    op.create_table(
        "stock_count_entries",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("count_no", sa.String(length=32), nullable=False),
        sa.Column("entry_key", sa.String(length=64), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("batch_no", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("counted_by", sa.String(length=120), nullable=False),
        sa.Column(
            "counted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "quantity >= 0", name=op.f("ck_stock_count_entries_quantity_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["count_no"],
            ["stock_counts.count_no"],
            name=op.f("fk_stock_count_entries_count_no_stock_counts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_stock_count_entries_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["sku_id"], ["skus.id"], name=op.f("fk_stock_count_entries_sku_id_skus")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_count_entries")),
        sa.UniqueConstraint(
            "count_no", "entry_key", name=op.f("uq_stock_count_entries_count_no_entry_key")
        ),
    )
    op.create_index(
        op.f("ix_stock_count_entries_count_no"), "stock_count_entries", ["count_no"], unique=False
    )


def downgrade() -> None:
    op.drop_table("stock_count_entries")
    op.drop_table("stock_count_locations")
    op.drop_table("stock_counts")
    op.execute(sa.schema.DropSequence(sa.Sequence("stock_count_seq")))
