"""stock and warehouse report rollups (issue 17): units shipped per (day, SKU, warehouse), the
last shipment and the open stock-out spell per (SKU, warehouse), the days a SKU was out of
sellable stock, the warehouse's day (waves finished and on time, pick lines and shorts, packages
weighed and held) and the units each device and worker picked per hour. Kept by triggers on the
tables the processes write, in the same transaction; backfilled from the rows already there.

Revision ID: 0053_stock_rollups
Revises: 0052_order_rollups
Create Date: 2026-12-06 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0053_stock_rollups"
down_revision: str | None = "0052_order_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# report_business_day(at): the business day (Asia/Shanghai, a fixed +08:00 as
# models/domain/business_day.py) of a moment.

FUNCTIONS = (
    """
CREATE FUNCTION report_business_day(at timestamptz) RETURNS date LANGUAGE sql IMMUTABLE AS $$
    SELECT ((at AT TIME ZONE 'UTC') + interval '8 hours')::date
$$
""",
    # Shipped units (sales_out) per business day, SKU and warehouse, and the last day shipped.
    """
CREATE FUNCTION book_stock_out_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d date := report_business_day(NEW.created_at);
BEGIN
    IF NEW.movement_type <> 'sales_out' OR NEW.on_hand_delta >= 0 THEN
        RETURN NULL;
    END IF;
    INSERT INTO stock_daily_out (day, sku_id, warehouse_id, units)
        VALUES (d, NEW.sku_id, NEW.warehouse_id, -NEW.on_hand_delta)
        ON CONFLICT (day, sku_id, warehouse_id)
        DO UPDATE SET units = stock_daily_out.units + EXCLUDED.units;
    INSERT INTO stock_activity (sku_id, warehouse_id, last_out_on)
        VALUES (NEW.sku_id, NEW.warehouse_id, d)
        ON CONFLICT (sku_id, warehouse_id)
        DO UPDATE SET last_out_on = GREATEST(stock_activity.last_out_on, EXCLUDED.last_out_on);
    RETURN NULL;
END
$$
""",
    # A stock-out spell opens when sellable (on_hand - reserved - safety_hold) falls to 0 and
    # closes when it is above 0 again: each day it touched is then kept in stock_out_days. A
    # stocks row is made at 0 just before its first units: never sold, never out of stock.
    """
CREATE FUNCTION book_stock_out_days() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    now_sellable bigint := NEW.on_hand - NEW.reserved - NEW.safety_hold;
    was_sellable bigint;
    since timestamptz;
BEGIN
    was_sellable := OLD.on_hand - OLD.reserved - OLD.safety_hold;
    IF now_sellable <= 0 AND was_sellable > 0 THEN
        INSERT INTO stock_activity (sku_id, warehouse_id, zero_since)
            VALUES (NEW.sku_id, NEW.warehouse_id, now())
            ON CONFLICT (sku_id, warehouse_id)
            DO UPDATE SET zero_since = COALESCE(stock_activity.zero_since, EXCLUDED.zero_since);
    ELSIF now_sellable > 0 AND was_sellable <= 0 THEN
        SELECT zero_since INTO since FROM stock_activity
            WHERE sku_id = NEW.sku_id AND warehouse_id = NEW.warehouse_id FOR UPDATE;
        UPDATE stock_activity SET zero_since = NULL
            WHERE sku_id = NEW.sku_id AND warehouse_id = NEW.warehouse_id;
        IF since IS NOT NULL THEN
            INSERT INTO stock_out_days (day, sku_id, warehouse_id)
                SELECT g::date, NEW.sku_id, NEW.warehouse_id
                FROM generate_series(report_business_day(since), report_business_day(now()),
                                     interval '1 day') AS g
                ON CONFLICT DO NOTHING;
        END IF;
    END IF;
    RETURN NULL;
END
$$
""",
    # The warehouse's day, one row per (business day, warehouse).
    """
CREATE FUNCTION bump_warehouse_daily(d date, wh integer, waves int, on_time int, stops int,
                                     shorts int, picked int, short_units int, weighed int,
                                     held int) RETURNS void LANGUAGE sql AS $$
    INSERT INTO warehouse_daily (day, warehouse_id, waves_done, waves_on_time, stops_done,
                                 stops_short, units_picked, units_short, packages_weighed,
                                 packages_held)
        VALUES (d, wh, waves, on_time, stops, shorts, picked, short_units, weighed, held)
        ON CONFLICT (day, warehouse_id) DO UPDATE SET
            waves_done = warehouse_daily.waves_done + EXCLUDED.waves_done,
            waves_on_time = warehouse_daily.waves_on_time + EXCLUDED.waves_on_time,
            stops_done = warehouse_daily.stops_done + EXCLUDED.stops_done,
            stops_short = warehouse_daily.stops_short + EXCLUDED.stops_short,
            units_picked = warehouse_daily.units_picked + EXCLUDED.units_picked,
            units_short = warehouse_daily.units_short + EXCLUDED.units_short,
            packages_weighed = warehouse_daily.packages_weighed + EXCLUDED.packages_weighed,
            packages_held = warehouse_daily.packages_held + EXCLUDED.packages_held
