"""settlement and replenishment: purchase returns and their lines, supplier invoices, the money
ledger for POs (po_no, supplier entry types), the settled PO status, reorder rules, POs drafted
by replenishment (no creating user, a source key)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 05:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_PO = [
    "draft",
    "pending_approval",
    "rejected",
    "cancelled",
    "approved",
    "sent",
    "receiving",
    "closed",
]
NEW_PO = [*OLD_PO, "settled"]
OLD_MONEY = ["payment", "refund"]
NEW_MONEY = [*OLD_MONEY, "supplier_invoice", "supplier_credit", "supplier_payment"]


def _in(column: str, values: list[str]) -> str:
    return f"{column} IN (" + ",".join(f"'{v}'" for v in values) + ")"


def _checks(po: list[str], money: list[str]) -> None:
    op.drop_constraint(op.f("ck_purchase_orders_status_known"), "purchase_orders", type_="check")
    op.create_check_constraint("status_known", "purchase_orders", _in("status", po))
    op.drop_constraint(op.f("ck_money_ledger_type_known"), "money_ledger", type_="check")
    op.create_check_constraint("type_known", "money_ledger", _in("entry_type", money))


def upgrade() -> None:
    _checks(NEW_PO, NEW_MONEY)
    op.alter_column("purchase_orders", "created_by", existing_type=sa.Integer(), nullable=True)
    op.add_column("purchase_orders", sa.Column("source_key", sa.String(length=80), nullable=True))
    op.create_unique_constraint(
        op.f("uq_purchase_orders_source_key"), "purchase_orders", ["source_key"]
    )
    op.create_table(
        "reorder_rules",
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("reorder_point", sa.Integer(), nullable=False),
        sa.Column("reorder_level", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "reorder_level >= reorder_point", name=op.f("ck_reorder_rules_level_above_point")
        ),
        sa.CheckConstraint("reorder_point >= 0", name=op.f("ck_reorder_rules_point_not_negative")),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_reorder_rules_sku_id_skus")),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_reorder_rules_warehouse_id_warehouses"),
        ),
        sa.PrimaryKeyConstraint("sku_id", "warehouse_id", name=op.f("pk_reorder_rules")),
    )
    op.alter_column("money_ledger", "order_no", existing_type=sa.String(length=24), nullable=True)
    op.alter_column(
        "money_ledger",
        "entry_type",
        existing_type=sa.String(length=16),
        type_=sa.String(length=20),
    )
    op.alter_column("money_ledger", "amount_fen", existing_type=sa.Integer(), type_=sa.BigInteger())
    op.add_column("money_ledger", sa.Column("po_no", sa.String(length=24), nullable=True))
    op.create_index(op.f("ix_money_ledger_po_no"), "money_ledger", ["po_no"], unique=False)
    op.create_check_constraint(
        "one_document", "money_ledger", "(order_no IS NULL) <> (po_no IS NULL)"
    )
    op.create_table(
        "purchase_returns",
        sa.Column("return_no", sa.String(length=32), nullable=False),
        sa.Column("po_no", sa.String(length=24), nullable=False),
        sa.Column("return_key", sa.String(length=64), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("credit_fen", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("credit_fen >= 0", name=op.f("ck_purchase_returns_credit_not_negative")),
        sa.ForeignKeyConstraint(
            ["po_no"],
            ["purchase_orders.po_no"],
            name=op.f("fk_purchase_returns_po_no_purchase_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_purchase_returns_warehouse_id_warehouses"),
        ),
        sa.PrimaryKeyConstraint("return_no", name=op.f("pk_purchase_returns")),
        sa.UniqueConstraint(
            "po_no", "return_key", name=op.f("uq_purchase_returns_po_no_return_key")
        ),
    )
    op.create_index(op.f("ix_purchase_returns_po_no"), "purchase_returns", ["po_no"], unique=False)
    op.create_table(
        "purchase_return_lines",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("return_no", sa.String(length=32), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("batch_no", sa.String(length=64), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_purchase_return_lines_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_purchase_return_lines_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["return_no"],
            ["purchase_returns.return_no"],
            name=op.f("fk_purchase_return_lines_return_no_purchase_returns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sku_id"], ["skus.id"], name=op.f("fk_purchase_return_lines_sku_id_skus")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_return_lines")),
    )
    op.create_index(
        op.f("ix_purchase_return_lines_return_no"),
        "purchase_return_lines",
        ["return_no"],
        unique=False,
    )
    op.create_table(
        "supplier_invoices",
        sa.Column("po_no", sa.String(length=24), nullable=False),
        sa.Column("invoice_no", sa.String(length=64), nullable=False),
        sa.Column("invoice_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("expected_fen", sa.BigInteger(), nullable=False),
        sa.Column("invoiced_fen", sa.BigInteger(), nullable=False),
        sa.Column("credit_fen", sa.BigInteger(), nullable=False),
        sa.Column("payable_fen", sa.BigInteger(), nullable=False),
        sa.Column("discrepancies", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("decided_by", sa.String(length=120), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=True),
        sa.Column("transfer_id", sa.String(length=64), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('mismatch','payable','rejected','paid')",
            name=op.f("ck_supplier_invoices_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["po_no"],
            ["purchase_orders.po_no"],
            name=op.f("fk_supplier_invoices_po_no_purchase_orders"),
        ),
        sa.PrimaryKeyConstraint("po_no", name=op.f("pk_supplier_invoices")),
    )


def downgrade() -> None:
    op.drop_table("reorder_rules")
    op.drop_constraint(op.f("uq_purchase_orders_source_key"), "purchase_orders", type_="unique")
    op.drop_column("purchase_orders", "source_key")
    op.execute("DELETE FROM purchase_orders WHERE created_by IS NULL")
    op.alter_column("purchase_orders", "created_by", existing_type=sa.Integer(), nullable=False)
    op.drop_table("supplier_invoices")
    op.drop_table("purchase_return_lines")
    op.drop_table("purchase_returns")
    op.execute("DELETE FROM money_ledger WHERE po_no IS NOT NULL")
    op.drop_constraint(op.f("ck_money_ledger_one_document"), "money_ledger", type_="check")
    op.drop_index(op.f("ix_money_ledger_po_no"), table_name="money_ledger")
    op.drop_column("money_ledger", "po_no")
    op.alter_column("money_ledger", "order_no", existing_type=sa.String(length=24), nullable=False)
    op.execute("UPDATE purchase_orders SET status = 'closed' WHERE status = 'settled'")
    _checks(OLD_PO, OLD_MONEY)
