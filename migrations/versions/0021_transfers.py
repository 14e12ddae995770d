"""transfers between warehouses: transfers, their lines and timeline, the transfer number
sequence, the in-transit movements of a transfer (`transfer_shipped`, `transfer_arrived`,
`transfer_lost`), and outbound orders that are transfers as well as packages (the foreign key
to packages goes: a transfer TR… is picked through a wave like any outbound)

Revision ID: 0021_transfers
Revises: 0020_manifests
Create Date: 2026-12-06 13:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0021_transfers"
down_revision: str | None = "0020_manifests"
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
    "purchase_ordered",
    "purchase_arrived",
    "purchase_closed",
    "sample_in",
    "in_transit_add",
    "in_transit_release",
    "pick_short",
    "move_out",
    "move_in",
]
NEW_TYPES = [*OLD_TYPES, "transfer_shipped", "transfer_arrived", "transfer_lost"]
STATUSES = ["requested", "approved", "picked", "in_transit", "closed", "rejected", "cancelled"]


def _types_check(types: list[str]) -> str:
    return "movement_type IN (" + ",".join(f"'{t}'" for t in types) + ")"


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence("transfer_no_seq")))
    op.drop_constraint(op.f("ck_stock_movements_type_known"), "stock_movements", type_="check")
    op.create_check_constraint("type_known", "stock_movements", _types_check(NEW_TYPES))
    op.drop_constraint(
        op.f("fk_outbound_orders_package_no_packages"), "outbound_orders", type_="foreignkey"
    )
    op.create_table(
        "transfers",
        sa.Column("transfer_no", sa.String(length=24), nullable=False),
        sa.Column("from_warehouse_id", sa.Integer(), nullable=False),
        sa.Column("to_warehouse_id", sa.Integer(), nullable=False),
        sa.Column("carrier_code", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_seq", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("wave_no", sa.String(length=24), nullable=True),
        sa.Column("receipt_key", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "status IN (" + ",".join(f"'{s}'" for s in STATUSES) + ")",
            name=op.f("ck_transfers_status_known"),
        ),
        sa.CheckConstraint(
            "from_warehouse_id <> to_warehouse_id", name=op.f("ck_transfers_two_warehouses")
        ),
        sa.ForeignKeyConstraint(
            ["from_warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_transfers_from_warehouse_id_warehouses"),
        ),
        sa.ForeignKeyConstraint(
            ["to_warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_transfers_to_warehouse_id_warehouses"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_transfers_requested_by_users")
        ),
        sa.PrimaryKeyConstraint("transfer_no", name=op.f("pk_transfers")),
        sa.UniqueConstraint("request_key", name=op.f("uq_transfers_request_key")),
    )
    op.create_index("ix_transfers_status", "transfers", ["status"])
    op.create_index(op.f("ix_transfers_from_warehouse_id"), "transfers", ["from_warehouse_id"])
    op.create_index(op.f("ix_transfers_to_warehouse_id"), "transfers", ["to_warehouse_id"])
    op.create_table(
        "transfer_lines",
        sa.Column("transfer_no", sa.String(length=24), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("picked", sa.Integer(), nullable=False),
        sa.Column("shipped", sa.Integer(), nullable=False),
        sa.Column("good", sa.Integer(), nullable=False),
        sa.Column("damaged", sa.Integer(), nullable=False),
        sa.Column("short", sa.Integer(), nullable=False),
        sa.Column("over", sa.Integer(), nullable=False),
        sa.Column("batches", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_transfer_lines_quantity_positive")),
        sa.CheckConstraint(
            "picked >= 0 AND shipped >= 0 AND shipped <= quantity",
            name=op.f("ck_transfer_lines_shipped_ok"),
        ),
        sa.CheckConstraint(
            "good >= 0 AND damaged >= 0 AND short >= 0 AND over >= 0",
            name=op.f("ck_transfer_lines_counts_not_negative"),
        ),
        sa.CheckConstraint(
            "good + damaged + short + over = 0 OR good + damaged + short = shipped + over",
            name=op.f("ck_transfer_lines_received_adds_up"),
        ),
        sa.ForeignKeyConstraint(
            ["sku_id"], ["skus.id"], name=op.f("fk_transfer_lines_sku_id_skus")
        ),
        sa.ForeignKeyConstraint(
            ["transfer_no"],
            ["transfers.transfer_no"],
            name=op.f("fk_transfer_lines_transfer_no_transfers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("transfer_no", "line_no", name=op.f("pk_transfer_lines")),
        sa.UniqueConstraint(
            "transfer_no", "sku_id", name=op.f("uq_transfer_lines_transfer_no_sku_id")
        ),
    )
    op.create_table(
        "transfer_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("transfer_no", sa.String(length=24), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("step", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("idempotency_key", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_events")),
        sa.UniqueConstraint(
            "transfer_no",
            "idempotency_key",
            name=op.f("uq_transfer_events_transfer_no_idempotency_key"),
        ),
    )
    op.create_index(op.f("ix_transfer_events_transfer_no"), "transfer_events", ["transfer_no"])


def downgrade() -> None:
    op.drop_index(op.f("ix_transfer_events_transfer_no"), table_name="transfer_events")
    op.drop_table("transfer_events")
    op.drop_table("transfer_lines")
    op.drop_index(op.f("ix_transfers_to_warehouse_id"), table_name="transfers")
    op.drop_index(op.f("ix_transfers_from_warehouse_id"), table_name="transfers")
    op.drop_index("ix_transfers_status", table_name="transfers")
    op.drop_table("transfers")
    op.execute(
        "DELETE FROM outbound_orders WHERE package_no NOT IN (SELECT package_no FROM packages)"
    )
    op.create_foreign_key(
        op.f("fk_outbound_orders_package_no_packages"),
        "outbound_orders",
        "packages",
        ["package_no"],
        ["package_no"],
        ondelete="CASCADE",
    )
    op.execute(
        "DELETE FROM stock_movements WHERE movement_type IN "
        "('transfer_shipped', 'transfer_arrived', 'transfer_lost')"
    )
    op.drop_constraint(op.f("ck_stock_movements_type_known"), "stock_movements", type_="check")
    op.create_check_constraint("type_known", "stock_movements", _types_check(OLD_TYPES))
    op.execute(sa.schema.DropSequence(sa.Sequence("transfer_no_seq")))
