"""presales (预售): the campaign's terms, its orders' stages, and forfeited deposits in the money
ledger

Revision ID: 0032_presales
Revises: 0031_flash_sales
Create Date: 2026-12-06 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032_presales"
down_revision: str | None = "0031_group_buys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_MONEY = ["payment", "refund", "supplier_invoice", "supplier_credit", "supplier_payment"]
NEW_MONEY = [*OLD_MONEY, "forfeit"]


def _money(types: list[str]) -> None:
    op.drop_constraint(op.f("ck_money_ledger_type_known"), "money_ledger", type_="check")
    op.create_check_constraint(
        "type_known", "money_ledger", "entry_type IN (" + ",".join(f"'{t}'" for t in types) + ")"
    )


def _stamp(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.text("now()"),
                     nullable=False)  # fmt: skip


def upgrade() -> None:
    _money(NEW_MONEY)
    op.create_table(
        "presales",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("deposit_fen", sa.BigInteger(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("balance_starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("balance_ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("forfeit_percent", sa.Integer(), nullable=False),
        sa.Column("refund_percent", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_by", sa.String(length=100), nullable=True),
        sa.Column("stop_reason", sa.String(length=200), nullable=True),
        _stamp("created_at"),
        _stamp("updated_at"),
        sa.CheckConstraint("status IN ('active','stopped')", name=op.f("ck_presales_status_known")),
        sa.CheckConstraint(
            "price_fen > 0 AND deposit_fen > 0", name=op.f("ck_presales_amounts_positive")
        ),
        sa.CheckConstraint("deposit_fen < price_fen", name=op.f("ck_presales_deposit_below_price")),
        sa.CheckConstraint(
            "starts_at < balance_starts_at AND balance_starts_at < balance_ends_at",
            name=op.f("ck_presales_times_ordered"),
        ),
        sa.CheckConstraint(
            "forfeit_percent BETWEEN 0 AND 100 AND refund_percent BETWEEN 0 AND 100",
            name=op.f("ck_presales_rules_in_percent"),
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_presales_sku_id_skus")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_presales")),
    )
    op.create_table(
        "presale_orders",
        sa.Column("order_no", sa.String(length=24), nullable=False),
        sa.Column("presale_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("deposit_fen", sa.BigInteger(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("deposit_paid_fen", sa.BigInteger(), nullable=False),
        sa.Column("balance_paid_fen", sa.BigInteger(), nullable=False),
        sa.Column("forfeited_fen", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "stage IN ('placed','deposit_paid','balance_paid','forfeited','cancelled')",
            name=op.f("ck_presale_orders_stage_known"),
        ),
        sa.ForeignKeyConstraint(
            ["presale_id"], ["presales.id"], name=op.f("fk_presale_orders_presale_id_presales")
        ),
        sa.PrimaryKeyConstraint("order_no", name=op.f("pk_presale_orders")),
    )
    op.create_index("ix_presale_orders_presale", "presale_orders", ["presale_id", "stage"])


def downgrade() -> None:
    op.drop_index("ix_presale_orders_presale", table_name="presale_orders")
    op.drop_table("presale_orders")
    op.drop_table("presales")
    op.execute("DELETE FROM money_ledger WHERE entry_type = 'forfeit'")
    _money(OLD_MONEY)
