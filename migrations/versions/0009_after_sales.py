"""after-sales: requests (type, status, quoted amounts, SLA, decision, refund) and their lines

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence("after_sale_seq")))
    op.create_table(
        "after_sales",
        sa.Column("as_no", sa.String(length=24), nullable=False),
        sa.Column("order_no", sa.String(length=24), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_seq", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("evidence_urls", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("goods_fen", sa.Integer(), nullable=False),
        sa.Column("freight_fen", sa.Integer(), nullable=False),
        sa.Column("refund_fen", sa.Integer(), nullable=False),
        sa.Column("return_coupons", sa.Boolean(), nullable=False),
        sa.Column("requested_by", sa.String(length=120), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sla_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=120), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=True),
        sa.Column("refund_no", sa.String(length=32), nullable=True),
        sa.Column("return_warehouse_id", sa.Integer(), nullable=True),
        sa.Column("return_carrier", sa.String(length=32), nullable=True),
        sa.Column("return_tracking_no", sa.String(length=64), nullable=True),
        sa.Column("last_progress_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('requested','approved','awaiting_return','returning','received',"
            "'refunding','refunded','exchanging','exchanged','rejected','withdrawn','closed')",
            name=op.f("ck_after_sales_status_known"),
        ),
        sa.CheckConstraint(
            "type IN ('refund_only','return_and_refund','exchange')",
            name=op.f("ck_after_sales_type_known"),
        ),
        sa.CheckConstraint("refund_fen >= 0", name=op.f("ck_after_sales_refund_not_negative")),
        sa.ForeignKeyConstraint(
            ["order_no"], ["orders.order_no"], name=op.f("fk_after_sales_order_no_orders")
        ),
        sa.ForeignKeyConstraint(
            ["return_warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_after_sales_return_warehouse_id_warehouses"),
        ),
        sa.PrimaryKeyConstraint("as_no", name=op.f("pk_after_sales")),
    )
    op.create_index(op.f("ix_after_sales_order_no"), "after_sales", ["order_no"], unique=False)
    op.create_index(
        "ix_after_sales_status_progress",
        "after_sales",
        ["status", "last_progress_at"],
        unique=False,
    )
    op.create_table(
        "after_sale_lines",
        sa.Column("as_no", sa.String(length=24), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.CheckConstraint("amount_fen >= 0", name=op.f("ck_after_sale_lines_amount_not_negative")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_after_sale_lines_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["as_no"],
            ["after_sales.as_no"],
            name=op.f("fk_after_sale_lines_as_no_after_sales"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sku_id"], ["skus.id"], name=op.f("fk_after_sale_lines_sku_id_skus")
        ),
        sa.PrimaryKeyConstraint("as_no", "line_no", name=op.f("pk_after_sale_lines")),
    )
    op.create_index(
        op.f("ix_after_sale_lines_sku_id"), "after_sale_lines", ["sku_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("after_sale_lines")
    op.drop_table("after_sales")
    op.execute(sa.schema.DropSequence(sa.Sequence("after_sale_seq")))
