"""devices: handhelds paired by a one-time code, staff badges, pack verification counts

Revision ID: 0016_devices
Revises: 0014_promises
Create Date: 2026-12-06 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_devices"
# 0015_dashboard is built at the same time on another branch: the merge chains this after it.
down_revision: str | None = "0015_dashboard"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column(
            "warehouse_id",
            sa.Integer(),
            sa.ForeignKey("warehouses.id", name="fk_devices_warehouse_id_warehouses"),
            nullable=False,
        ),
        sa.Column(
            "api_key_id",
            sa.Integer(),
            sa.ForeignKey("api_keys.id", name="fk_devices_api_key_id_api_keys"),
            nullable=True,
        ),
        sa.Column("pairing_code_hash", sa.String(64), nullable=True),
        sa.Column("pairing_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("paired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "worker_user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", name="fk_devices_worker_user_id_users"),
            nullable=True,
        ),
        sa.Column("worker_signed_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_devices"),
        sa.UniqueConstraint("api_key_id", name="uq_devices_api_key_id"),
        sa.UniqueConstraint("pairing_code_hash", name="uq_devices_pairing_code_hash"),
    )
    op.create_index("ix_devices_warehouse_id", "devices", ["warehouse_id"])
    op.create_table(
        "staff_badges",
        sa.Column("badge_code", sa.String(64), nullable=False),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_staff_badges_user_id_users"),
            nullable=False,
        ),
        sa.Column(
            "warehouse_id",
            sa.Integer(),
            sa.ForeignKey("warehouses.id", name="fk_staff_badges_warehouse_id_warehouses"),
            nullable=False,
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("badge_code", name="pk_staff_badges"),
        sa.UniqueConstraint("user_id", "warehouse_id", name="uq_staff_badges_user_id_warehouse_id"),
    )
    op.create_table(
        "pack_checks",
        sa.Column(
            "package_no",
            sa.String(28),
            sa.ForeignKey(
                "packages.package_no", ondelete="CASCADE", name="fk_pack_checks_package_no_packages"
            ),
            nullable=False,
        ),
        sa.Column(
            "sku_id",
            sa.Integer(),
            sa.ForeignKey("skus.id", name="fk_pack_checks_sku_id_skus"),
            nullable=False,
        ),
        sa.Column("scanned", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("package_no", "sku_id", name="pk_pack_checks"),
        sa.CheckConstraint("scanned >= 0", name="ck_pack_checks_scanned_not_negative"),
    )


def downgrade() -> None:
    op.drop_table("pack_checks")
    op.drop_table("staff_badges")
    op.drop_index("ix_devices_warehouse_id", table_name="devices")
    op.drop_table("devices")
