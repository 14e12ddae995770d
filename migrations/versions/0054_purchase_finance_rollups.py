"""purchasing and finance report rollups (issue 17): per-PO facts, supplier fill and on-time
figures per day, PO line prices per SKU and day, the money ledger per day, type, refund cause
and supplier, what each PO still owes, reconciliation differences per day and state — each kept
by a trigger in the transaction of the change it counts, and backfilled from existing rows.
Adds purchase_orders.expected_on (the date the goods are due).

Revision ID: 0054_purchase_finance_rollups
Revises: 0053_stock_rollups
Create Date: 2026-12-06 19:00:00
"""

# ruff: noqa: S608 - the SQL is put together from this module's constants only.
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0054_purchase_finance_rollups"
down_revision: str | None = "0053_stock_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAY = "(({ts}) AT TIME ZONE 'Asia/Shanghai')::date"  # a business day (Asia/Shanghai)
APPROVED = "('approved','sent','receiving','closed','settled')"  # approved, or past it
CLOSED = "('closed','settled')"

# Why an order's money went back, read from the refund number every process gives its refund
# (after-sale RF<AS no>, late payment RF-<transaction>, cancel RF<order digits>C, package not
# delivered RF<package digits>, short pick RF<package digits>S) and, for a cancel, the refund's
# reason (group buy failed or closed) or the order being a presale's.
REFUND_CAUSE = """
CREATE FUNCTION report_refund_cause(ref text, order_no text) RETURNS varchar
LANGUAGE sql STABLE AS $$
SELECT CASE
    WHEN ref LIKE 'RFAS%' THEN 'after_sale'
    WHEN ref LIKE 'RF-%' THEN 'late_payment'
    WHEN ref ~ '^RF[0-9]+C$' THEN
        CASE
            WHEN (SELECT r.reason FROM refunds r WHERE r.refund_no = ref) LIKE '%group buy%'
                THEN 'group_buy_failed'
            WHEN EXISTS (SELECT 1 FROM presale_orders p WHERE p.order_no = $2) THEN 'presale'
            ELSE 'cancellation'
        END
    WHEN ref ~ '^RF[0-9]+X?S$' THEN 'short_pick'
    WHEN ref ~ '^RF[0-9]+X?$' THEN 'package_refund'
    ELSE 'other'
END
$$
"""

