"""money hardening: refunds an order owes and has not yet made (pending while they go to the
provider, refused until staff retry them), shown on the order

Revision ID: 0012_money_hardening
Revises: 0011_access_control
Create Date: 2026-12-06 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_money_hardening"
down_revision: str | None = "0011_access_control"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_refunds",
        sa.Column("refund_no", sa.String(length=48), nullable=False),
        sa.Column("order_no", sa.String(length=24), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("refused_reason", sa.String(length=500), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_order_refunds_amount_positive")),
        sa.CheckConstraint(
            "status IN ('pending','refused','done')", name=op.f("ck_order_refunds_status_known")
        ),
        sa.PrimaryKeyConstraint("refund_no", name=op.f("pk_order_refunds")),
    )
    op.create_index(op.f("ix_order_refunds_order_no"), "order_refunds", ["order_no"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_order_refunds_order_no"), table_name="order_refunds")
    op.drop_table("order_refunds")
