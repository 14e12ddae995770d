"""The sales report (issue 17, DESIGN §6.11): GMV, discount, paid, refunded, net, cost of goods
and gross margin per business day, week or month, optionally split by one dimension (category,
SKU, storefront, warehouse or 收货省份).

Every answer is an aggregate over the rollups (models/db/sales_rollup.py: `sales_rollup_by`, the
per-day sums per dimension value of the full-grain `sales_rollup`), which the database's triggers
keep current in the transactions that write order lines, money ledger rows and cost ledger
rows — never over orders. Definitions (docs/architecture.md, "Reports"):
GMV = list value of the lines placed; paid = the money ledger's payments; refunded = its refunds
(positive); net = paid − refunded; cost of goods = cost of units shipped − cost of units
returned; margin = net − cost of goods. Days are Asia/Shanghai's; weeks start on Monday."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Final, Literal

from fastapi import Depends, Query, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Principal, Session, require
from api.errors import Problem, invalid
from api.routing import Routes
from api.schemas.common import Public
from api.schemas.types import SkipParam
from models.domain.business_day import business_day

router = Routes(prefix="/v1/reports", tags=["reports"])
Reader = Annotated[Principal, Depends(require("orders.read"))]

DEFAULT_DAYS: Final = 30
MAX_RANGE_DAYS: Final = 1100  # three years of days in one answer
Period = Literal["day", "week", "month"]
Dimension = Literal["none", "category", "sku", "storefront", "warehouse", "province"]

FIGURES: Final = (
    "units_placed",
    "gmv_fen",
    "discount_fen",
    "paid_fen",
    "refunded_fen",
    "units_shipped",
    "units_returned",
    "cogs_fen",
)
PERIOD_SQL: Final = {
    "day": "r.day",
    "week": "date_trunc('week', r.day)::date",
    "month": "date_trunc('month', r.day)::date",
}
# The name a dimension value is shown with (provinces: by the console, in its language).
NAME_SQL: Final = {
    "category": "(SELECT name FROM categories WHERE id = g.key::int)",
    "sku": "(SELECT code || ' ' || name FROM skus WHERE id = g.key::int)",
    "storefront": "(SELECT name FROM api_keys WHERE id = g.key::int)",
    "warehouse": "(SELECT name FROM warehouses WHERE id = g.key::int)",
    "province": "NULL::text",
}


class SalesFigures(Public):
    units_placed: int = 0
    gmv_fen: int = 0  # list value of the lines placed
    discount_fen: int = 0  # their allocated discounts
    paid_fen: int = 0  # money received (the ledger's payments)
    refunded_fen: int = 0  # refunds paid out (the ledger's refunds)
    net_fen: int = 0  # paid − refunded
    units_shipped: int = 0
    units_returned: int = 0
    cogs_fen: int = 0  # cost of units shipped − cost of units returned
    margin_fen: int = 0  # net − cost of goods


class SalesRow(SalesFigures):
    period: date  # the period's first day
    key: str | None = None  # the dimension's value (an id, or a province code like 440000)
    name: str | None = None  # its name (provinces: none, the console names them)


class SalesValue(SalesFigures):
    key: str
    name: str | None = None


class SalesReport(Public):
    date_from: date
    date_to: date
    by: Period
    dimension: Dimension
    rows: list[SalesRow]
    count: int  # rows in all pages
    skip: int
    limit: int
    totals: SalesFigures
    values: list[SalesValue]  # per dimension value over the whole range (largest net first)


def _figures(row: dict[str, object]) -> dict[str, int]:
    out = {f: int(row[f] or 0) for f in FIGURES}  # type: ignore[call-overload]
    out["net_fen"] = out["paid_fen"] - out["refunded_fen"]
    out["margin_fen"] = out["net_fen"] - out["cogs_fen"]
    return out


SUMS: Final = ", ".join(f"SUM(r.{f}) AS {f}" for f in FIGURES)
NET_ORDER: Final = "SUM(r.paid_fen) - SUM(r.refunded_fen)"


def _periods(date_from: date, date_to: date, by: Period) -> list[date]:
    def start(d: date) -> date:
        if by == "week":
            return d - timedelta(days=d.weekday())
        if by == "month":
            return d.replace(day=1)
        return d

    out: list[date] = []
    current = start(date_from)
    while current <= date_to:
        out.append(current)
        if by == "day":
            current += timedelta(days=1)
        elif by == "week":
            current += timedelta(days=7)
        else:
            current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
    return out


async def sales_report(
    session: AsyncSession,
    date_from: date,
    date_to: date,
    by: Period,
    dimension: Dimension,
    skip: int,
    limit: int,
) -> SalesReport:
    """The report over the rollup: totals, rows per period (and dimension value), values."""
    # Totals and periods without a split: over the storefront rows (each sale has exactly one).
    split = "storefront" if dimension == "none" else dimension
    bounds = {"date_from": date_from, "date_to": date_to, "dimension": split}
    where = "r.day BETWEEN :date_from AND :date_to AND r.dimension = :dimension"
    total_bounds = {**bounds, "dimension": "storefront"}
    total_sql = f"SELECT {SUMS} FROM sales_rollup_by r WHERE {where}"  # noqa: S608
    total_row = (await session.execute(text(total_sql), total_bounds)).mappings().one()
    totals = SalesFigures(**_figures(dict(total_row)))
    period = PERIOD_SQL[by]
    if dimension == "none":
        found = {
            m["period"]: m
            for m in (
                await session.execute(
                    text(
                        f"SELECT {period} AS period, {SUMS} FROM sales_rollup_by r WHERE {where}"  # noqa: S608
                        " GROUP BY 1"
                    ),
                    bounds,
                )
            ).mappings()
        }
        every = [
            SalesRow(period=p, **_figures(dict(found[p])) if p in found else {})
            for p in _periods(date_from, date_to, by)
        ]
        return SalesReport(
            date_from=date_from,
            date_to=date_to,
            by=by,
            dimension=dimension,
            rows=every[skip : skip + limit],
            count=len(every),
            skip=skip,
            limit=limit,
            totals=totals,
            values=[],
        )
    key = "r.key"
    source = "sales_rollup_by r"
    grouped = (
        f"SELECT {period} AS period, {key} AS key, {SUMS}, count(*) OVER () AS total_rows"  # noqa: S608
        f" FROM {source} WHERE {where} GROUP BY 1, 2"
        f" ORDER BY 1, {NET_ORDER} DESC, 2 OFFSET :skip LIMIT :limit"
    )
    page = (
        (
            await session.execute(
                text(
                    f"SELECT g.*, {NAME_SQL[dimension]} AS name FROM ({grouped}) g"  # noqa: S608
                    " ORDER BY g.period, g.paid_fen - g.refunded_fen DESC, g.key"
                ),
                {**bounds, "skip": skip, "limit": limit},
            )
        )
        .mappings()
        .all()
    )
    count = int(page[0]["total_rows"]) if page else 0
    if not page and skip:
        count = int(
            await session.scalar(
                text(
                    f"SELECT count(*) FROM (SELECT 1 FROM {source} WHERE {where}"  # noqa: S608
                    " GROUP BY " + f"{period}, {key}) c"
                ),
                bounds,
            )
            or 0
        )
    per_value = (
        f"SELECT {key} AS key, {SUMS} FROM {source} WHERE {where}"  # noqa: S608
        f" GROUP BY 1 ORDER BY {NET_ORDER} DESC, 1 LIMIT :values"
    )
    values = (
        (
            await session.execute(
                text(
                    f"SELECT g.*, {NAME_SQL[dimension]} AS name FROM ({per_value}) g"  # noqa: S608
                    " ORDER BY g.paid_fen - g.refunded_fen DESC, g.key"
                ),
                {**bounds, "values": MAX_VALUES},
            )
        )
        .mappings()
        .all()
    )
    return SalesReport(
        date_from=date_from,
        date_to=date_to,
        by=by,
        dimension=dimension,
        rows=[
            SalesRow(period=m["period"], key=m["key"], name=m["name"], **_figures(dict(m)))
            for m in page
        ],
        count=count,
        skip=skip,
        limit=limit,
        totals=totals,
        values=[SalesValue(key=m["key"], name=m["name"], **_figures(dict(m))) for m in values],
    )


MAX_VALUES: Final = 50  # the chart's bars: the dimension values with the largest net


@router.get("/sales", response_model=SalesReport)
async def get_sales_report(
    session: Session,
    principal: Reader,
    response: Response,
    date_from: Annotated[date | None, Query(description="First business day (inclusive)")] = None,
    date_to: Annotated[date | None, Query(description="Last business day (inclusive)")] = None,
    by: Annotated[Period, Query(description="Period of each row")] = "day",
    dimension: Annotated[Dimension, Query(description="Split each period by")] = "none",
    skip: SkipParam = 0,
    limit: Annotated[int, Query(ge=1, le=500, description="Rows to return")] = 100,
) -> SalesReport:
    started = time.perf_counter()
    if principal.kind != "user":  # a storefront's key reads its own orders, not the company's
        raise Problem(403, "the sales report is for staff", type_="/problems/forbidden")
    today = business_day(datetime.now(UTC))
    last = date_to or today
    first = date_from or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise invalid("date_from", "must not be after date_to", "date_range_reversed")
    if (last - first).days >= MAX_RANGE_DAYS:
        raise invalid(
            "date_from",
            f"the range may span at most {MAX_RANGE_DAYS} days",
            "date_range_too_long",
            days=MAX_RANGE_DAYS,
        )
    report = await sales_report(session, first, last, by, dimension, skip, limit)
    elapsed = (time.perf_counter() - started) * 1000
    response.headers["Server-Timing"] = f"report;dur={elapsed:.1f}"
    return report