PO_CHANGE = f"""
CREATE FUNCTION report_po_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    f report_po_facts%ROWTYPE;
    d date := {DAY.format(ts="now()")};
    lead int;
BEGIN
    INSERT INTO report_po_facts (po_no, supplier_id, status, amount_fen, expected_on,
                                 ordered_units, received_units)
        VALUES (NEW.po_no, NEW.supplier_id, NEW.status, NEW.amount_fen, NEW.expected_on, 0, 0)
        ON CONFLICT (po_no) DO NOTHING;
    IF TG_OP = 'INSERT' THEN
        RETURN NULL;
    END IF;
    UPDATE report_po_facts
        SET status = NEW.status, amount_fen = NEW.amount_fen, supplier_id = NEW.supplier_id,
            expected_on = COALESCE(NEW.expected_on, expected_on)
        WHERE po_no = NEW.po_no
        RETURNING * INTO f;
    IF f.approved_at IS NULL AND NEW.status IN {APPROVED} THEN
        SELECT COALESCE(MAX(sp.lead_time_days), 0) INTO lead
            FROM purchase_order_lines l
            JOIN supplier_products sp ON sp.supplier_id = NEW.supplier_id AND sp.sku_id = l.sku_id
            WHERE l.po_no = NEW.po_no;
        UPDATE report_po_facts
            SET approved_at = now(), expected_on = COALESCE(NEW.expected_on, d + lead),
                ordered_units = (SELECT COALESCE(SUM(quantity), 0) FROM purchase_order_lines
                                 WHERE po_no = NEW.po_no)
            WHERE po_no = NEW.po_no
            RETURNING * INTO f;
        INSERT INTO report_price_days AS p (sku_id, day, supplier_id, lines, units, value_fen,
                                            min_price_fen, max_price_fen)
            SELECT sku_id, d, NEW.supplier_id, count(*), SUM(quantity),
                   SUM(quantity::bigint * unit_price_fen), MIN(unit_price_fen),
                   MAX(unit_price_fen)
            FROM purchase_order_lines WHERE po_no = NEW.po_no
            GROUP BY sku_id ORDER BY sku_id  -- rows locked in one order: no deadlock
            ON CONFLICT (sku_id, day, supplier_id) DO UPDATE
            SET lines = p.lines + EXCLUDED.lines, units = p.units + EXCLUDED.units,
                value_fen = p.value_fen + EXCLUDED.value_fen,
                min_price_fen = LEAST(p.min_price_fen, EXCLUDED.min_price_fen),
                max_price_fen = GREATEST(p.max_price_fen, EXCLUDED.max_price_fen);
    END IF;
    IF f.closed_at IS NULL AND NEW.status IN {CLOSED} THEN
        UPDATE report_po_facts SET closed_at = now() WHERE po_no = NEW.po_no;
        INSERT INTO report_supplier_days AS s (day, supplier_id, pos_closed, units_ordered,
                                               units_received, receipts, receipts_on_time)
            VALUES (d, f.supplier_id, 1, f.ordered_units, f.received_units, 0, 0)
            ON CONFLICT (day, supplier_id) DO UPDATE
            SET pos_closed = s.pos_closed + 1,
                units_ordered = s.units_ordered + EXCLUDED.units_ordered,
                units_received = s.units_received + EXCLUDED.units_received;
    END IF;
    RETURN NULL;
END
$$
"""

# Received units counted as the line's figure moves; once the PO is closed, on its closing day
# too (the closing step and the lines' figures may be written in either order).
PO_LINE_RECEIVED = f"""
CREATE FUNCTION report_po_line_received() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delta bigint := NEW.received - OLD.received;
    c timestamptz;
    s int;
BEGIN
    UPDATE report_po_facts SET received_units = received_units + delta
        WHERE po_no = NEW.po_no RETURNING closed_at, supplier_id INTO c, s;
    IF c IS NOT NULL THEN
        UPDATE report_supplier_days SET units_received = units_received + delta
            WHERE day = {DAY.format(ts="c")} AND supplier_id = s;
    END IF;
    RETURN NULL;
END
$$
"""

RECEIPT_ADDED = f"""
CREATE FUNCTION report_receipt_added() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d date := {DAY.format(ts="NEW.received_at")};
    s int;
    e date;
BEGIN
    SELECT supplier_id, expected_on INTO s, e FROM report_po_facts WHERE po_no = NEW.po_no;
    IF NOT FOUND THEN
        SELECT supplier_id, expected_on INTO s, e FROM purchase_orders WHERE po_no = NEW.po_no;
    END IF;
    INSERT INTO report_supplier_days AS r (day, supplier_id, pos_closed, units_ordered,
                                           units_received, receipts, receipts_on_time)
        VALUES (d, s, 0, 0, 0, 1, CASE WHEN e IS NULL OR d <= e THEN 1 ELSE 0 END)
        ON CONFLICT (day, supplier_id) DO UPDATE
        SET receipts = r.receipts + 1,
            receipts_on_time = r.receipts_on_time + EXCLUDED.receipts_on_time;
    RETURN NULL;
END
$$
"""

