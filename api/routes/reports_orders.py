"""The orders and after-sales reports (issue 17, DESIGN §6.11; docs/architecture.md "Reports").

Every figure is read from the day rollups the order timeline's trigger keeps (models/db/
reports_orders.py): a report reads a few rows per day and dimension, never the orders. Days are
business days (Asia/Shanghai); `date_from`/`date_to` are inclusive, by default the last 30 days.
Durations are percentiles read from fixed buckets (models/domain/report_buckets.py): the upper
bound of the bucket that holds them, in seconds."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Final, Literal

from fastapi import Depends
from sqlalchemy import Date, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Principal, Session, in_scope, require
from api.errors import Problem, invalid
from api.routing import Routes
from api.schemas.common import Public
from api.schemas.types import IdParam, SkipParam, TextParam
from models.db import (
    AfterSaleDecisionDay,
    AfterSaleReasonDay,
    AfterSaleSkuDay,
    ApiKey,
    HandoverTimeDay,
    OrderCancelDay,
    OrderFunnelDay,
    Sku,
    SkuSoldDay,
    Warehouse,
)
from models.domain.business_day import business_day
from models.domain.cancel_kinds import CANCEL_KINDS
from models.domain.report_buckets import merge, percentile_s

router = Routes(prefix="/v1/reports", tags=["reports"])

OrdersReader = Annotated[Principal, Depends(require("orders.read"))]
AfterSalesReader = Annotated[Principal, Depends(require("aftersales.read"))]
Period = Literal["day", "week", "month"]
DEFAULT_DAYS: Final = 30
MAX_DAYS: Final = 3_660  # ten years of days
MAX_LIMIT: Final = 500
RESOLUTION: Final = (
    "quarter-octave buckets of minutes: bucket i holds [2^(i/4)-1, 2^((i+1)/4)-1) minutes; "
    "a percentile is the upper bound of its bucket, rounded up to a second (never below the "
    "true value; 1 + minutes at most 19% above it)"
)


class FunnelRow(Public):
    period: date
    api_key_id: int
    storefront: str
    placed: int
    paid: int
    handed_over: int
    completed: int
    cancelled: int


class FunnelTotals(Public):
    placed: int = 0
    paid: int = 0
    handed_over: int = 0
    completed: int = 0
    cancelled: int = 0


class CancelRow(Public):
    kind: str
    orders: int


class HandoverRow(Public):
    period: date
    warehouse_id: int
    warehouse: str
    packages: int
    p50_s: int | None
    p90_s: int | None


class HandoverTotals(Public):
    packages: int
    p50_s: int | None
    p90_s: int | None


class OrdersReport(Public):
    date_from: date
    date_to: date
    by: Period
    rows: list[FunnelRow]
    totals: FunnelTotals
    cancellations: list[CancelRow]
    handover: list[HandoverRow]
    handover_totals: HandoverTotals
    resolution: str = RESOLUTION


class SkuRow(Public):
    sku_id: int
    sku_code: str
    sku_name: str
    sold_units: int
    after_sale_units: int
    requests: int
    rate: float  # after-sale units / units sold in the period (0 when none sold)
    refunded_fen: int


class ReasonRow(Public):
    reason: str
    requests: int
    after_sale_units: int
    rate: float  # the reason's after-sale units / all units sold in the period
    refunds: int
    refunded_fen: int
    decided: int
    within_sla: int
    p50_s: int | None
    p90_s: int | None


class AfterSalesTotals(Public):
    sold_units: int
    after_sale_units: int
    requests: int
    rate: float
    refunds: int
    refunded_fen: int
    decided: int
    within_sla: int
    p50_s: int | None
    p90_s: int | None


class AfterSalesReport(Public):
    date_from: date
    date_to: date
    rows: list[SkuRow]
    count: int
    totals: AfterSalesTotals
    reasons: list[ReasonRow]
    resolution: str = RESOLUTION


def _staff_only(who: Principal) -> None:
    if who.kind != "user":
        raise Problem(403, "reports are for staff", type_="/problems/forbidden")


def _window(date_from: date | None, date_to: date | None) -> tuple[date, date]:
    last = date_to or business_day(datetime.now(UTC))
    earliest = date.fromordinal(max(1, last.toordinal() - (DEFAULT_DAYS - 1)))
    first = date_from or earliest
    if first > last:
        raise invalid("date_from", "is after date_to", "date_range_reversed")
    if (last - first).days >= MAX_DAYS:
        raise invalid(
            "date_from", f"at most {MAX_DAYS} days at once", "date_range_too_long", days=MAX_DAYS
        )
    return first, last


def _period(column: Any, by: Period) -> Any:
    return column if by == "day" else cast(func.date_trunc(by, column), Date)


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


@router.get("/orders")
async def orders_report(
    session: Session,
    who: OrdersReader,
    date_from: date | None = None,
    date_to: date | None = None,
    by: Period = "day",
    api_key_id: IdParam | None = None,
    warehouse_id: IdParam | None = None,
) -> OrdersReport:
    """The funnel placed → paid → handed over → completed (and cancelled) per period and
    storefront, counted on the day each step happened; cancellations by kind; per period and
    warehouse the time from payment to handover (the package on a manifest handed to the
    carrier), p50 and p90."""
    _staff_only(who)
    first, last = _window(date_from, date_to)
    return OrdersReport(
        date_from=first,
        date_to=last,
        by=by,
        **await _funnel(session, first, last, by, api_key_id),
        **await _handover(session, who, first, last, by, warehouse_id),
    )


async def _funnel(
    session: AsyncSession, first: date, last: date, by: Period, api_key_id: int | None
) -> dict[str, Any]:
    f = OrderFunnelDay
    period = _period(f.day, by).label("period")
    counts = [func.sum(getattr(f, c)).label(c) for c in FunnelTotals.model_fields]
    query = select(period, f.api_key_id, ApiKey.name, *counts).join(
        ApiKey, ApiKey.id == f.api_key_id
    )
    query = query.where(f.day.between(first, last))
    if api_key_id is not None:
        query = query.where(f.api_key_id == api_key_id)
    query = query.group_by(period, f.api_key_id, ApiKey.name).order_by(period, f.api_key_id)
    rows = [
        FunnelRow(
            period=r.period,
            api_key_id=r.api_key_id,
            storefront=r.name,
            **{c: int(getattr(r, c)) for c in FunnelTotals.model_fields},
        )
        for r in (await session.execute(query)).all()
    ]
    totals = FunnelTotals(
        **{c: sum(getattr(r, c) for r in rows) for c in FunnelTotals.model_fields}
    )
    c = OrderCancelDay
    cancels = select(c.kind, func.sum(c.orders)).where(c.day.between(first, last))
    if api_key_id is not None:
        cancels = cancels.where(c.api_key_id == api_key_id)
    by_kind = {k: int(n) for k, n in (await session.execute(cancels.group_by(c.kind))).all()}
    order: dict[str, int] = {k: i for i, k in enumerate(CANCEL_KINDS)}
    cancellations = [
        CancelRow(kind=k, orders=n)
        for k, n in sorted(by_kind.items(), key=lambda kv: (order.get(kv[0], 99), kv[0]))
    ]
    return {"rows": rows, "totals": totals, "cancellations": cancellations}


async def _handover(
    session: AsyncSession,
    who: Principal,
    first: date,
    last: date,
    by: Period,
    warehouse_id: int | None,
) -> dict[str, Any]:
    h = HandoverTimeDay
    period = _period(h.day, by).label("period")
    per_bucket = in_scope(
        who,
        select(period, h.warehouse_id, h.bucket, func.sum(h.packages).label("n")).where(
            h.day.between(first, last)
        ),
        h.warehouse_id,
        warehouse_id,
    )
    b = per_bucket.group_by(period, h.warehouse_id, h.bucket).subquery()
    # One row per period and warehouse with its histogram as two arrays (few rows to read).
    query = (
        select(b.c.period, b.c.warehouse_id, Warehouse.name,
               func.array_agg(b.c.bucket), func.array_agg(b.c.n))
        .join(Warehouse, Warehouse.id == b.c.warehouse_id)
        .group_by(b.c.period, b.c.warehouse_id, Warehouse.name)
    )  # fmt: skip
    cells: dict[tuple[date, int, str], dict[int, int]] = {}
    overall: dict[int, int] = {}
    for p, wh, name, buckets, counts in (await session.execute(query)).all():
        cell = cells.setdefault((p, wh, name), {})
        for bucket, n in zip(buckets, counts, strict=True):
            cell[bucket] = cell.get(bucket, 0) + int(n)
            overall[bucket] = overall.get(bucket, 0) + int(n)
    handover = [
        HandoverRow(
            period=p,
            warehouse_id=wh,
            warehouse=name,
            packages=sum(counts.values()),
            p50_s=percentile_s(counts, 0.5),
            p90_s=percentile_s(counts, 0.9),
        )
        for (p, wh, name), counts in sorted(cells.items(), key=lambda kv: kv[0][:2])
    ]
    totals = HandoverTotals(
        packages=sum(overall.values()),
        p50_s=percentile_s(overall, 0.5),
        p90_s=percentile_s(overall, 0.9),
    )
    return {"handover": handover, "handover_totals": totals}


SkuSort = Literal["-after_sale_units", "-rate", "-refunded_fen", "sku_id"]


@router.get("/after-sales")
async def after_sales_report(
    session: Session,
    who: AfterSalesReader,
    date_from: date | None = None,
    date_to: date | None = None,
    sku_id: IdParam | None = None,
    reason: TextParam | None = None,
    sort: SkuSort = "-after_sale_units",
    skip: SkipParam = 0,
    limit: IdParam = 50,
) -> AfterSalesReport:
    """After-sales in the period: per SKU (those with an after-sale or a refund) the units
    asked back against the units sold (paid) in the period, requests and refunded fen; per
    reason the same with the decisions: how many were decided within the SLA and the time from
    request to decision (p50, p90). Requests count on their request day, refunds on their
    refund day, decisions on their decision day."""
    _staff_only(who)
    first, last = _window(date_from, date_to)
    limit = min(limit, MAX_LIMIT)
    s = AfterSaleSkuDay
    per_sku = select(
        s.sku_id,
        func.sum(s.requests).label("requests"),
        func.sum(s.units).label("units"),
        func.sum(s.refunded_fen).label("fen"),
    ).where(s.day.between(first, last))
    if sku_id is not None:
        per_sku = per_sku.where(s.sku_id == sku_id)
    if reason:
        per_sku = per_sku.where(s.reason == reason)
    a = per_sku.group_by(s.sku_id).subquery()
    sold_q = (
        select(SkuSoldDay.sku_id, func.sum(SkuSoldDay.units).label("sold"))
        .where(SkuSoldDay.day.between(first, last), SkuSoldDay.sku_id.in_(select(a.c.sku_id)))
        .group_by(SkuSoldDay.sku_id)
        .subquery()
    )
    sold = func.coalesce(sold_q.c.sold, 0)
    rate = a.c.units * 1.0 / func.nullif(sold, 0)
    order = {
        "-after_sale_units": (a.c.units.desc(), a.c.sku_id),
        "-rate": (func.coalesce(rate, 0).desc(), a.c.sku_id),
        "-refunded_fen": (a.c.fen.desc(), a.c.sku_id),
        "sku_id": (a.c.sku_id,),
    }[sort]
    query = (
        select(a, sold.label("sold"), Sku.code, Sku.name)
        .join(Sku, Sku.id == a.c.sku_id)
        .outerjoin(sold_q, sold_q.c.sku_id == a.c.sku_id)
    )
    count = int(await session.scalar(select(func.count()).select_from(a)) or 0)
    rows = [
        SkuRow(
            sku_id=r.sku_id,
            sku_code=r.code,
            sku_name=r.name,
            sold_units=int(r.sold),
            after_sale_units=int(r.units),
            requests=int(r.requests),
            rate=_rate(int(r.units), int(r.sold)),
            refunded_fen=int(r.fen),
        )
        for r in (await session.execute(query.order_by(*order).offset(skip).limit(limit))).all()
    ]
    # Every SKU's units sold: the funnel's paid units (a few rows per day), one SKU's its own.
    sold_all = (
        select(func.coalesce(func.sum(SkuSoldDay.units), 0)).where(
            SkuSoldDay.day.between(first, last), SkuSoldDay.sku_id == sku_id
        )
        if sku_id is not None
        else select(func.coalesce(func.sum(OrderFunnelDay.paid_units), 0)).where(
            OrderFunnelDay.day.between(first, last)
        )
    )
    sold_units = int(await session.scalar(sold_all) or 0)
    reasons = await _reasons(session, first, last, sku_id, reason, sold_units)
    everything = merge((b, n) for r in reasons for b, n in r.pop("_buckets").items())
    reason_rows = [ReasonRow(**r) for r in reasons]
    units = sum(r.after_sale_units for r in reason_rows)
    totals = AfterSalesTotals(
        sold_units=sold_units,
        after_sale_units=units,
        requests=sum(r.requests for r in reason_rows),
        rate=_rate(units, sold_units),
        refunds=sum(r.refunds for r in reason_rows),
        refunded_fen=sum(r.refunded_fen for r in reason_rows),
        decided=sum(r.decided for r in reason_rows),
        within_sla=sum(r.within_sla for r in reason_rows),
        p50_s=percentile_s(everything, 0.5),
        p90_s=percentile_s(everything, 0.9),
    )
    return AfterSalesReport(
        date_from=first, date_to=last, rows=rows, count=count, totals=totals, reasons=reason_rows
    )


async def _reasons(
    session: AsyncSession,
    first: date,
    last: date,
    sku_id: int | None,
    reason: str | None,
    sold_units: int,
) -> list[dict[str, Any]]:
    """Per reason: requests, units, refunds and decisions (with their buckets). Filtered to a
    SKU, requests, units and refunded fen are those naming it (refunds counted per request)."""
    out: dict[str, dict[str, Any]] = {}

    def row(key: str) -> dict[str, Any]:
        return out.setdefault(
            key,
            {"reason": key, "requests": 0, "after_sale_units": 0, "refunds": 0,
             "refunded_fen": 0, "decided": 0, "within_sla": 0, "_buckets": {}},
        )  # fmt: skip

    s, r, d = AfterSaleSkuDay, AfterSaleReasonDay, AfterSaleDecisionDay
    units = select(s.reason, func.sum(s.units), func.sum(s.requests), func.sum(s.refunded_fen))
    units = units.where(s.day.between(first, last))
    if sku_id is not None:
        units = units.where(s.sku_id == sku_id)
    if reason:
        units = units.where(s.reason == reason)
    for key, n, requests, fen in (await session.execute(units.group_by(s.reason))).all():
        row(key)["after_sale_units"] = int(n)
        if sku_id is not None:
            row(key)["requests"], row(key)["refunded_fen"] = int(requests), int(fen)
    if sku_id is None:
        money = select(
            r.reason, func.sum(r.requests), func.sum(r.refunds), func.sum(r.refunded_fen)
        )
        money = money.where(r.day.between(first, last))
        if reason:
            money = money.where(r.reason == reason)
        for key, requests, refunds, fen in (await session.execute(money.group_by(r.reason))).all():
            row(key).update(requests=int(requests), refunds=int(refunds), refunded_fen=int(fen))
        decisions = select(d.reason, d.bucket, func.sum(d.decided), func.sum(d.within_sla))
        decisions = decisions.where(d.day.between(first, last))
        if reason:
            decisions = decisions.where(d.reason == reason)
        query = decisions.group_by(d.reason, d.bucket)
        for key, bucket, decided, within in (await session.execute(query)).all():
            item = row(key)
            item["decided"] += int(decided)
            item["within_sla"] += int(within)
            item["_buckets"][bucket] = item["_buckets"].get(bucket, 0) + int(decided)
    for item in out.values():
        item["rate"] = _rate(item["after_sale_units"], sold_units)
        item["p50_s"] = percentile_s(item["_buckets"], 0.5)
        item["p90_s"] = percentile_s(item["_buckets"], 0.9)
    return sorted(out.values(), key=lambda i: (-i["requests"], i["reason"]))
