"""group buys (拼团): offers, the groups opened on them (named after their first member's order)
and their members

Revision ID: 0031_group_buys
Revises: 0021_transfers
Create Date: 2026-12-06 16:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031_group_buys"
down_revision: str | None = "0030_customers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GROUP_STATUSES = ("forming", "completed", "failed")
MEMBER_STATUSES = ("joined", "paid", "left", "completed", "failed")


def _known(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ",".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    op.create_table(
        "group_buy_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("group_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("group_size", sa.Integer(), nullable=False),
        sa.Column("time_limit_minutes", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("group_price_fen > 0", name=op.f("ck_group_buy_offers_price_positive")),
        sa.CheckConstraint(
            "group_size BETWEEN 2 AND 100", name=op.f("ck_group_buy_offers_size_range")
        ),
        sa.CheckConstraint(
            "time_limit_minutes > 0", name=op.f("ck_group_buy_offers_time_limit_positive")
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_group_buy_offers_window_ordered")),
        sa.ForeignKeyConstraint(
            ["sku_id"], ["skus.id"], name=op.f("fk_group_buy_offers_sku_id_skus")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_buy_offers")),
    )
    op.create_index(op.f("ix_group_buy_offers_sku_id"), "group_buy_offers", ["sku_id"])
    op.create_table(
        "group_buys",
        sa.Column("group_no", sa.String(length=24), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("opened_by", sa.BigInteger(), nullable=False),
        sa.Column("group_size", sa.Integer(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("paid", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            _known("status", GROUP_STATUSES), name=op.f("ck_group_buys_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["group_buy_offers.id"],
            name=op.f("fk_group_buys_offer_id_group_buy_offers"),
        ),
        sa.PrimaryKeyConstraint("group_no", name=op.f("pk_group_buys")),
    )
    op.create_index("ix_group_buys_offer_status", "group_buys", ["offer_id", "status"])
    op.create_table(
        "group_buy_members",
        sa.Column("group_no", sa.String(length=24), nullable=False),
        sa.Column("order_no", sa.String(length=24), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            _known("status", MEMBER_STATUSES), name=op.f("ck_group_buy_members_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["group_no"],
            ["group_buys.group_no"],
            name=op.f("fk_group_buy_members_group_no_group_buys"),
        ),
        sa.PrimaryKeyConstraint("group_no", "order_no", name=op.f("pk_group_buy_members")),
    )
    op.create_index(op.f("ix_group_buy_members_customer_id"), "group_buy_members", ["customer_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_group_buy_members_customer_id"), table_name="group_buy_members")
    op.drop_table("group_buy_members")
    op.drop_index("ix_group_buys_offer_status", table_name="group_buys")
    op.drop_table("group_buys")
    op.drop_index(op.f("ix_group_buy_offers_sku_id"), table_name="group_buy_offers")
    op.drop_table("group_buy_offers")
