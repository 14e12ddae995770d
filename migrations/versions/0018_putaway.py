"""putaway (上架): tasks for units that landed in a receiving location, and their puts

Revision ID: 0018_putaway
Revises: 0017_location_moves
Create Date: 2026-12-06 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_putaway"
down_revision: str | None = "0017_location_moves"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence("putaway_task_seq")))
    op.create_table(
        "putaway_tasks",
        sa.Column("task_no", sa.String(length=32), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("batch_no", sa.String(length=40), nullable=False),
        sa.Column("from_location_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("put", sa.Integer(), nullable=False),
        sa.Column("suggested_location_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("source_type", sa.String(length=20), nullable=False),
        sa.Column("source_no", sa.String(length=40), nullable=False),
        sa.Column("source_key", sa.String(length=80), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("done_by", sa.String(length=120), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('open','done','cancelled')", name=op.f("ck_putaway_tasks_status_known")
        ),
        sa.CheckConstraint(
            "source_type IN ('purchase_receipt','after_sale')",
            name=op.f("ck_putaway_tasks_source_type_known"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_putaway_tasks_quantity_positive")),
        sa.CheckConstraint(
            "put >= 0 AND put <= quantity", name=op.f("ck_putaway_tasks_put_within_quantity")
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_putaway_tasks_warehouse_id_warehouses"),
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_putaway_tasks_sku_id_skus")),
        sa.ForeignKeyConstraint(
            ["from_location_id"],
            ["locations.id"],
            name=op.f("fk_putaway_tasks_from_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["suggested_location_id"],
            ["locations.id"],
            name=op.f("fk_putaway_tasks_suggested_location_id_locations"),
        ),
        sa.PrimaryKeyConstraint("task_no", name=op.f("pk_putaway_tasks")),
        sa.UniqueConstraint("source_key", name=op.f("uq_putaway_tasks_source_key")),
    )
    op.create_index(
        "ix_putaway_tasks_warehouse_status",
        "putaway_tasks",
        ["warehouse_id", "status"],
        unique=False,
    )
    op.create_table(
        "putaway_puts",
        sa.Column("action_id", sa.String(length=64), nullable=False),
        sa.Column("task_no", sa.String(length=32), nullable=False),
        sa.Column("to_location_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_putaway_puts_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["task_no"],
            ["putaway_tasks.task_no"],
            name=op.f("fk_putaway_puts_task_no_putaway_tasks"),
        ),
        sa.ForeignKeyConstraint(
            ["to_location_id"],
            ["locations.id"],
            name=op.f("fk_putaway_puts_to_location_id_locations"),
        ),
        sa.PrimaryKeyConstraint("action_id", name=op.f("pk_putaway_puts")),
    )
    op.create_index(op.f("ix_putaway_puts_task_no"), "putaway_puts", ["task_no"], unique=False)


def downgrade() -> None:
    op.drop_table("putaway_puts")
    op.drop_table("putaway_tasks")
    op.execute(sa.schema.DropSequence(sa.Sequence("putaway_task_seq")))