$$
""",
    # A wave finished: on time when it finished by its carrier cutoff. Counted on the day of
    # its cutoff.
    """
CREATE FUNCTION book_wave_done() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    done_at timestamptz := COALESCE(NEW.finished_at, now());
BEGIN
    IF NEW.status = 'done' AND OLD.status <> 'done' THEN
        PERFORM bump_warehouse_daily(report_business_day(NEW.cutoff_at), NEW.warehouse_id, 1,
                                     (done_at <= NEW.cutoff_at)::int, 0, 0, 0, 0, 0, 0);
    END IF;
    RETURN NULL;
END
$$
""",
    # A pick line (stop) finished, picked in full or short.
    """
CREATE FUNCTION book_pick_stop() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    wh integer;
BEGIN
    IF OLD.status = 'open' AND NEW.status IN ('done', 'short') THEN
        SELECT warehouse_id INTO wh FROM pick_tasks WHERE task_no = NEW.task_no;
        PERFORM bump_warehouse_daily(report_business_day(now()), wh, 0, 0, 1,
                                     (NEW.status = 'short')::int, NEW.picked, NEW.short, 0, 0);
    END IF;
    RETURN NULL;
END
$$
""",
    # A package weighed at the pack station: passed (packed) or held (weight_hold). An override
    # of a hold (weight_hold -> packed) is the same weighing.
    """
CREATE FUNCTION book_package_weighing() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'weight_hold' AND OLD.status <> 'weight_hold' THEN
        PERFORM bump_warehouse_daily(report_business_day(now()), NEW.warehouse_id, 0, 0, 0, 0, 0, 0,
                                     (OLD.status <> 'packed')::int, 1);
    ELSIF NEW.status = 'packed' AND OLD.status NOT IN ('packed', 'weight_hold') THEN
        PERFORM bump_warehouse_daily(report_business_day(now()), NEW.warehouse_id, 0, 0, 0, 0, 0, 0,
                                     1, 0);
    END IF;
    RETURN NULL;
END
$$
""",
    # Units a device (and the worker signed in on it) picked, per clock hour.
    """
