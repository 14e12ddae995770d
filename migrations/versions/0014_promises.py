"""promises: a packed package cancelled before handover shows when its waybill was voided at
the carrier (packages.waybill_cancelled_at)

Revision ID: 0014_promises
Revises: 0013_login_security
Create Date: 2026-12-06 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_promises"
down_revision: str | None = "0013_login_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "packages",
        sa.Column("waybill_cancelled_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("packages", "waybill_cancelled_at")
