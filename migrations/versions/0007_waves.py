"""wave picking: outbound orders, waves, location allocations, routed pick tasks, device scans,
put-wall slots; the `pick_short` movement (units a picker did not find, written off)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
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
]
# The contract also names in_transit_add / in_transit_release; the check now agrees with it.
NEW_TYPES = [*OLD_TYPES, "in_transit_add", "in_transit_release", "pick_short"]
TABLES = (
    "pick_stops",
    "pick_allocations",
    "outbound_orders",
    "put_wall_lines",
    "waves",
    "pick_tasks",
    "put_wall_slots",
    "device_scans",
)


def _types_check(types: list[str]) -> str:
    return "movement_type IN (" + ",".join(f"'{t}'" for t in types) + ")"


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence("wave_seq")))
    op.drop_constraint(op.f("ck_stock_movements_type_known"), "stock_movements", type_="check")
    op.create_check_constraint("type_known", "stock_movements", _types_check(NEW_TYPES))
    op.create_table(
        "device_scans",
        sa.Column("scan_id", sa.String(length=64), nullable=False),
        sa.Column("device", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("ref_no", sa.String(length=32), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("scan_id", name=op.f("pk_device_scans")),
    )
    op.create_index(op.f("ix_device_scans_ref_no"), "device_scans", ["ref_no"], unique=False)
    op.create_table(
        "put_wall_slots",
        sa.Column("wave_no", sa.String(length=24), nullable=False),
        sa.Column("slot_no", sa.Integer(), nullable=False),
        sa.Column("package_no", sa.String(length=28), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.CheckConstraint(
            "status IN ('sorting','complete','cancelled')",
            name=op.f("ck_put_wall_slots_status_known"),
        ),
        sa.PrimaryKeyConstraint("wave_no", "slot_no", name=op.f("pk_put_wall_slots")),
        sa.UniqueConstraint("package_no", name=op.f("uq_put_wall_slots_package_no")),
    )
    op.create_table(
        "pick_tasks",
        sa.Column("task_no", sa.String(length=32), nullable=False),
        sa.Column("wave_no", sa.String(length=24), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("route_name", sa.String(length=12), nullable=False),
        sa.Column("route_cm", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=120), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('open','claimed','done','short','cancelled')",
            name=op.f("ck_pick_tasks_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"], name=op.f("fk_pick_tasks_warehouse_id_warehouses")
        ),
        sa.PrimaryKeyConstraint("task_no", name=op.f("pk_pick_tasks")),
        sa.UniqueConstraint("wave_no", "seq", name=op.f("uq_pick_tasks_wave_no_seq")),
    )
    op.create_index(
        "ix_pick_tasks_warehouse_status", "pick_tasks", ["warehouse_id", "status"], unique=False
    )
    op.create_table(
        "waves",
        sa.Column("wave_no", sa.String(length=24), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("plan_key", sa.String(length=120), nullable=False),
        sa.Column("carrier_code", sa.String(length=32), nullable=False),
        sa.Column("cutoff_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("profile", sa.String(length=12), nullable=False),
        sa.Column("zone", sa.String(length=8), nullable=False),
        sa.Column("release_reason", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("built", sa.Boolean(), nullable=False),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("escalation_reason", sa.String(length=300), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('picking','done','cancelled')", name=op.f("ck_waves_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"], name=op.f("fk_waves_warehouse_id_warehouses")
        ),
        sa.PrimaryKeyConstraint("wave_no", name=op.f("pk_waves")),
    )
    op.create_index(op.f("ix_waves_plan_key"), "waves", ["plan_key"], unique=False)
    op.create_index("ix_waves_warehouse_status", "waves", ["warehouse_id", "status"], unique=False)
    op.create_table(
        "put_wall_lines",
        sa.Column("wave_no", sa.String(length=24), nullable=False),
        sa.Column("slot_no", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("expected", sa.Integer(), nullable=False),
        sa.Column("put", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "put >= 0 AND put <= expected", name=op.f("ck_put_wall_lines_put_within_expected")
        ),
        sa.ForeignKeyConstraint(
            ["sku_id"], ["skus.id"], name=op.f("fk_put_wall_lines_sku_id_skus")
        ),
        sa.PrimaryKeyConstraint("wave_no", "slot_no", "sku_id", name=op.f("pk_put_wall_lines")),
    )
    op.create_table(
        "outbound_orders",
        sa.Column("package_no", sa.String(length=28), nullable=False),
        sa.Column("order_no", sa.String(length=24), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("carrier_code", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("wave_no", sa.String(length=24), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ship_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("flag_reason", sa.String(length=300), nullable=True),
        sa.CheckConstraint(
            "status IN ('waiting','planned','picked','short','cancelled')",
            name=op.f("ck_outbound_orders_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["package_no"],
            ["packages.package_no"],
            name=op.f("fk_outbound_orders_package_no_packages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_outbound_orders_warehouse_id_warehouses"),
        ),
        sa.PrimaryKeyConstraint("package_no", name=op.f("pk_outbound_orders")),
    )
    op.create_index(
        "ix_outbound_orders_warehouse_status",
        "outbound_orders",
        ["warehouse_id", "status"],
        unique=False,
    )
    op.create_index(
        op.f("ix_outbound_orders_wave_no"), "outbound_orders", ["wave_no"], unique=False
    )
    op.create_table(
        "pick_allocations",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("wave_no", sa.String(length=24), nullable=False),
        sa.Column("package_no", sa.String(length=28), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("location_stock_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("batch_no", sa.String(length=40), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("picked", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.CheckConstraint(
            "status IN ('open','picked','short','cancelled','shipped')",
            name=op.f("ck_pick_allocations_status_known"),
        ),
        sa.CheckConstraint(
            "picked >= 0 AND picked <= quantity",
            name=op.f("ck_pick_allocations_picked_within_quantity"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_pick_allocations_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["location_stock_id"],
            ["location_stocks.id"],
            name=op.f("fk_pick_allocations_location_stock_id_location_stocks"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pick_allocations")),
        sa.UniqueConstraint(
            "package_no",
            "line_no",
            "location_stock_id",
            name=op.f("uq_pick_allocations_package_no_line_no_location_stock_id"),
        ),
    )
    op.create_index(
        op.f("ix_pick_allocations_package_no"), "pick_allocations", ["package_no"], unique=False
    )
    op.create_index(
        op.f("ix_pick_allocations_wave_no"), "pick_allocations", ["wave_no"], unique=False
    )
    op.create_table(
        "pick_stops",
        sa.Column("task_no", sa.String(length=32), nullable=False),
        sa.Column("stop_no", sa.Integer(), nullable=False),
        sa.Column("allocation_id", sa.BigInteger(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("batch_no", sa.String(length=40), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("picked", sa.Integer(), nullable=False),
        sa.Column("short", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.CheckConstraint(
            "status IN ('open','done','short','cancelled')", name=op.f("ck_pick_stops_status_known")
        ),
        sa.CheckConstraint(
            "picked + short <= quantity", name=op.f("ck_pick_stops_within_quantity")
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_pick_stops_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["pick_allocations.id"],
            name=op.f("fk_pick_stops_allocation_id_pick_allocations"),
        ),
        sa.ForeignKeyConstraint(
            ["task_no"],
            ["pick_tasks.task_no"],
            name=op.f("fk_pick_stops_task_no_pick_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("task_no", "stop_no", name=op.f("pk_pick_stops")),
    )
    op.create_index(
        op.f("ix_pick_stops_allocation_id"), "pick_stops", ["allocation_id"], unique=False
    )


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
    op.drop_constraint(op.f("ck_stock_movements_type_known"), "stock_movements", type_="check")
    op.create_check_constraint("type_known", "stock_movements", _types_check(OLD_TYPES))
    op.execute(sa.schema.DropSequence(sa.Sequence("wave_seq")))
