"""Purchasing and finance reports (issue 17, DESIGN §6.11): figures read from the rollups the
database triggers keep current in the transaction of each change (migration
0054_purchase_finance_rollups, docs/architecture.md "Reports"), never from the whole history.

Periods are business days (Asia/Shanghai), weeks (starting Monday) or months, each named by its
first day; `date_from` and `date_to` are inclusive. Money is integer fen; rates are given as
their two counts (the console shows the percentage)."""

# ruff: noqa: S608 - the SQL is put together from this module's constants only; values the
# caller gives are bound parameters.
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Final, Literal

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Principal, Session, require
from api.errors import invalid
from api.pagination import Paging
from api.routing import Routes
from api.schemas.types import IdParam
from models.domain.reconciliation import business_day

router = Routes(prefix="/v1/reports", tags=["reports"])
Buyer = Annotated[Principal, Depends(require("purchase.read"))]
Finance = Annotated[Principal, Depends(require("finance.read"))]
Period = Literal["day", "week", "month"]
DEFAULT_DAYS: Final = 30
MAX_DAYS: Final = 3_660  # ten years of days in one report
PO_AGES: Final = (("0-7", 0, 7), ("8-30", 8, 30), ("31-90", 31, 90), (">90", 91, None))
OVERDUE: Final = (("not_due", None, 0), ("1-30", 1, 30), ("31-60", 31, 60), ("61-90", 61, 90),
                  (">90", 91, None))  # fmt: skip
REFUND_CAUSES: Final = (
    "after_sale",
    "cancellation",
    "group_buy_failed",
    "presale",
    "package_refund",
    "short_pick",
    "late_payment",
    "other",
)
DateFrom = Annotated[date | None, Query(description="first business day (default: 30 days ago)")]
DateTo = Annotated[date | None, Query(description="last business day, inclusive (default: today)")]
By = Annotated[Period, Query(description="period: day, week (from Monday) or month")]


def window(date_from: date | None, date_to: date | None) -> tuple[date, date]:
    """The inclusive business-day range asked for, by default the last 30 days."""
    last = date_to or business_day(datetime.now(UTC))
    first = date_from or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise invalid("date_from", "is after date_to", "date_range_reversed")
    if (last - first).days >= MAX_DAYS:
        raise invalid(
            "date_from",
            f"a report covers at most {MAX_DAYS} days",
            "date_range_too_long",
            days=MAX_DAYS,
        )
    return first, last


def period_of(column: str, by: Period) -> str:
    """SQL naming a day column's period by its first day."""
    return column if by == "day" else f"date_trunc('{by}', {column})::date"


def average_price(value_fen: int, units: int) -> int:
    """Σ value ÷ Σ units in whole fen, half up."""
    return (2 * value_fen + units) // (2 * units) if units else 0


class Rows(BaseModel):
    rows: list[dict[str, Any]]
    totals: dict[str, Any]


class PurchasingReport(Rows):
    """Fill and on-time figures per period and supplier (paged), per period (the chart), the
    price history of one SKU and the open POs by age."""

    date_from: date
    date_to: date
    by: Period
    count: int
    skip: int
    limit: int
    periods: list[dict[str, Any]]
    prices: Rows
    open_pos: Rows


class FinanceReport(Rows):
    """Refunds per period and cause (rows), per period summary, supplier payments, payables by
    age and reconciliation differences."""

    date_from: date
    date_to: date
    by: Period
    periods: list[dict[str, Any]]
    payments: Rows
    payables: Rows
    reconciliation: Rows


async def _all(session: AsyncSession, sql: str, **params: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in (await session.execute(text(sql), params)).mappings().all()]


SUPPLIER_FIGURES: Final = ("pos_closed", "units_ordered", "units_received", "receipts",
                           "receipts_on_time")  # fmt: skip


