"""location moves: the `move_out` / `move_in` ledger movements of a move between locations

Revision ID: 0017_location_moves
Revises: 0016_devices
Create Date: 2026-12-06 12:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017_location_moves"
down_revision: str | None = "0016_devices"
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
    "in_transit_add",
    "in_transit_release",
    "pick_short",
]
NEW_TYPES = [*OLD_TYPES, "move_out", "move_in"]


def _types_check(types: list[str]) -> str:
    return "movement_type IN (" + ",".join(f"'{t}'" for t in types) + ")"


def upgrade() -> None:
    op.drop_constraint(op.f("ck_stock_movements_type_known"), "stock_movements", type_="check")
    op.create_check_constraint("type_known", "stock_movements", _types_check(NEW_TYPES))


def downgrade() -> None:
    op.execute("DELETE FROM stock_movements WHERE movement_type IN ('move_out', 'move_in')")
    op.drop_constraint(op.f("ck_stock_movements_type_known"), "stock_movements", type_="check")
    op.create_check_constraint("type_known", "stock_movements", _types_check(OLD_TYPES))
