"""coupon_batches.idempotency_key: the Idempotency-Key a batch was started with, unique, so a
repeated request (a console form submitted twice) answers the batch it started instead of
issuing every member of the segment a second coupon. Older batches have none.

Revision ID: 0058_coupon_batch_key
Revises: 0057_flash_claims_unstarted
Create Date: 2026-12-07 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0058_coupon_batch_key"
down_revision: str | None = "0057_flash_claims_unstarted"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "coupon_batches", sa.Column("idempotency_key", sa.String(length=100), nullable=True)
    )
    op.create_unique_constraint(
        "uq_coupon_batches_idempotency_key", "coupon_batches", ["idempotency_key"]
    )


def downgrade() -> None:
    op.drop_constraint("uq_coupon_batches_idempotency_key", "coupon_batches", type_="unique")
    op.drop_column("coupon_batches", "idempotency_key")
