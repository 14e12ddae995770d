"""flash sales (秒杀): the campaign, its buyers' counts and its orders' claims, and the flash
sale number sequence

Revision ID: 0031_flash_sales
Revises: 0021_transfers
Create Date: 2026-12-06 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031_flash_sales"
down_revision: str | None = "0031_loyalty"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence("flash_sale_no_seq")))
    op.create_table(
        "flash_sales",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flash_no", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("planned", sa.Integer(), nullable=False),
        sa.Column("per_customer_limit", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("sold", sa.Integer(), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        sa.Column("returned", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=100), nullable=True),
        sa.Column("close_reason", sa.String(length=200), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('scheduled','open','closed')", name=op.f("ck_flash_sales_status_known")
        ),
        sa.CheckConstraint(
            "planned > 0 AND per_customer_limit > 0", name=op.f("ck_flash_sales_positive_terms")
        ),
        sa.CheckConstraint("price_fen >= 0", name=op.f("ck_flash_sales_price_not_negative")),
        sa.CheckConstraint(
            "sold >= 0 AND sold <= total", name=op.f("ck_flash_sales_sold_within_total")
        ),
        sa.CheckConstraint(
            "held >= 0 AND total >= 0 AND returned >= 0",
            name=op.f("ck_flash_sales_figures_not_negative"),
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_flash_sales_window_ordered")),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_flash_sales_sku_id_skus")),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"], name=op.f("fk_flash_sales_warehouse_id_warehouses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flash_sales")),
        sa.UniqueConstraint("flash_no", name=op.f("uq_flash_sales_flash_no")),
    )
    op.create_table(
        "flash_buyers",
        sa.Column("flash_sale_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("bought", sa.Integer(), nullable=False),
        sa.CheckConstraint("bought >= 0", name=op.f("ck_flash_buyers_bought_not_negative")),
        sa.ForeignKeyConstraint(
            ["flash_sale_id"],
            ["flash_sales.id"],
            name=op.f("fk_flash_buyers_flash_sale_id_flash_sales"),
        ),
        sa.PrimaryKeyConstraint("flash_sale_id", "customer_id", name=op.f("pk_flash_buyers")),
    )
    op.create_table(
        "flash_claims",
        sa.Column("order_no", sa.String(length=24), nullable=False),
        sa.Column("flash_sale_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "claimed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("returned_to", sa.String(length=16), nullable=True),
        sa.CheckConstraint(
            "status IN ('claimed','reserved','released')", name=op.f("ck_flash_claims_status_known")
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_flash_claims_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["flash_sale_id"],
            ["flash_sales.id"],
            name=op.f("fk_flash_claims_flash_sale_id_flash_sales"),
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_flash_claims_sku_id_skus")),
        sa.PrimaryKeyConstraint("order_no", name=op.f("pk_flash_claims")),
    )
    op.create_index("ix_flash_claims_sale", "flash_claims", ["flash_sale_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_flash_claims_sale", table_name="flash_claims")
    op.drop_table("flash_claims")
    op.drop_table("flash_buyers")
    op.drop_table("flash_sales")
    op.execute(sa.schema.DropSequence(sa.Sequence("flash_sale_no_seq")))