CREATE FUNCTION book_pick_scan() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    wh integer;
BEGIN
    IF NEW.kind NOT IN ('pick', 'short') OR NEW.status_code <> 200
       OR COALESCE(NEW.units, 0) <= 0 THEN
        RETURN NULL;
    END IF;
    SELECT warehouse_id INTO wh FROM pick_tasks WHERE task_no = NEW.ref_no;
    IF wh IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO pick_hourly (hour_at, warehouse_id, device, worker, units, scans)
        VALUES (date_trunc('hour', NEW.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', wh,
                NEW.device, COALESCE(NEW.worker, ''), NEW.units, 1)
        ON CONFLICT (hour_at, warehouse_id, device, worker)
        DO UPDATE SET units = pick_hourly.units + EXCLUDED.units,
                      scans = pick_hourly.scans + 1;
    RETURN NULL;
END
$$
""",
)

TRIGGERS = (
    ("stock_movements", "stock_movements_out_rollup", "AFTER INSERT", "book_stock_out_rollup"),
    ("stocks", "stocks_out_days", "AFTER UPDATE", "book_stock_out_days"),
    ("waves", "waves_report_done", "AFTER UPDATE OF status", "book_wave_done"),
    ("pick_stops", "pick_stops_report", "AFTER UPDATE OF status", "book_pick_stop"),
    ("packages", "packages_report_weighing", "AFTER UPDATE OF status", "book_package_weighing"),
    ("device_scans", "device_scans_report", "AFTER INSERT", "book_pick_scan"),
)


def upgrade() -> None:
    # What a pick scan booked and who was signed in on the device (pick tasks name the device).
    op.add_column("device_scans", sa.Column("worker", sa.String(length=64), nullable=True))
    op.add_column("device_scans", sa.Column("units", sa.Integer(), nullable=True))
    op.create_table(
        "stock_daily_out",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "sku_id", "warehouse_id", name=op.f("pk_stock_daily_out")),
    )
    op.create_table(
        "stock_activity",
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("last_out_on", sa.Date(), nullable=True),
        sa.Column("zero_since", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("sku_id", "warehouse_id", name=op.f("pk_stock_activity")),
    )
    op.create_table(
        "stock_out_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "sku_id", "warehouse_id", name=op.f("pk_stock_out_days")),
    )
    counters = (
        "waves_done",
        "waves_on_time",
        "stops_done",
        "stops_short",
        "units_picked",
        "units_short",
        "packages_weighed",
        "packages_held",
    )
    op.create_table(
        "warehouse_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        *(sa.Column(c, sa.Integer(), nullable=False, server_default="0") for c in counters),
        sa.PrimaryKeyConstraint("day", "warehouse_id", name=op.f("pk_warehouse_daily")),
    )
    op.create_table(
        "pick_hourly",
        sa.Column("hour_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("device", sa.String(length=120), nullable=False),
        sa.Column("worker", sa.String(length=64), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("scans", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "hour_at", "warehouse_id", "device", "worker", name=op.f("pk_pick_hourly")
        ),
    )
    for sql in FUNCTIONS:
        op.execute(sql)
    _backfill()
    for table, name, when, function in TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} {when} ON {table} FOR EACH ROW EXECUTE FUNCTION {function}()"
        )


def _backfill() -> None:
    """The rollups of the rows already there (pick scans made before carry no units: their
    hours start with this migration)."""
    op.execute(
        "INSERT INTO stock_daily_out (day, sku_id, warehouse_id, units)"
        " SELECT report_business_day(created_at), sku_id, warehouse_id, -SUM(on_hand_delta)"
        " FROM stock_movements WHERE movement_type = 'sales_out' AND on_hand_delta < 0"
        " GROUP BY 1, 2, 3"
    )
    op.execute(
        "INSERT INTO stock_activity (sku_id, warehouse_id, last_out_on, zero_since)"
        " SELECT s.sku_id, s.warehouse_id, o.last_out_on,"
        " CASE WHEN s.on_hand - s.reserved - s.safety_hold <= 0 AND EXISTS (SELECT 1"
        " FROM stock_cost_entries e WHERE e.sku_id = s.sku_id"
        " AND e.warehouse_id = s.warehouse_id) THEN now() END"
        " FROM stocks s LEFT JOIN (SELECT sku_id, warehouse_id, MAX(day) AS last_out_on"
        " FROM stock_daily_out GROUP BY 1, 2) o USING (sku_id, warehouse_id)"
    )
    op.execute(
        "INSERT INTO warehouse_daily (day, warehouse_id, waves_done, waves_on_time)"
        " SELECT report_business_day(cutoff_at), warehouse_id, COUNT(*),"
        " COUNT(*) FILTER (WHERE finished_at <= cutoff_at)"
        " FROM waves WHERE status = 'done' GROUP BY 1, 2"
    )
    op.execute(
        "INSERT INTO warehouse_daily AS w (day, warehouse_id, stops_done, stops_short,"
        " units_picked, units_short)"
        " SELECT report_business_day(COALESCE(t.finished_at, t.claimed_at, now())), t.warehouse_id,"
        " COUNT(*), COUNT(*) FILTER (WHERE s.status = 'short'), SUM(s.picked), SUM(s.short)"
        " FROM pick_stops s JOIN pick_tasks t USING (task_no)"
        " WHERE s.status IN ('done', 'short') GROUP BY 1, 2"
        " ON CONFLICT (day, warehouse_id) DO UPDATE SET stops_done = EXCLUDED.stops_done,"
        " stops_short = EXCLUDED.stops_short, units_picked = EXCLUDED.units_picked,"
        " units_short = EXCLUDED.units_short"
    )


def downgrade() -> None:
    for table, name, _, _ in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON {table}")
    for function in (
        "book_pick_scan()",
        "book_package_weighing()",
        "book_pick_stop()",
        "book_wave_done()",
        "bump_warehouse_daily(date, integer, int, int, int, int, int, int, int, int)",
        "book_stock_out_days()",
        "book_stock_out_rollup()",
        "report_business_day(timestamptz)",
    ):
        op.execute(f"DROP FUNCTION {function}")
    for table in (
        "pick_hourly",
        "warehouse_daily",
        "stock_out_days",
        "stock_activity",
        "stock_daily_out",
    ):
        op.drop_table(table)
    op.drop_column("device_scans", "units")
    op.drop_column("device_scans", "worker")
