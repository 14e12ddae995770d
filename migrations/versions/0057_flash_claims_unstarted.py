"""flash_claims: a partial index on the claims no order has taken yet (status 'claimed'), by
their age, for the worker's hand-off sweep (workers/handoffs.py), which gives back a claim whose
order never started. Claims leave that status within seconds, so the index stays small.

Revision ID: 0057_flash_claims_unstarted
Revises: 0056_campaign_customer_ids
Create Date: 2026-12-07 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0057_flash_claims_unstarted"
down_revision: str | None = "0056_campaign_customer_ids"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_flash_claims_unstarted",
        "flash_claims",
        ["claimed_at"],
        postgresql_where=sa.text("status = 'claimed'"),
    )


def downgrade() -> None:
    op.drop_index("ix_flash_claims_unstarted", table_name="flash_claims")
