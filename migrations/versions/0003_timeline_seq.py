"""order_events.seq: the workflow's own step number, so that steps recorded in one workflow task
(same time) keep their order in the timeline even when written concurrently

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 05:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "order_events", sa.Column("seq", sa.Integer(), server_default="0", nullable=False)
    )


def downgrade() -> None:
    op.drop_column("order_events", "seq")
