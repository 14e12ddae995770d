"""order rollups (issue 17): the orders and after-sales reports' rollups per business day, kept
by a trigger on the order timeline (order_events) in the transaction that writes each step; the
orders' payment and first handover times and their kind of cancel; all backfilled from the
timeline already written

Revision ID: 0052_order_rollups
Revises: 0051_sales_rollups
Create Date: 2026-12-06 19:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0052_order_rollups"
down_revision: str | None = "0051_sales_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# models/domain/report_buckets.py: floor(4·log2(1 + minutes)), a boundary in the bucket it opens.
REPORT_BUCKET = """
CREATE FUNCTION order_report_bucket(minutes double precision) RETURNS smallint
LANGUAGE sql IMMUTABLE AS $$
    SELECT floor(4 * ln(1 + greatest(minutes, 0)) / ln(2) + 1e-9)::smallint
$$
"""

# The business day (Asia/Shanghai, a fixed +08:00) of a moment.
BUSINESS_DAY = """
CREATE FUNCTION order_report_day(at timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE AS $$ SELECT ((at AT TIME ZONE 'UTC') + interval '8 hours')::date $$
"""

# An after-sale's reason as the reports group it.
REASON_KEY = """
CREATE FUNCTION after_sale_reason_key(reason text) RETURNS varchar(100)
LANGUAGE sql IMMUTABLE AS $$ SELECT left(btrim(reason), 100)::varchar(100) $$
"""

ROLL_ORDER_EVENT = """
CREATE FUNCTION roll_order_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d date := order_report_day(NEW.at);
    k integer;
    cancel_k varchar(20);
    paid timestamptz;
    wh integer;
    a record;
    amount bigint;
    first_line integer;
BEGIN
    IF NEW.step = 'placed' THEN
        SELECT api_key_id INTO k FROM orders WHERE order_no = NEW.order_no;
        IF k IS NOT NULL THEN
            INSERT INTO order_funnel_days AS f (day, api_key_id, placed) VALUES (d, k, 1)
                ON CONFLICT (day, api_key_id) DO UPDATE SET placed = f.placed + 1;
        END IF;
    ELSIF NEW.step = 'paid' THEN
        UPDATE orders SET paid_at = NEW.at WHERE order_no = NEW.order_no AND paid_at IS NULL
            RETURNING api_key_id INTO k;
        IF k IS NOT NULL THEN
            INSERT INTO order_funnel_days AS f (day, api_key_id, paid, paid_units)
                VALUES (d, k, 1, (SELECT coalesce(sum(quantity), 0) FROM order_lines
                                  WHERE order_no = NEW.order_no))
                ON CONFLICT (day, api_key_id) DO UPDATE
                SET paid = f.paid + 1, paid_units = f.paid_units + EXCLUDED.paid_units;
            INSERT INTO sku_sold_days AS s (day, sku_id, units)
                SELECT d, sku_id, sum(quantity) FROM order_lines
                WHERE order_no = NEW.order_no GROUP BY sku_id
                ON CONFLICT (day, sku_id) DO UPDATE SET units = s.units + EXCLUDED.units;
        END IF;
    ELSIF NEW.step = 'shipped' AND NEW.package_no IS NOT NULL THEN
        SELECT warehouse_id INTO wh FROM packages WHERE package_no = NEW.package_no;
        SELECT paid_at INTO paid FROM orders WHERE order_no = NEW.order_no;
        IF wh IS NOT NULL AND paid IS NOT NULL THEN
            INSERT INTO handover_time_days AS h (day, warehouse_id, bucket, packages)
                VALUES (d, wh, order_report_bucket(extract(epoch FROM NEW.at - paid) / 60), 1)
                ON CONFLICT (day, warehouse_id, bucket)
                DO UPDATE SET packages = h.packages + 1;
        END IF;
        -- The order's first handover only (its row lock orders concurrent packages).
        UPDATE orders SET handed_over_at = NEW.at
            WHERE order_no = NEW.order_no AND handed_over_at IS NULL
            RETURNING api_key_id INTO k;
        IF k IS NOT NULL THEN
            INSERT INTO order_funnel_days AS f (day, api_key_id, handed_over) VALUES (d, k, 1)
                ON CONFLICT (day, api_key_id) DO UPDATE SET handed_over = f.handed_over + 1;
        END IF;
    ELSIF NEW.step = 'completed' THEN
        SELECT api_key_id INTO k FROM orders WHERE order_no = NEW.order_no;
        IF k IS NOT NULL THEN
            INSERT INTO order_funnel_days AS f (day, api_key_id, completed) VALUES (d, k, 1)
                ON CONFLICT (day, api_key_id) DO UPDATE SET completed = f.completed + 1;
        END IF;
    ELSIF NEW.step = 'cancelled' THEN
        SELECT api_key_id, coalesce(cancel_kind, 'other') INTO k, cancel_k
            FROM orders WHERE order_no = NEW.order_no;
        IF k IS NOT NULL THEN
            INSERT INTO order_funnel_days AS f (day, api_key_id, cancelled) VALUES (d, k, 1)
                ON CONFLICT (day, api_key_id) DO UPDATE SET cancelled = f.cancelled + 1;
            INSERT INTO order_cancel_days AS c (day, api_key_id, kind, orders)
                VALUES (d, k, cancel_k, 1)
                ON CONFLICT (day, api_key_id, kind) DO UPDATE SET orders = c.orders + 1;
        END IF;
    ELSIF NEW.step IN ('after_sale_requested', 'after_sale_approved', 'after_sale_rejected',
                       'after_sale_auto_approved', 'after_sale_refunded') THEN
        SELECT as_no, after_sale_reason_key(reason) AS reason, requested_at, sla_due_at INTO a
            FROM after_sales WHERE as_no = NEW.detail->>'as_no';
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
        IF NEW.step = 'after_sale_requested' THEN
            d := order_report_day(a.requested_at);
            INSERT INTO after_sale_reason_days AS r (day, reason, requests)
                VALUES (d, a.reason, 1)
                ON CONFLICT (day, reason) DO UPDATE SET requests = r.requests + 1;
            INSERT INTO after_sale_sku_days AS s (day, sku_id, reason, requests, units)
                SELECT d, sku_id, a.reason, 1, sum(quantity) FROM after_sale_lines
                WHERE as_no = a.as_no GROUP BY sku_id
                ON CONFLICT (day, sku_id, reason)
                DO UPDATE SET requests = s.requests + 1, units = s.units + EXCLUDED.units;
        ELSIF NEW.step = 'after_sale_refunded' THEN
            amount := coalesce((NEW.detail->>'amount_fen')::bigint, 0);
            IF amount > 0 THEN
                INSERT INTO after_sale_reason_days AS r (day, reason, refunds, refunded_fen)
                    VALUES (d, a.reason, 1, amount)
                    ON CONFLICT (day, reason) DO UPDATE
                    SET refunds = r.refunds + 1, refunded_fen = r.refunded_fen + amount;
                SELECT min(line_no) INTO first_line FROM after_sale_lines WHERE as_no = a.as_no;
                -- Each line its quoted amount; the rest (freight) on the first line.
                INSERT INTO after_sale_sku_days AS s (day, sku_id, reason, refunded_fen)
                    SELECT d, sku_id, a.reason, sum(CASE WHEN line_no = first_line
                        THEN amount - (SELECT coalesce(sum(amount_fen), 0) FROM after_sale_lines
                                       WHERE as_no = a.as_no AND line_no <> first_line)
                        ELSE amount_fen END)
                    FROM after_sale_lines WHERE as_no = a.as_no GROUP BY sku_id
                    ON CONFLICT (day, sku_id, reason)
                    DO UPDATE SET refunded_fen = s.refunded_fen + EXCLUDED.refunded_fen;
            END IF;
        ELSE
            INSERT INTO after_sale_decision_days AS x (day, reason, bucket, decided, within_sla)
                VALUES (d, a.reason,
                        order_report_bucket(extract(epoch FROM NEW.at - a.requested_at) / 60), 1,
                        CASE WHEN NEW.step <> 'after_sale_auto_approved'
                              AND (a.sla_due_at IS NULL OR NEW.at <= a.sla_due_at)
                             THEN 1 ELSE 0 END)
                ON CONFLICT (day, reason, bucket) DO UPDATE
                SET decided = x.decided + 1, within_sla = x.within_sla + EXCLUDED.within_sla;
        END IF;
    END IF;
    RETURN NULL;
END
$$
"""

# The same figures from the timeline already written, set-based (one pass per rollup).
BACKFILL = (
    """
UPDATE orders o SET paid_at = e.at FROM (
    SELECT order_no, min(at) AS at FROM order_events WHERE step = 'paid' GROUP BY order_no
) e WHERE e.order_no = o.order_no
""",
    """
UPDATE orders o SET handed_over_at = e.at FROM (
    SELECT order_no, min(at) AS at FROM order_events
    WHERE step = 'shipped' AND package_no IS NOT NULL GROUP BY order_no
) e WHERE e.order_no = o.order_no
""",
    # models/domain/cancel_kinds.py, in SQL.
    """
UPDATE orders o SET cancel_kind = CASE
    WHEN e.actor_kind = 'system' AND o.cancel_reason IN
        ('payment deadline passed', 'balance not paid in time') THEN 'payment_timeout'
    WHEN e.actor_kind = 'system' AND o.cancel_reason = 'nothing was delivered' THEN
        CASE WHEN EXISTS (SELECT 1 FROM order_events s WHERE s.order_no = o.order_no
                          AND s.step = 'short_refunded') THEN 'out_of_stock' ELSE 'undelivered' END
    WHEN o.cancel_reason IN ('group buy closed', 'group buy failed') THEN 'group_buy'
    WHEN o.cancel_reason LIKE 'risk review:%' THEN 'risk_review'
    WHEN e.actor_kind = 'storefront' THEN 'customer'
    WHEN e.actor_kind = 'user' THEN 'staff'
    ELSE 'other' END
FROM order_events e WHERE e.order_no = o.order_no AND e.step = 'cancelled'
""",
    """
INSERT INTO order_funnel_days (day, api_key_id, placed, paid, paid_units, handed_over, completed,
                               cancelled)
SELECT day, api_key_id, sum(placed), sum(paid), sum(paid_units), sum(handed_over),
       sum(completed), sum(cancelled)
FROM (
    SELECT order_report_day(e.at) AS day, o.api_key_id,
           (e.step = 'placed')::int AS placed, 0 AS paid, 0 AS paid_units,
           0 AS handed_over, (e.step = 'completed')::int AS completed,
           (e.step = 'cancelled')::int AS cancelled
    FROM order_events e JOIN orders o USING (order_no)
    WHERE e.step IN ('placed', 'completed', 'cancelled')
    UNION ALL
    SELECT order_report_day(o.paid_at), o.api_key_id, 0, 1,
           (SELECT coalesce(sum(quantity), 0) FROM order_lines l WHERE l.order_no = o.order_no),
           0, 0, 0
    FROM orders o WHERE o.paid_at IS NOT NULL
    UNION ALL
    SELECT order_report_day(handed_over_at), api_key_id, 0, 0, 0, 1, 0, 0
    FROM orders WHERE handed_over_at IS NOT NULL
) x GROUP BY day, api_key_id
""",
    """
INSERT INTO order_cancel_days (day, api_key_id, kind, orders)
SELECT order_report_day(e.at), o.api_key_id, coalesce(o.cancel_kind, 'other'), count(*)
FROM order_events e JOIN orders o USING (order_no) WHERE e.step = 'cancelled'
GROUP BY 1, 2, 3
""",
    """
INSERT INTO handover_time_days (day, warehouse_id, bucket, packages)
SELECT order_report_day(e.at), p.warehouse_id,
       order_report_bucket(extract(epoch FROM e.at - o.paid_at) / 60), count(*)
FROM order_events e JOIN packages p USING (package_no) JOIN orders o ON o.order_no = e.order_no
WHERE e.step = 'shipped' AND o.paid_at IS NOT NULL
GROUP BY 1, 2, 3
""",
    """
INSERT INTO sku_sold_days (day, sku_id, units)
SELECT order_report_day(o.paid_at), l.sku_id, sum(l.quantity)
FROM orders o JOIN order_lines l USING (order_no) WHERE o.paid_at IS NOT NULL
GROUP BY 1, 2
""",
    """
INSERT INTO after_sale_reason_days (day, reason, requests, refunds, refunded_fen)
SELECT day, reason, sum(requests), sum(refunds), sum(refunded_fen) FROM (
    SELECT order_report_day(requested_at) AS day, after_sale_reason_key(reason) AS reason,
           1 AS requests, 0 AS refunds, 0::bigint AS refunded_fen
    FROM after_sales
    UNION ALL
    SELECT order_report_day(e.at), after_sale_reason_key(a.reason), 0, 1,
           (e.detail->>'amount_fen')::bigint
    FROM order_events e JOIN after_sales a ON a.as_no = e.detail->>'as_no'
    WHERE e.step = 'after_sale_refunded' AND (e.detail->>'amount_fen')::bigint > 0
) x GROUP BY day, reason
""",
    """
INSERT INTO after_sale_sku_days (day, sku_id, reason, requests, units, refunded_fen)
SELECT day, sku_id, reason, sum(requests), sum(units), sum(refunded_fen) FROM (
    SELECT order_report_day(a.requested_at) AS day, l.sku_id, after_sale_reason_key(a.reason)
           AS reason, 1 AS requests, sum(l.quantity) AS units, 0::bigint AS refunded_fen
    FROM after_sales a JOIN after_sale_lines l USING (as_no)
    GROUP BY a.as_no, 1, 2, 3
    UNION ALL
    SELECT order_report_day(e.at), l.sku_id, after_sale_reason_key(a.reason), 0, 0,
           sum(CASE WHEN l.line_no = f.first_line
               THEN (e.detail->>'amount_fen')::bigint - f.others ELSE l.amount_fen END)
    FROM order_events e JOIN after_sales a ON a.as_no = e.detail->>'as_no'
    JOIN after_sale_lines l ON l.as_no = a.as_no
    JOIN LATERAL (
        SELECT min(line_no) AS first_line,
               coalesce(sum(amount_fen) FILTER (WHERE line_no <> (
                   SELECT min(line_no) FROM after_sale_lines WHERE as_no = a.as_no)), 0)
               AS others
        FROM after_sale_lines WHERE as_no = a.as_no
    ) f ON true
    WHERE e.step = 'after_sale_refunded' AND (e.detail->>'amount_fen')::bigint > 0
    GROUP BY a.as_no, 1, 2, 3
) x GROUP BY day, sku_id, reason
""",
    """
INSERT INTO after_sale_decision_days (day, reason, bucket, decided, within_sla)
SELECT order_report_day(e.at), after_sale_reason_key(a.reason),
       order_report_bucket(extract(epoch FROM e.at - a.requested_at) / 60), count(*),
       count(*) FILTER (WHERE e.step <> 'after_sale_auto_approved'
                        AND (a.sla_due_at IS NULL OR e.at <= a.sla_due_at))
FROM order_events e JOIN after_sales a ON a.as_no = e.detail->>'as_no'
WHERE e.step IN ('after_sale_approved', 'after_sale_rejected', 'after_sale_auto_approved')
GROUP BY 1, 2, 3
""",
)

TABLES = (
    "after_sale_decision_days",
    "after_sale_reason_days",
    "after_sale_sku_days",
    "sku_sold_days",
    "handover_time_days",
    "order_cancel_days",
    "order_funnel_days",
)


def _day() -> "sa.Column[Any]":
    return sa.Column("day", sa.Date(), nullable=False)


def _count(name: str, big: bool = False) -> "sa.Column[Any]":
    kind = sa.BigInteger() if big else sa.Integer()
    return sa.Column(name, kind, nullable=False, server_default="0")


def upgrade() -> None:
    op.add_column("orders", sa.Column("cancel_kind", sa.String(length=20), nullable=True))
    op.add_column("orders", sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("orders", sa.Column("handed_over_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "order_funnel_days",
        _day(),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        *(_count(c) for c in ("placed", "paid", "handed_over", "completed", "cancelled")),
        _count("paid_units", big=True),
        sa.PrimaryKeyConstraint("day", "api_key_id", name=op.f("pk_order_funnel_days")),
    )
    op.create_table(
        "order_cancel_days",
        _day(),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        _count("orders"),
        sa.PrimaryKeyConstraint("day", "api_key_id", "kind", name=op.f("pk_order_cancel_days")),
    )
    op.create_table(
        "handover_time_days",
        _day(),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.SmallInteger(), nullable=False),
        _count("packages"),
        sa.PrimaryKeyConstraint(
            "day", "warehouse_id", "bucket", name=op.f("pk_handover_time_days")
        ),
    )
    op.create_table(
        "sku_sold_days",
        _day(),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        _count("units", big=True),
        sa.PrimaryKeyConstraint("day", "sku_id", name=op.f("pk_sku_sold_days")),
    )
    op.create_index("ix_sku_sold_days_sku_day", "sku_sold_days", ["sku_id", "day"])
    op.create_table(
        "after_sale_sku_days",
        _day(),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=False),
        _count("requests"),
        _count("units", big=True),
        _count("refunded_fen", big=True),
        sa.PrimaryKeyConstraint("day", "sku_id", "reason", name=op.f("pk_after_sale_sku_days")),
    )
    op.create_table(
        "after_sale_reason_days",
        _day(),
        sa.Column("reason", sa.String(length=100), nullable=False),
        _count("requests"),
        _count("refunds"),
        _count("refunded_fen", big=True),
        sa.PrimaryKeyConstraint("day", "reason", name=op.f("pk_after_sale_reason_days")),
    )
    op.create_table(
        "after_sale_decision_days",
        _day(),
        sa.Column("reason", sa.String(length=100), nullable=False),
        sa.Column("bucket", sa.SmallInteger(), nullable=False),
        _count("decided"),
        _count("within_sla"),
        sa.PrimaryKeyConstraint(
            "day", "reason", "bucket", name=op.f("pk_after_sale_decision_days")
        ),
    )
    op.execute(REPORT_BUCKET)
    op.execute(BUSINESS_DAY)
    op.execute(REASON_KEY)
    for statement in BACKFILL:
        op.execute(statement)
    op.execute(ROLL_ORDER_EVENT)
    op.execute(
        "CREATE TRIGGER order_events_rollups AFTER INSERT ON order_events"
        " FOR EACH ROW EXECUTE FUNCTION roll_order_event()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER order_events_rollups ON order_events")
    op.execute("DROP FUNCTION roll_order_event()")
    op.execute("DROP FUNCTION after_sale_reason_key(text)")
    op.execute("DROP FUNCTION order_report_day(timestamptz)")
    op.execute("DROP FUNCTION order_report_bucket(double precision)")
    for table in TABLES:
        op.drop_table(table)
    op.drop_column("orders", "handed_over_at")
    op.drop_column("orders", "paid_at")
    op.drop_column("orders", "cancel_kind")
