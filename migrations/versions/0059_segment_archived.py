"""segments.archived_at: a segment staff archived is no longer listed or issued to, and its
rules no longer keep a member level from being removed; it stays, with the batches that name it.

Revision ID: 0059_segment_archived
Revises: 0058_coupon_batch_key
Create Date: 2026-12-07 20:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0059_segment_archived"
down_revision: str | None = "0058_coupon_batch_key"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("segments", sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("segments", "archived_at")
