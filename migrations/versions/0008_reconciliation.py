"""payment reconciliation: runs of a business day and the differences they found

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reconciliation_runs",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("workflow_id", sa.String(length=200), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("statement_entries", sa.Integer(), nullable=False),
        sa.Column("ledger_entries", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("differences", sa.Integer(), nullable=False),
        sa.Column("resolved", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('running','completed')", name=op.f("ck_reconciliation_runs_status_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_runs")),
        sa.UniqueConstraint("workflow_id", name=op.f("uq_reconciliation_runs_workflow_id")),
    )
    op.create_index(
        op.f("ix_reconciliation_runs_day"), "reconciliation_runs", ["day"], unique=False
    )
    op.create_table(
        "reconciliation_differences",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("entry_type", sa.String(length=12), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("order_no", sa.String(length=64), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=True),
        sa.Column("provider_amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("ledger_amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('missing_in_ledger','missing_at_provider','amount_mismatch')",
            name=op.f("ck_reconciliation_differences_kind_known"),
        ),
        sa.CheckConstraint(
            "entry_type IN ('payment','refund')",
            name=op.f("ck_reconciliation_differences_entry_type_known"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["reconciliation_runs.id"],
            name=op.f("fk_reconciliation_differences_run_id_reconciliation_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_differences")),
        sa.UniqueConstraint(
            "day",
            "kind",
            "entry_type",
            "reference",
            name=op.f("uq_reconciliation_differences_day_kind_entry_type_reference"),
        ),
    )
    op.create_index(
        op.f("ix_reconciliation_differences_order_no"),
        "reconciliation_differences",
        ["order_no"],
        unique=False,
    )
    op.create_index(
        op.f("ix_reconciliation_differences_run_id"),
        "reconciliation_differences",
        ["run_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("reconciliation_differences")
    op.drop_table("reconciliation_runs")