MONEY_ENTRY = f"""
CREATE FUNCTION report_money_entry() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d date := {DAY.format(ts="NEW.created_at")};
    s int := 0;
    why varchar := '';
BEGIN
    IF NEW.po_no IS NOT NULL THEN
        SELECT supplier_id INTO s FROM purchase_orders WHERE po_no = NEW.po_no;
        s := COALESCE(s, 0);
        INSERT INTO report_payables AS p (po_no, supplier_id, invoice_date, due_date, owed_fen)
            SELECT NEW.po_no, s, i.invoice_date, i.due_date, NEW.amount_fen
            FROM (SELECT 1) AS one LEFT JOIN supplier_invoices i ON i.po_no = NEW.po_no
            ON CONFLICT (po_no) DO UPDATE
            SET owed_fen = p.owed_fen + EXCLUDED.owed_fen,
                invoice_date = COALESCE(EXCLUDED.invoice_date, p.invoice_date),
                due_date = COALESCE(EXCLUDED.due_date, p.due_date);
    ELSIF NEW.entry_type = 'refund' THEN
        why := report_refund_cause(NEW.ref_no, NEW.order_no);
    ELSE
        -- Orders' payments and forfeits are no report's: not summed, so the many payments of
        -- a busy day never wait on one rollup row.
        RETURN NULL;
    END IF;
    INSERT INTO report_money_days AS m (day, entry_type, cause, supplier_id, entries, amount_fen)
        VALUES (d, NEW.entry_type, why, s, 1, NEW.amount_fen)
        ON CONFLICT (day, entry_type, cause, supplier_id) DO UPDATE
        SET entries = m.entries + 1, amount_fen = m.amount_fen + EXCLUDED.amount_fen;
    RETURN NULL;
END
$$
"""

INVOICE_DATES = """
CREATE FUNCTION report_invoice_dates() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE report_payables SET invoice_date = NEW.invoice_date, due_date = NEW.due_date
        WHERE po_no = NEW.po_no
          AND (invoice_date IS DISTINCT FROM NEW.invoice_date
               OR due_date IS DISTINCT FROM NEW.due_date);
    RETURN NULL;
END
$$
"""

GAP = "abs(COALESCE({r}.provider_amount_fen, 0) - COALESCE({r}.ledger_amount_fen, 0))"
DIFFERENCE_CHANGE = f"""
CREATE FUNCTION report_difference_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE report_reconciliation_days
            SET differences = differences - 1, amount_fen = amount_fen - {GAP.format(r="OLD")}
            WHERE day = OLD.day AND kind = OLD.kind AND entry_type = OLD.entry_type
              AND resolved = OLD.resolved;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO report_reconciliation_days AS r (day, kind, entry_type, resolved,
                                                     differences, amount_fen)
            VALUES (NEW.day, NEW.kind, NEW.entry_type, NEW.resolved, 1, {GAP.format(r="NEW")})
            ON CONFLICT (day, kind, entry_type, resolved) DO UPDATE
            SET differences = r.differences + 1, amount_fen = r.amount_fen + EXCLUDED.amount_fen;
    END IF;
    RETURN NULL;
END
$$
"""

TRIGGERS = (
    ("purchase_orders_report", "purchase_orders", "AFTER INSERT OR UPDATE", "report_po_change"),
    (
        "purchase_order_lines_report",
        "purchase_order_lines",
        "AFTER UPDATE OF received",
        "report_po_line_received",
    ),
    ("purchase_receipts_report", "purchase_receipts", "AFTER INSERT", "report_receipt_added"),
    ("money_ledger_report", "money_ledger", "AFTER INSERT", "report_money_entry"),
    (
        "supplier_invoices_report",
        "supplier_invoices",
        "AFTER INSERT OR UPDATE",
        "report_invoice_dates",
    ),
    (
        "reconciliation_differences_report",
        "reconciliation_differences",
        "AFTER INSERT OR UPDATE OR DELETE",
        "report_difference_change",
    ),
)

