"""carrier manifests (交接单): packages of one carrier and warehouse scanned onto a manifest and
handed over together; a package is live on at most one manifest (a partial unique index)

Revision ID: 0020_manifests
Revises: 0018_putaway
Create Date: 2026-12-06 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_manifests"
down_revision: str | None = "0018_putaway"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence("manifest_no_seq")))
    op.create_table(
        "manifests",
        sa.Column("manifest_no", sa.String(length=24), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("carrier_code", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("handover_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handed_over_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handed_over_by", sa.String(length=120), nullable=True),
        sa.Column("handed_over_worker", sa.String(length=120), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "status IN ('open', 'handed_over', 'cancelled')", name=op.f("ck_manifests_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"], name=op.f("fk_manifests_warehouse_id_warehouses")
        ),
        sa.PrimaryKeyConstraint("manifest_no", name=op.f("pk_manifests")),
        sa.UniqueConstraint("request_id", name=op.f("uq_manifests_request_id")),
    )
    op.create_index("ix_manifests_created", "manifests", ["created_at", "manifest_no"])
    op.create_index("ix_manifests_warehouse_status", "manifests", ["warehouse_id", "status"])
    op.create_table(
        "manifest_packages",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("manifest_no", sa.String(length=24), nullable=False),
        sa.Column("package_no", sa.String(length=28), nullable=False),
        sa.Column("scan_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "scanned_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("scanned_by", sa.String(length=120), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_by", sa.String(length=120), nullable=True),
        sa.Column("failure", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "status IN ('scanned', 'removed', 'handed_over', 'failed', 'cancelled')",
            name=op.f("ck_manifest_packages_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["manifest_no"],
            ["manifests.manifest_no"],
            name=op.f("fk_manifest_packages_manifest_no_manifests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["package_no"],
            ["packages.package_no"],
            name=op.f("fk_manifest_packages_package_no_packages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_manifest_packages")),
        sa.UniqueConstraint("scan_id", name=op.f("uq_manifest_packages_scan_id")),
    )
    op.create_index(op.f("ix_manifest_packages_manifest_no"), "manifest_packages", ["manifest_no"])
    op.create_index(op.f("ix_manifest_packages_package_no"), "manifest_packages", ["package_no"])
    op.create_index(
        "uq_manifest_packages_live_package",
        "manifest_packages",
        ["package_no"],
        unique=True,
        postgresql_where=sa.text("status IN ('scanned', 'handed_over')"),
    )


def downgrade() -> None:
    op.drop_index("uq_manifest_packages_live_package", table_name="manifest_packages")
    op.drop_index(op.f("ix_manifest_packages_package_no"), table_name="manifest_packages")
    op.drop_index(op.f("ix_manifest_packages_manifest_no"), table_name="manifest_packages")
    op.drop_table("manifest_packages")
    op.drop_index("ix_manifests_warehouse_status", table_name="manifests")
    op.drop_index("ix_manifests_created", table_name="manifests")
    op.drop_table("manifests")
    op.execute(sa.schema.DropSequence(sa.Sequence("manifest_no_seq")))