@router.get("/purchasing")
async def purchasing_report(
    session: Session,
    _: Buyer,
    paging: Paging,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    by: By = "day",
    supplier_id: IdParam | None = None,
    sku_id: Annotated[IdParam | None, Query(description="the SKU whose prices to show")] = None,
) -> PurchasingReport:
    """Fill and on-time figures per period and supplier, the price history of `sku_id` and
    the open POs by age, all of `supplier_id` when given."""
    first, last = window(date_from, date_to)
    params: dict[str, Any] = {"first": first, "last": last, "supplier": supplier_id}
    where = (
        "d.day BETWEEN :first AND :last"
        " AND (CAST(:supplier AS int) IS NULL OR d.supplier_id = :supplier)"
    )
    sums = ", ".join(f"SUM(d.{f})::bigint AS {f}" for f in SUPPLIER_FIGURES)
    grouped = f"""
        SELECT {period_of("d.day", by)} AS period, d.supplier_id, {sums}
        FROM report_supplier_days d WHERE {where} GROUP BY 1, 2"""
    count = int(await session.scalar(text(f"SELECT count(*) FROM ({grouped}) g"), params) or 0)
    rows = await _all(
        session,
        f"""SELECT g.*, s.code AS supplier_code, s.name AS supplier_name
            FROM ({grouped}) g JOIN suppliers s ON s.id = g.supplier_id
            ORDER BY g.period, s.code OFFSET :skip LIMIT :limit""",
        **params,
        skip=paging.skip,
        limit=paging.limit,
    )
    periods = await _all(
        session,
        f"""SELECT {period_of("d.day", by)} AS period, {sums}
            FROM report_supplier_days d WHERE {where} GROUP BY 1 ORDER BY 1""",
        **params,
    )
    totals = {f: sum(int(p[f]) for p in periods) for f in SUPPLIER_FIGURES}
    prices: list[dict[str, Any]] = []
    if sku_id is not None:
        prices = await _all(
            session,
            f"""SELECT {period_of("p.day", by)} AS period, p.supplier_id, s.code AS supplier_code,
                       SUM(p.lines)::bigint AS lines, SUM(p.units)::bigint AS units,
                       SUM(p.value_fen)::bigint AS value_fen,
                       MIN(p.min_price_fen) AS min_price_fen, MAX(p.max_price_fen) AS max_price_fen
                FROM report_price_days p JOIN suppliers s ON s.id = p.supplier_id
                WHERE p.sku_id = :sku AND p.day BETWEEN :first AND :last
                  AND (CAST(:supplier AS int) IS NULL OR p.supplier_id = :supplier)
                GROUP BY 1, 2, 3 ORDER BY 1, 3""",
            **params,
            sku=sku_id,
        )
        for p in prices:
            p["avg_price_fen"] = average_price(int(p["value_fen"]), int(p["units"]))
    price_units = sum(int(p["units"]) for p in prices)
    price_value = sum(int(p["value_fen"]) for p in prices)
    price_totals = {
        "sku_id": sku_id,
        "lines": sum(int(p["lines"]) for p in prices),
        "units": price_units,
        "value_fen": price_value,
        "avg_price_fen": average_price(price_value, price_units),
        "min_price_fen": min((int(p["min_price_fen"]) for p in prices), default=None),
        "max_price_fen": max((int(p["max_price_fen"]) for p in prices), default=None),
    }
    return PurchasingReport(
        date_from=first,
        date_to=last,
        by=by,
        rows=rows,
        count=count,
        skip=paging.skip,
        limit=paging.limit,
        totals=totals,
        periods=periods,
        prices=Rows(rows=prices, totals=price_totals),
        open_pos=await _open_pos(session, supplier_id),
    )