# What an upgraded database already holds, counted as the triggers would have. Approval and
# closing times come from the PO's timeline (its first approval or later step, its closing step).
BACKFILL = (
    f"""
    INSERT INTO report_po_facts (po_no, supplier_id, status, amount_fen, expected_on, approved_at,
                                 closed_at, ordered_units, received_units)
    SELECT po.po_no, po.supplier_id, po.status, po.amount_fen, po.expected_on,
           CASE WHEN po.status IN {APPROVED} THEN COALESCE(
               (SELECT min(e.at) FROM purchase_order_events e WHERE e.po_no = po.po_no
                  AND (e.step LIKE 'approved_as_%' OR e.step = 'sent_to_supplier')),
               po.created_at) END,
           CASE WHEN po.status IN {CLOSED} THEN COALESCE(
               (SELECT min(e.at) FROM purchase_order_events e WHERE e.po_no = po.po_no
                  AND e.step IN ('fully_received', 'closed_short', 'auto_closed')),
               po.updated_at) END,
           COALESCE(l.ordered, 0), COALESCE(l.received, 0)
    FROM purchase_orders po
    LEFT JOIN (SELECT po_no, SUM(quantity) AS ordered, SUM(received) AS received
               FROM purchase_order_lines GROUP BY po_no) l ON l.po_no = po.po_no
    """,
    f"""
    UPDATE report_po_facts f SET expected_on = {DAY.format(ts="f.approved_at")} + COALESCE(
        (SELECT MAX(sp.lead_time_days) FROM purchase_order_lines l
         JOIN supplier_products sp ON sp.supplier_id = f.supplier_id AND sp.sku_id = l.sku_id
         WHERE l.po_no = f.po_no), 0)
    WHERE f.expected_on IS NULL AND f.approved_at IS NOT NULL
    """,
    f"""
    INSERT INTO report_supplier_days (day, supplier_id, pos_closed, units_ordered, units_received,
                                      receipts, receipts_on_time)
    SELECT day, supplier_id, SUM(pos), SUM(ordered), SUM(received), SUM(receipts), SUM(on_time)
    FROM (
        SELECT {DAY.format(ts="closed_at")} AS day, supplier_id, 1 AS pos,
               ordered_units AS ordered, received_units AS received, 0 AS receipts, 0 AS on_time
        FROM report_po_facts WHERE closed_at IS NOT NULL
        UNION ALL
        SELECT {DAY.format(ts="r.received_at")}, f.supplier_id, 0, 0, 0, 1,
               CASE WHEN f.expected_on IS NULL
                      OR {DAY.format(ts="r.received_at")} <= f.expected_on THEN 1 ELSE 0 END
        FROM purchase_receipts r JOIN report_po_facts f ON f.po_no = r.po_no
    ) AS x
    GROUP BY day, supplier_id
    """,
    f"""
    INSERT INTO report_price_days (sku_id, day, supplier_id, lines, units, value_fen,
                                   min_price_fen, max_price_fen)
    SELECT l.sku_id, {DAY.format(ts="f.approved_at")}, f.supplier_id, count(*), SUM(l.quantity),
           SUM(l.quantity::bigint * l.unit_price_fen), MIN(l.unit_price_fen),
           MAX(l.unit_price_fen)
    FROM purchase_order_lines l JOIN report_po_facts f ON f.po_no = l.po_no
    WHERE f.approved_at IS NOT NULL
    GROUP BY 1, 2, 3
    """,
    f"""
    INSERT INTO report_money_days (day, entry_type, cause, supplier_id, entries, amount_fen)
    SELECT {DAY.format(ts="m.created_at")}, m.entry_type,
           CASE WHEN m.order_no IS NOT NULL AND m.entry_type = 'refund'
                THEN report_refund_cause(m.ref_no, m.order_no) ELSE '' END,
           COALESCE(po.supplier_id, 0), count(*), SUM(m.amount_fen)
    FROM money_ledger m LEFT JOIN purchase_orders po ON po.po_no = m.po_no
    WHERE m.po_no IS NOT NULL OR m.entry_type = 'refund'
    GROUP BY 1, 2, 3, 4
    """,
    """
    INSERT INTO report_payables (po_no, supplier_id, invoice_date, due_date, owed_fen)
    SELECT m.po_no, po.supplier_id, i.invoice_date, i.due_date, SUM(m.amount_fen)
    FROM money_ledger m JOIN purchase_orders po ON po.po_no = m.po_no
    LEFT JOIN supplier_invoices i ON i.po_no = m.po_no
    GROUP BY m.po_no, po.supplier_id, i.invoice_date, i.due_date
    """,
    f"""
    INSERT INTO report_reconciliation_days (day, kind, entry_type, resolved, differences,
                                            amount_fen)
    SELECT day, kind, entry_type, resolved, count(*), SUM({GAP.format(r="d")})
    FROM reconciliation_differences d GROUP BY 1, 2, 3, 4
    """,
)


