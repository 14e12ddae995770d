"""member levels and points: levels with their benefits, the points rules (one row), points
accounts (balance = Σ ledger, growth value, level), the points ledger and the level history

Revision ID: 0031_loyalty
Revises: 0021_transfers
Create Date: 2026-12-06 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0031_loyalty"
down_revision: str | None = "0021_transfers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _stamps() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
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
    ]


def upgrade() -> None:
    op.create_table(
        "member_levels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("growth_threshold", sa.BigInteger(), nullable=False),
        sa.Column("discount_percent", sa.Integer(), nullable=False),
        sa.Column("free_shipping", sa.Boolean(), nullable=False),
        *_stamps(),
        sa.CheckConstraint(
            "growth_threshold >= 0", name=op.f("ck_member_levels_threshold_not_negative")
        ),
        sa.CheckConstraint(
            "discount_percent BETWEEN 0 AND 99", name=op.f("ck_member_levels_discount_in_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_levels")),
        sa.UniqueConstraint("code", name=op.f("uq_member_levels_code")),
        sa.UniqueConstraint("growth_threshold", name=op.f("uq_member_levels_growth_threshold")),
    )
    op.create_table(
        "points_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("earn_per_yuan", sa.Integer(), nullable=False),
        sa.Column("growth_per_yuan", sa.Integer(), nullable=False),
        sa.Column("fen_per_point", sa.Integer(), nullable=False),
        sa.Column("max_percent", sa.Integer(), nullable=False),
        *_stamps(),
        sa.CheckConstraint(
            "earn_per_yuan >= 0 AND growth_per_yuan >= 0",
            name=op.f("ck_points_rules_earn_not_negative"),
        ),
        sa.CheckConstraint(
            "fen_per_point >= 1", name=op.f("ck_points_rules_point_worth_something")
        ),
        sa.CheckConstraint(
            "max_percent BETWEEN 0 AND 100", name=op.f("ck_points_rules_cap_in_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_rules")),
    )
    op.execute(
        "INSERT INTO points_rules (id, earn_per_yuan, growth_per_yuan, fen_per_point, max_percent)"
        " VALUES (1, 1, 1, 1, 50)"
    )
    op.create_table(
        "points_accounts",
        sa.Column("customer_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("growth", sa.BigInteger(), nullable=False),
        sa.Column("level_id", sa.Integer(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "balance >= 0 AND growth >= 0", name=op.f("ck_points_accounts_not_negative")
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_points_accounts")),
    )
    op.create_table(
        "points_ledger",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("growth", sa.BigInteger(), nullable=False),
        sa.Column("order_no", sa.String(length=24), nullable=True),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "kind IN ('earn','spend','refund','expire','adjust')",
            name=op.f("ck_points_ledger_kind_known"),
        ),
        sa.CheckConstraint(
            "points <> 0 OR growth <> 0 OR kind = 'refund'", name=op.f("ck_points_ledger_not_empty")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_ledger")),
        sa.UniqueConstraint("customer_id", "key", name=op.f("uq_points_ledger_customer_id_key")),
    )
    op.create_index(
        "ix_points_ledger_customer_at", "points_ledger", ["customer_id", "at"], unique=False
    )
    op.create_index(op.f("ix_points_ledger_order_no"), "points_ledger", ["order_no"], unique=False)
    op.create_table(
        "member_level_history",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("from_level_id", sa.Integer(), nullable=True),
        sa.Column("to_level_id", sa.Integer(), nullable=True),
        sa.Column("growth", sa.BigInteger(), nullable=False),
        sa.Column("order_no", sa.String(length=24), nullable=True),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_level_history")),
    )
    op.create_index(
        op.f("ix_member_level_history_customer_id"),
        "member_level_history",
        ["customer_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("member_level_history")
    op.drop_table("points_ledger")
    op.drop_table("points_accounts")
    op.drop_table("points_rules")
    op.drop_table("member_levels")
