"""inventory cost (issue 17): moving weighted average cost per SKU and warehouse, the cost
ledger (one row per on-hand movement, sales_out rows being the cost of goods sold), the unit
cost a movement came in at, and the trigger that books cost with every movement

Revision ID: 0040_inventory_cost
Revises: 0034_notifications
Create Date: 2026-12-06 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0040_inventory_cost"
down_revision: str | None = "0032_presales"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The rounding rule (docs/architecture.md, "Inventory cost"): value is kept in whole fen per
# (SKU, warehouse). q units leaving out of u on hand worth v take floor(v × q / u); the last
# units (q = u) take all that is left, so no unit on hand means no value. Units coming in at a
# known price (receipts: the PO line's price; samples: 0) add q × price; a transfer's arrival
# carries the value that left the source for that transfer and SKU (the same share rule over
# what has not arrived yet); other arrivals (customer returns, count surplus, adjustments,
# opening balances) come in at the current average: floor(v × q / u), or q × the last cost per
# unit used when nothing is on hand (0 if never costed). Moves between locations of one
# warehouse change no cost.
BOOK_STOCK_COST = """
CREATE FUNCTION book_stock_cost() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    q bigint := NEW.on_hand_delta;
    u bigint;
    v bigint;
    val bigint;
    per bigint;
    ru bigint;
    rv bigint;
BEGIN
    IF NEW.on_hand_delta = 0 OR NEW.movement_type IN ('move_out', 'move_in') THEN
        RETURN NULL;
    END IF;
    -- Lock order as every stock booking: the warehouse figure, then its cost.
    PERFORM 1 FROM stocks
        WHERE sku_id = NEW.sku_id AND warehouse_id = NEW.warehouse_id FOR UPDATE;
    INSERT INTO stock_costs (sku_id, warehouse_id, units, value_fen)
        VALUES (NEW.sku_id, NEW.warehouse_id, 0, 0) ON CONFLICT DO NOTHING;
    SELECT units, value_fen INTO u, v FROM stock_costs
        WHERE sku_id = NEW.sku_id AND warehouse_id = NEW.warehouse_id FOR UPDATE;
    IF q < 0 THEN
        IF -q >= u THEN
            val := -v;
        ELSE
            val := -floor(v::numeric * (-q) / u)::bigint;
        END IF;
        per := CASE WHEN u > 0 THEN v / u ELSE 0 END;
    ELSIF NEW.unit_cost_fen IS NOT NULL THEN
        per := NEW.unit_cost_fen;
        val := q * per;
    ELSIF NEW.movement_type = 'sample_in' THEN
        per := 0;
        val := 0;
    ELSIF NEW.movement_type = 'transfer_in' THEN
        SELECT COALESCE(-SUM(units), 0), COALESCE(-SUM(value_fen), 0)
            INTO ru, rv
            FROM stock_cost_entries
            WHERE ref_type = NEW.ref_type AND ref_no = NEW.ref_no AND sku_id = NEW.sku_id
              AND movement_type IN ('transfer_out', 'transfer_in');
        IF ru <= q THEN
            val := GREATEST(rv, 0);
        ELSE
            val := floor(rv::numeric * q / ru)::bigint;
        END IF;
        per := val / q;
    ELSIF u > 0 THEN
        val := floor(v::numeric * q / u)::bigint;
        per := v / u;
    ELSE
        per := COALESCE((SELECT unit_cost_fen FROM stock_cost_entries
                         WHERE sku_id = NEW.sku_id AND warehouse_id = NEW.warehouse_id
                         ORDER BY id DESC LIMIT 1), 0);
        val := q * per;
    END IF;
    UPDATE stock_costs SET units = units + q, value_fen = value_fen + val
        WHERE sku_id = NEW.sku_id AND warehouse_id = NEW.warehouse_id;
    INSERT INTO stock_cost_entries (movement_id, movement_type, sku_id, warehouse_id, units,
                                    value_fen, unit_cost_fen, ref_type, ref_no)
        VALUES (NEW.id, NEW.movement_type, NEW.sku_id, NEW.warehouse_id, q, val, per,
                NEW.ref_type, NEW.ref_no);
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.add_column("stock_movements", sa.Column("unit_cost_fen", sa.BigInteger(), nullable=True))
    op.create_table(
        "stock_costs",
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("value_fen", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("units >= 0", name=op.f("ck_stock_costs_cost_units_not_negative")),
        sa.CheckConstraint("value_fen >= 0", name=op.f("ck_stock_costs_cost_value_not_negative")),
        sa.CheckConstraint(
            "units > 0 OR value_fen = 0", name=op.f("ck_stock_costs_no_value_without_units")
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"], name=op.f("fk_stock_costs_sku_id_skus")),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouses.id"], name=op.f("fk_stock_costs_warehouse_id_warehouses")
        ),
        sa.PrimaryKeyConstraint("sku_id", "warehouse_id", name=op.f("pk_stock_costs")),
    )
    op.create_table(
        "stock_cost_entries",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("movement_id", sa.BigInteger(), nullable=True),
        sa.Column("movement_type", sa.String(length=24), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("value_fen", sa.BigInteger(), nullable=False),
        sa.Column("unit_cost_fen", sa.BigInteger(), nullable=False),
        sa.Column("ref_type", sa.String(length=24), nullable=False),
        sa.Column("ref_no", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["movement_id"],
            ["stock_movements.id"],
            name=op.f("fk_stock_cost_entries_movement_id_stock_movements"),
        ),
        sa.ForeignKeyConstraint(
            ["sku_id"], ["skus.id"], name=op.f("fk_stock_cost_entries_sku_id_skus")
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouses.id"],
            name=op.f("fk_stock_cost_entries_warehouse_id_warehouses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_cost_entries")),
        sa.UniqueConstraint("movement_id", name=op.f("uq_stock_cost_entries_movement_id")),
    )
    op.create_index(op.f("ix_stock_cost_entries_created_at"), "stock_cost_entries", ["created_at"])
    op.create_index(
        "ix_stock_cost_entries_sku_warehouse", "stock_cost_entries", ["sku_id", "warehouse_id"]
    )
    op.create_index(
        "ix_stock_cost_entries_ref", "stock_cost_entries", ["ref_type", "ref_no", "sku_id"]
    )
    # Stock already on hand starts at no value, as an opening row of the cost ledger.
    op.execute(
        "INSERT INTO stock_costs (sku_id, warehouse_id, units, value_fen)"
        " SELECT sku_id, warehouse_id, on_hand, 0 FROM stocks"
    )
    op.execute(
        "INSERT INTO stock_cost_entries (movement_type, sku_id, warehouse_id, units, value_fen,"
        " unit_cost_fen, ref_type, ref_no)"
        " SELECT 'opening_balance', sku_id, warehouse_id, on_hand, 0, 0, 'migration',"
        " '0040_inventory_cost' FROM stocks WHERE on_hand > 0"
    )
    op.execute(BOOK_STOCK_COST)
    op.execute(
        "CREATE TRIGGER stock_movements_cost AFTER INSERT ON stock_movements"
        " FOR EACH ROW EXECUTE FUNCTION book_stock_cost()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER stock_movements_cost ON stock_movements")
    op.execute("DROP FUNCTION book_stock_cost()")
    op.drop_table("stock_cost_entries")
    op.drop_table("stock_costs")
    op.drop_column("stock_movements", "unit_cost_fen")
