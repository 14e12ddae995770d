"""refund callbacks: the provider's refund.succeeded callbacks (once per provider refund id),
refunds.confirmed_at, and differences found by a callback rather than by a reconciliation run

Revision ID: 0010_refund_callbacks
Revises: 0009
Create Date: 2026-12-04 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_refund_callbacks"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("refunds", sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "refund_callbacks",
        sa.Column("provider_refund_id", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("refund_no", sa.String(length=64), nullable=False),
        sa.Column("payment_id", sa.String(length=64), nullable=False),
        sa.Column("order_no", sa.String(length=64), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("copies", sa.Integer(), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('pending','confirmed','difference')",
            name=op.f("ck_refund_callbacks_outcome_known"),
        ),
        sa.PrimaryKeyConstraint("provider_refund_id", name=op.f("pk_refund_callbacks")),
    )
    op.create_index(
        op.f("ix_refund_callbacks_refund_no"), "refund_callbacks", ["refund_no"], unique=False
    )
    op.alter_column(
        "reconciliation_differences", "run_id", existing_type=sa.BigInteger(), nullable=True
    )


def downgrade() -> None:
    op.execute("DELETE FROM reconciliation_differences WHERE run_id IS NULL")
    op.alter_column(
        "reconciliation_differences", "run_id", existing_type=sa.BigInteger(), nullable=False
    )
    op.drop_index(op.f("ix_refund_callbacks_refund_no"), table_name="refund_callbacks")
    op.drop_table("refund_callbacks")
    op.drop_column("refunds", "confirmed_at")
