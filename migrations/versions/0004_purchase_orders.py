"""purchase orders: POs with running line figures, receipts and their lines, the PO timeline,
the PO number sequence, in-transit and sample movement types, the purchasing_manager role

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 05:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_TYPES = [
    "opening_balance",
    "purchase_in",
    "return_in",
    "transfer_in",
    "transfer_out",
    "count_surplus",
    "count_deficit",
    "adjustment_in",
    "adjustment_out",
    "sales_out",
    "purchase_return_out",
    "damage_out",
    "reservation",
    "release",
]
NEW_TYPES = [*OLD_TYPES, "purchase_ordered", "purchase_arrived", "purchase_closed", "sample_in"]
PO_STATUSES = [
    "draft",
    "pending_approval",
    "rejected",
    "cancelled",
    "approved",
    "sent",
    "receiving",
    "closed",
]


def _types_check(types: list[str]) -> str:
    return "movement_type IN (" + ",".join(f"'{t}'" for t in types) + ")"


def _jsonb() -> postgresql.JSONB:
    return postgresql.JSONB(astext_type=sa.Text())


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence("po_no_seq")))
    op.drop_constraint(op.f("ck_stock_movements_type_known"), "stock_movements", type_="check")
    op.create_check_constraint("type_known", "stock_movements", _types_check(NEW_TYPES))
    roles = sa.table("roles", sa.column("name", sa.String), sa.column("description", sa.String))
    op.bulk_insert(
        roles, [{"name": "purchasing_manager", "description": "approves purchase orders"}]
    )
    op.create_table(
        "purchase_orders",
        sa.Column("po_no", sa.String(length=24), nullable=False),
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_seq", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("required_roles", _jsonb(), nullable=False),
        sa.Column("approvals", _jsonb(), nullable=False),
        sa.Column("reminded", sa.Boolean(), nullable=False),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("close_reason", sa.String(length=20), nullable=True),
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
        sa.CheckConstraint("amount_fen >= 0", name=op.f("ck_purchase_orders_amount_not_negative")),
        sa.CheckConstraint(
            "status IN (" + ",".join(f"'{s}'" for s in PO_STATUSES) + ")",
            name=op.f("ck_purchase_orders_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_purchase_orders_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"], ["suppliers.id"], name=op.f("fk_purchase_orders_supplier_id_suppliers")
        ),
        sa.PrimaryKeyConstraint("po_no", name=op.f("pk_purchase_orders")),
    )
    op.create_index("ix_purchase_orders_status", "purchase_orders", ["status"], unique=False)
    op.create_index(
        op.f("ix_purchase_orders_supplier_id"), "purchase_orders", ["supplier_id"], unique=False
    )
    op.create_table(
        "purchase_order_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("po_no", sa.String(length=24), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("step", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("detail", _jsonb(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_order_events")),
        sa.UniqueConstraint(
            "po_no", "idempotency_key", name=op.f("uq_purchase_order_events_po_no_idempotency_key")
        ),
    )
    op.create_index(
        op.f("ix_purchase_order_events_po_no"), "purchase_order_events", ["po_no"], unique=False
    )
    op.create_table(
        "purchase_order_lines",
        sa.Column("po_no", sa.String(length=24), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("returned", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_purchase_order_lines_quantity_positive")),
        sa.CheckConstraint(
            "received = accepted + rejected", name=op.f("ck_purchase_order_lines_received_adds_up")
        ),
        sa.CheckConstraint(
            "returned <= received", name=op.f("ck_purchase_order_lines_returned_within_received")
        ),
        sa.CheckConstraint(
            "unit_price_fen >= 0", name=op.f("ck_purchase_order_lines_price_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["po_no"],
            ["purchase_orders.po_no"],
            name=op.f("fk_purchase_order_lines_po_no_purchase_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sku_id"], ["skus.id"], name=op.f("fk_purchase_order_lines_sku_id_skus")
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_purchase_order_lines_warehouse_id_warehouses"),
        ),
        sa.PrimaryKeyConstraint("po_no", "line_no", name=op.f("pk_purchase_order_lines")),
    )
    op.create_table(
        "purchase_receipts",
        sa.Column("receipt_no", sa.String(length=32), nullable=False),
        sa.Column("po_no", sa.String(length=24), nullable=False),
        sa.Column("receipt_key", sa.String(length=64), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_purchase_receipts_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["po_no"],
            ["purchase_orders.po_no"],
            name=op.f("fk_purchase_receipts_po_no_purchase_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_purchase_receipts_warehouse_id_warehouses"),
        ),
        sa.PrimaryKeyConstraint("receipt_no", name=op.f("pk_purchase_receipts")),
        sa.UniqueConstraint(
            "po_no", "receipt_key", name=op.f("uq_purchase_receipts_po_no_receipt_key")
        ),
    )
    op.create_index(
        op.f("ix_purchase_receipts_po_no"), "purchase_receipts", ["po_no"], unique=False
    )
    op.create_table(
        "purchase_receipt_lines",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("receipt_no", sa.String(length=32), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=True),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("batch_no", sa.String(length=64), nullable=False),
        sa.Column("production_date", sa.Date(), nullable=True),
        sa.Column("expiry_date", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["receipt_no"],
            ["purchase_receipts.receipt_no"],
            name=op.f("fk_purchase_receipt_lines_receipt_no_purchase_receipts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sku_id"], ["skus.id"], name=op.f("fk_purchase_receipt_lines_sku_id_skus")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_receipt_lines")),
    )
    op.create_index(
        op.f("ix_purchase_receipt_lines_receipt_no"),
        "purchase_receipt_lines",
        ["receipt_no"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("purchase_receipt_lines")
    op.drop_table("purchase_receipts")
    op.drop_table("purchase_order_lines")
    op.drop_table("purchase_order_events")
    op.drop_table("purchase_orders")
    op.execute("DELETE FROM roles WHERE name = 'purchasing_manager'")
    op.drop_constraint(op.f("ck_stock_movements_type_known"), "stock_movements", type_="check")
    op.create_check_constraint("type_known", "stock_movements", _types_check(OLD_TYPES))
    op.execute(sa.schema.DropSequence(sa.Sequence("po_no_seq")))