def upgrade() -> None:
    op.add_column("purchase_orders", sa.Column("expected_on", sa.Date(), nullable=True))
    op.create_table(
        "report_po_facts",
        sa.Column("po_no", sa.String(length=24), nullable=False),
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("expected_on", sa.Date(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ordered_units", sa.BigInteger(), nullable=False),
        sa.Column("received_units", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("po_no", name=op.f("pk_report_po_facts")),
    )
    op.create_index(
        "ix_report_po_facts_open",
        "report_po_facts",
        ["supplier_id", "approved_at"],
        postgresql_where=sa.text("status IN ('approved','sent','receiving')"),
    )
    op.create_table(
        "report_supplier_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("pos_closed", sa.Integer(), nullable=False),
        sa.Column("units_ordered", sa.BigInteger(), nullable=False),
        sa.Column("units_received", sa.BigInteger(), nullable=False),
        sa.Column("receipts", sa.Integer(), nullable=False),
        sa.Column("receipts_on_time", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "supplier_id", name=op.f("pk_report_supplier_days")),
    )
    op.create_table(
        "report_price_days",
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("value_fen", sa.BigInteger(), nullable=False),
        sa.Column("min_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("max_price_fen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sku_id", "day", "supplier_id", name=op.f("pk_report_price_days")),
    )
    op.create_table(
        "report_money_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("entry_type", sa.String(length=20), nullable=False),
        sa.Column("cause", sa.String(length=24), nullable=False),
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "entry_type", "cause", "supplier_id", name=op.f("pk_report_money_days")
        ),
    )
    op.create_table(
        "report_payables",
        sa.Column("po_no", sa.String(length=24), nullable=False),
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("invoice_date", sa.Date(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("owed_fen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("po_no", name=op.f("pk_report_payables")),
    )
    op.create_index(
        "ix_report_payables_owed",
        "report_payables",
        ["supplier_id", "due_date"],
        postgresql_where=sa.text("owed_fen <> 0"),
    )
    op.create_table(
        "report_reconciliation_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("entry_type", sa.String(length=12), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("differences", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "kind", "entry_type", "resolved", name=op.f("pk_report_reconciliation_days")
        ),
    )
    for function in (
        REFUND_CAUSE,
        PO_CHANGE,
        PO_LINE_RECEIVED,
        RECEIPT_ADDED,
        MONEY_ENTRY,
        INVOICE_DATES,
        DIFFERENCE_CHANGE,
    ):
        op.execute(function)
    for statement in BACKFILL:
        op.execute(statement)
    for name, table, when, function in TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} {when} ON {table} FOR EACH ROW EXECUTE FUNCTION {function}()"
        )


def downgrade() -> None:
    for name, table, _, function in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON {table}")
        op.execute(f"DROP FUNCTION {function}()")
    op.execute("DROP FUNCTION report_refund_cause(text, text)")
    for table in (
        "report_reconciliation_days",
        "report_payables",
        "report_money_days",
        "report_price_days",
        "report_supplier_days",
        "report_po_facts",
    ):
        op.drop_table(table)
    op.drop_column("purchase_orders", "expected_on")
