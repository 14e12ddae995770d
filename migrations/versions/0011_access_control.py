"""access control: roles as data (composed roles and their permissions, built-in roles marked as
presets), staff data scopes by warehouse, and room in order_events.actor_role for many roles

Revision ID: 0011_access_control
Revises: 0010_refund_callbacks
Create Date: 2026-12-06 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_access_control"
down_revision: str | None = "0010_refund_callbacks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A timeline row names every role of its actor; a person holding several outgrew 32 chars.
    op.alter_column(
        "order_events",
        "actor_role",
        existing_type=sa.String(length=32),
        type_=sa.String(length=400),
        existing_nullable=False,
    )
    op.add_column(
        "roles", sa.Column("built_in", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    # Every role that exists before this revision is one of the presets.
    op.execute("UPDATE roles SET built_in = true")
    op.create_table(
        "role_permissions",
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("permission", sa.String(length=48), nullable=False),
        sa.ForeignKeyConstraint(
            ["role"],
            ["roles.name"],
            name=op.f("fk_role_permissions_role_roles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("role", "permission", name=op.f("pk_role_permissions")),
    )
    op.create_table(
        "user_warehouses",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_warehouses_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_user_warehouses_warehouse_id_warehouses"),
        ),
        sa.PrimaryKeyConstraint("user_id", "warehouse_id", name=op.f("pk_user_warehouses")),
    )


def downgrade() -> None:
    op.drop_table("user_warehouses")
    op.drop_table("role_permissions")
    op.execute("DELETE FROM user_roles WHERE role IN (SELECT name FROM roles WHERE NOT built_in)")
    op.execute("DELETE FROM roles WHERE NOT built_in")
    op.drop_column("roles", "built_in")
    op.execute("UPDATE order_events SET actor_role = left(actor_role, 32)")
    op.alter_column(
        "order_events",
        "actor_role",
        existing_type=sa.String(length=400),
        type_=sa.String(length=32),
        existing_nullable=False,
    )
