"""coupon_batches.rules: a segment's name and rules can be edited, and a batch
issues to the rules it was started with (its own copy), so an edit neither changes a running
batch's customers nor rewrites what a finished batch was issued to. Batches made before this
were issued under their segment's rules, which could not change until now: copied from it.

Revision ID: 0060_segment_edits
Revises: 0059_segment_archived
Create Date: 2026-12-07 22:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0060_segment_edits"
down_revision: str | None = "0059_segment_archived"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("coupon_batches", sa.Column("rules", postgresql.JSONB(), nullable=True))
    op.execute(
        "UPDATE coupon_batches b SET rules = s.rules FROM segments s WHERE s.id = b.segment_id"
    )
    op.alter_column("coupon_batches", "rules", nullable=False)


def downgrade() -> None:
    op.drop_column("coupon_batches", "rules")
