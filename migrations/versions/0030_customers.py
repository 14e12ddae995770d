"""customers as records (the storefront upserts them under its own customer key, which its
orders name as customer_id), segments by rules over orders, coupon batches issuing a coupon to a
segment, and the coupons issued (one per batch and customer)

Revision ID: 0030_customers
Revises: 0021_transfers
Create Date: 2026-12-06 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0030_customers"
down_revision: str | None = "0034_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("customer_key", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("addresses", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("fk_customers_api_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint(
            "api_key_id", "customer_key", name=op.f("uq_customers_api_key_id_customer_key")
        ),
    )
    op.create_index("ix_customers_phone", "customers", ["phone"], unique=False)
    op.create_index("ix_customers_name", "customers", ["name"], unique=False)
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("rules", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint("name", name=op.f("uq_segments_name")),
    )
    op.create_table(
        "coupon_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("coupon_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("issued", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint(
            "status IN ('running','done','failed')", name=op.f("ck_coupon_batches_status_known")
        ),
        sa.CheckConstraint("issued >= 0", name=op.f("ck_coupon_batches_issued_not_negative")),
        sa.ForeignKeyConstraint(
            ["coupon_id"], ["coupons.id"], name=op.f("fk_coupon_batches_coupon_id_coupons")
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"], ["segments.id"], name=op.f("fk_coupon_batches_segment_id_segments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupon_batches")),
    )
    op.create_index(
        op.f("ix_coupon_batches_segment_id"), "coupon_batches", ["segment_id"], unique=False
    )
    op.create_table(
        "customer_coupons",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("coupon_id", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["coupon_batches.id"],
            name=op.f("fk_customer_coupons_batch_id_coupon_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["coupon_id"], ["coupons.id"], name=op.f("fk_customer_coupons_coupon_id_coupons")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_coupons_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_coupons")),
        sa.UniqueConstraint(
            "batch_id", "customer_id", name=op.f("uq_customer_coupons_batch_id_customer_id")
        ),
    )
    op.create_index(
        op.f("ix_customer_coupons_customer_id"), "customer_coupons", ["customer_id"], unique=False
    )
    # Segment rules read a customer's orders: (storefront, customer key) in placing order.
    op.create_index(
        "ix_orders_customer", "orders", ["api_key_id", "customer_id", "placed_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_orders_customer", table_name="orders")
    op.drop_index(op.f("ix_customer_coupons_customer_id"), table_name="customer_coupons")
    op.drop_table("customer_coupons")
    op.drop_index(op.f("ix_coupon_batches_segment_id"), table_name="coupon_batches")
    op.drop_table("coupon_batches")
    op.drop_table("segments")
    op.drop_index("ix_customers_name", table_name="customers")
    op.drop_index("ix_customers_phone", table_name="customers")
    op.drop_table("customers")