async def _open_pos(session: AsyncSession, supplier_id: int | None) -> Rows:
    """Approved POs not yet closed, per supplier and days since approval (as of today): the
    few open ones, read over the partial index of report_po_facts."""
    today = business_day(datetime.now(UTC))
    cases = ", ".join(
        f"count(*) FILTER (WHERE age BETWEEN {lo} AND {hi if hi is not None else 2**31})"
        f' AS "pos_{key}", COALESCE(SUM(amount_fen) FILTER (WHERE age BETWEEN {lo} AND'
        f' {hi if hi is not None else 2**31}), 0)::bigint AS "fen_{key}"'
        for key, lo, hi in PO_AGES
    )
    found = await _all(
        session,
        f"""SELECT o.supplier_id, s.code AS supplier_code, s.name AS supplier_name,
                   count(*) AS pos, SUM(o.amount_fen)::bigint AS amount_fen, {cases}
            FROM (SELECT supplier_id, amount_fen,
                         :today - ((approved_at AT TIME ZONE 'Asia/Shanghai')::date) AS age
                  FROM report_po_facts
                  WHERE status IN ('approved','sent','receiving')
                    AND (CAST(:supplier AS int) IS NULL OR supplier_id = :supplier)) o
            JOIN suppliers s ON s.id = o.supplier_id
            GROUP BY 1, 2, 3 ORDER BY s.code""",
        today=today,
        supplier=supplier_id,
    )
    rows = [
        {
            "supplier_id": r["supplier_id"],
            "supplier_code": r["supplier_code"],
            "supplier_name": r["supplier_name"],
            "pos": int(r["pos"]),
            "amount_fen": int(r["amount_fen"]),
            "buckets": {
                key: {"pos": int(r[f"pos_{key}"]), "amount_fen": int(r[f"fen_{key}"])}
                for key, _, _ in PO_AGES
            },
        }
        for r in found
    ]
    totals: dict[str, Any] = {
        "as_of": today.isoformat(),
        "pos": sum(r["pos"] for r in rows),
        "amount_fen": sum(r["amount_fen"] for r in rows),
        "buckets": {
            key: {
                "pos": sum(r["buckets"][key]["pos"] for r in rows),
                "amount_fen": sum(r["buckets"][key]["amount_fen"] for r in rows),
            }
            for key, _, _ in PO_AGES
        },
    }
    return Rows(rows=rows, totals=totals)


SUMMARY: Final = ("refunds", "refund_fen", "transfers", "paid_fen", "differences_open",
                  "differences_closed")  # fmt: skip


@router.get("/finance")
async def finance_report(
    session: Session,
    _: Finance,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    by: By = "day",
    supplier_id: IdParam | None = None,
) -> FinanceReport:
    """Refunds by cause (all orders'), supplier payments and payables (of `supplier_id` when
    given) and reconciliation differences, per period."""
    first, last = window(date_from, date_to)
    params: dict[str, Any] = {"first": first, "last": last, "supplier": supplier_id}
    span = "m.day BETWEEN :first AND :last"
    refunds = await _all(
        session,
        f"""SELECT {period_of("m.day", by)} AS period, m.cause, SUM(m.entries)::bigint AS refunds,
                   (-SUM(m.amount_fen))::bigint AS amount_fen
            FROM report_money_days m WHERE {span} AND m.entry_type = 'refund'
            GROUP BY 1, 2 ORDER BY 1, 2""",
        **params,
    )
    paid = (
        "m.entry_type = 'supplier_payment'"
        " AND (CAST(:supplier AS int) IS NULL OR m.supplier_id = :supplier)"
    )
    paid_per_period = await _all(
        session,
        f"""SELECT {period_of("m.day", by)} AS period, SUM(m.entries)::bigint AS transfers,
                   (-SUM(m.amount_fen))::bigint AS amount_fen
            FROM report_money_days m WHERE {span} AND {paid} GROUP BY 1""",
        **params,
    )
    # Per supplier over the whole window (at most one row per supplier, most paid first).
    payments = await _all(
        session,
        f"""SELECT p.*, s.code AS supplier_code, s.name AS supplier_name
            FROM (SELECT m.supplier_id, SUM(m.entries)::bigint AS transfers,
                         (-SUM(m.amount_fen))::bigint AS amount_fen
                  FROM report_money_days m WHERE {span} AND {paid} GROUP BY 1) p
            JOIN suppliers s ON s.id = p.supplier_id
            ORDER BY p.amount_fen DESC, s.code""",
        **params,
    )
    differences = await _all(
        session,
        f"""SELECT {period_of("r.day", by)} AS period, r.kind, r.entry_type,
                   (SUM(r.differences) FILTER (WHERE NOT r.resolved))::bigint AS open,
                   (SUM(r.amount_fen) FILTER (WHERE NOT r.resolved))::bigint AS open_fen,
                   (SUM(r.differences) FILTER (WHERE r.resolved))::bigint AS closed,
                   (SUM(r.amount_fen) FILTER (WHERE r.resolved))::bigint AS closed_fen
            FROM report_reconciliation_days r WHERE r.day BETWEEN :first AND :last
            GROUP BY 1, 2, 3 HAVING SUM(r.differences) > 0 ORDER BY 1, 2, 3""",
        **params,
    )
    for d in differences:
        for k in ("open", "open_fen", "closed", "closed_fen"):
            d[k] = int(d[k] or 0)
    summary: dict[date, dict[str, Any]] = {}

    def period(key: date) -> dict[str, Any]:
        return summary.setdefault(key, {"period": key, **dict.fromkeys(SUMMARY, 0)})

    for r in refunds:
        period(r["period"])["refunds"] += int(r["refunds"])
        period(r["period"])["refund_fen"] += int(r["amount_fen"])
    for p in paid_per_period:
        period(p["period"])["transfers"] += int(p["transfers"])
        period(p["period"])["paid_fen"] += int(p["amount_fen"])
    for d in differences:
        period(d["period"])["differences_open"] += d["open"]
        period(d["period"])["differences_closed"] += d["closed"]
    periods = [summary[k] for k in sorted(summary)]
    totals: dict[str, Any] = {k: sum(p[k] for p in periods) for k in SUMMARY}
    totals["by_cause"] = {
        cause: sum(int(r["amount_fen"]) for r in refunds if r["cause"] == cause)
        for cause in sorted({r["cause"] for r in refunds})
    }
    return FinanceReport(
        date_from=first,
        date_to=last,
        by=by,
        rows=refunds,
        totals=totals,
        periods=periods,
        payments=Rows(
            rows=payments,
            totals={
                "transfers": totals["transfers"],
                "amount_fen": totals["paid_fen"],
            },
        ),
        payables=await _payables(session, supplier_id),
        reconciliation=Rows(
            rows=differences,
            totals={
                k: sum(d[k] for d in differences)
                for k in ("open", "open_fen", "closed", "closed_fen")
            },
        ),
    )


async def _payables(session: AsyncSession, supplier_id: int | None) -> Rows:
    """What is owed to each supplier now, by days past the invoice's due date (as of today;
    not yet due, or not invoiced yet: "not_due"): the unpaid POs, over a partial index."""
    today = business_day(datetime.now(UTC))
    cases = ", ".join(
        f'COALESCE(SUM(owed_fen) FILTER (WHERE {_overdue(lo, hi)}), 0)::bigint AS "{key}"'
        for key, lo, hi in OVERDUE
    )
    found = await _all(
        session,
        f"""SELECT o.supplier_id, s.code AS supplier_code, s.name AS supplier_name,
                   count(*) AS pos, SUM(o.owed_fen)::bigint AS owed_fen, {cases}
            FROM (SELECT supplier_id, owed_fen, :today - due_date AS late
                  FROM report_payables
                  WHERE owed_fen <> 0
                    AND (CAST(:supplier AS int) IS NULL OR supplier_id = :supplier)) o
            JOIN suppliers s ON s.id = o.supplier_id
            GROUP BY 1, 2, 3 ORDER BY s.code""",
        today=today,
        supplier=supplier_id,
    )
    rows = [
        {
            "supplier_id": r["supplier_id"],
            "supplier_code": r["supplier_code"],
            "supplier_name": r["supplier_name"],
            "pos": int(r["pos"]),
            "owed_fen": int(r["owed_fen"]),
            "buckets": {key: int(r[key]) for key, _, _ in OVERDUE},
        }
        for r in found
    ]
    totals: dict[str, Any] = {
        "as_of": today.isoformat(),
        "pos": sum(r["pos"] for r in rows),
        "owed_fen": sum(r["owed_fen"] for r in rows),
        "buckets": {key: sum(r["buckets"][key] for r in rows) for key, _, _ in OVERDUE},
    }
    return Rows(rows=rows, totals=totals)


def _overdue(lo: int | None, hi: int | None) -> str:
    if lo is None:
        return "(late IS NULL OR late <= 0)"
    return f"late >= {lo}" + (f" AND late <= {hi}" if hi is not None else "")
