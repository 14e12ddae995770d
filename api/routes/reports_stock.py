"""Stock and warehouse reports (issue 17, DESIGN §6.11): stock value by warehouse or category,
batch aging and expiry horizon, days of cover, dead stock, stock-out days, and the warehouse's
productivity (units picked per hour per worker or device, wave on-time, short-pick and
weight-hold rates) per day, week or month.

Figures are read from the rollups of migration 0053_stock_rollups (and the cost figures of
0040_inventory_cost), kept current by triggers in the transaction of each movement, scan, wave
or package change: no report reads the movement ledger (docs/architecture.md, "Reports").
Business days are Asia/Shanghai's; `date_from`/`date_to` are inclusive (default: the last 30
days). Money is integer fen; rates are percentages with one decimal beside their counts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Final, Literal

from fastapi import Depends, Query
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Principal, Session, forbid_outside, require
from api.errors import invalid
from api.pagination import PageParams, page_params
from api.routing import Routes
from api.schemas.types import IdParam
from models.domain.business_day import business_day

router = Routes(prefix="/v1/reports", tags=["reports"])
StockReader = Annotated[Principal, Depends(require("stock.read"))]
WaveReader = Annotated[Principal, Depends(require("waves.read"))]
Paging = Annotated[PageParams, Depends(page_params)]
Days = Annotated[int, Query(ge=1, le=366, description="the window in days, ending today")]
By = Literal["day", "week", "month"]
Group = Literal["warehouse", "category"]
DEFAULT_DAYS: Final = 30
MAX_RANGE: Final = 3660  # ten years of days in one report
AGE_BUCKETS: Final = ("age_0_30", "age_31_60", "age_61_90", "age_91_180", "age_over_180")
EXPIRY_BUCKETS: Final = (
    "expired",
    "expires_0_30",
    "expires_31_90",
    "expires_91_180",
    "expires_over_180",
    "no_expiry",
)


def today() -> date:
    return business_day(datetime.now(UTC))


EARLIEST: Final = date(1970, 1, 1)
LATEST: Final = date(2999, 12, 31)


def _period(date_from: date | None, date_to: date | None) -> tuple[date, date]:
    for name, given in (("date_from", date_from), ("date_to", date_to)):
        if given is not None and not EARLIEST <= given <= LATEST:
            raise invalid(
                name,
                f"a date between {EARLIEST} and {LATEST}",
                "date_out_of_range",
                earliest=EARLIEST.isoformat(),
                latest=LATEST.isoformat(),
            )
    last = date_to or today()
    first = date_from or max(EARLIEST, last - timedelta(days=DEFAULT_DAYS - 1))
    if first > last:
        raise invalid("date_from", "after date_to", "date_range_reversed")
    if (last - first).days >= MAX_RANGE:
        raise invalid("date_from", "at most ten years in one report", "date_range_over_ten_years")
    return first, last


def _warehouses(
    who: Principal, warehouse_id: int | None, column: str
) -> tuple[str, dict[str, Any]]:
    """The SQL condition limiting rows to the asked warehouse (403 outside the person's scope)
    or to the person's warehouses."""
    if warehouse_id is not None:
        forbid_outside(who, warehouse_id)
        return f" AND {column} = :warehouse_id", {"warehouse_id": warehouse_id}
    scope = who.warehouse_scope
    if scope is None:
        return "", {}
    return f" AND {column} = ANY(:scope)", {"scope": sorted(scope)}


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


async def _rows(session: AsyncSession, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(r) for r in (await session.execute(text(sql), params)).mappings()]


# --- stock value ----------------------------------------------------------------------------

_GROUP_KEY: Final = {
    "warehouse": ("w.id", "w.name", "JOIN warehouses w ON w.id = c.warehouse_id"),
    "category": ("g.id", "g.name", "JOIN categories g ON g.id = p.category_id"),
}


@router.get("/stock/value")
async def stock_value(
    session: Session,
    who: StockReader,
    group: Group = "warehouse",
    warehouse_id: IdParam | None = None,
    category_id: IdParam | None = None,
) -> dict[str, Any]:
    """Stock value (Σ on hand × moving average cost, from stock_costs) per warehouse or per
    category: units on hand, value in fen, SKU-warehouse rows holding stock."""
    where, params = _warehouses(who, warehouse_id, "c.warehouse_id")
    if category_id is not None:
        where += " AND p.category_id = :category_id"
        params["category_id"] = category_id
    key, name, join = _GROUP_KEY[group]
    rows = await _rows(
        session,
        f"SELECT {key} AS id, {name} AS name, SUM(c.units)::bigint AS on_hand,"  # noqa: S608
        " SUM(c.value_fen)::bigint AS value_fen, COUNT(*) FILTER (WHERE c.units > 0) AS skus"
        " FROM stock_costs c JOIN skus s ON s.id = c.sku_id JOIN spus p ON p.id = s.spu_id"
        f" {join} WHERE c.units > 0{where} GROUP BY 1, 2 ORDER BY value_fen DESC, 1",
        params,
    )
    totals = {
        "on_hand": sum(r["on_hand"] for r in rows),
        "value_fen": sum(r["value_fen"] for r in rows),
        "skus": sum(r["skus"] for r in rows),
    }
    return {"group": group, "rows": rows, "totals": totals}


# --- batch aging and expiry horizon ---------------------------------------------------------


@router.get("/stock/aging")
async def stock_aging(
    session: Session,
    who: StockReader,
    group: Group = "warehouse",
    warehouse_id: IdParam | None = None,
    category_id: IdParam | None = None,
) -> dict[str, Any]:
    """Units on hand today by age since receipt (days: 0–30, 31–60, 61–90, 91–180, over 180)
    and by days to expiry (expired, 0–30, 31–90, 91–180, over 180, no expiry date), per
    warehouse or category, from the batches at locations."""
    where, params = _warehouses(who, warehouse_id, "b.warehouse_id")
    if category_id is not None:
        where += " AND p.category_id = :category_id"
        params["category_id"] = category_id
    key, name, join = _GROUP_KEY[group]
    join = join.replace("c.warehouse_id", "b.warehouse_id")
    params["today"] = today()
    age = "(:today - report_business_day(b.received_at))"
    left = "(b.expiry_date - :today)"
    rows = await _rows(
        session,
        f"SELECT {key} AS id, {name} AS name, SUM(b.quantity)::bigint AS on_hand,"  # noqa: S608
        f" COALESCE(SUM(b.quantity) FILTER (WHERE {age} <= 30), 0)::bigint AS age_0_30,"
        f" COALESCE(SUM(b.quantity) FILTER (WHERE {age} BETWEEN 31 AND 60), 0)::bigint"
        " AS age_31_60,"
        f" COALESCE(SUM(b.quantity) FILTER (WHERE {age} BETWEEN 61 AND 90), 0)::bigint"
        " AS age_61_90,"
        f" COALESCE(SUM(b.quantity) FILTER (WHERE {age} BETWEEN 91 AND 180), 0)::bigint"
        " AS age_91_180,"
        f" COALESCE(SUM(b.quantity) FILTER (WHERE {age} > 180), 0)::bigint AS age_over_180,"
        f" COALESCE(SUM(b.quantity) FILTER (WHERE {left} < 0), 0)::bigint AS expired,"
        f" COALESCE(SUM(b.quantity) FILTER (WHERE {left} BETWEEN 0 AND 30), 0)::bigint"
        " AS expires_0_30,"
        f" COALESCE(SUM(b.quantity) FILTER (WHERE {left} BETWEEN 31 AND 90), 0)::bigint"
        " AS expires_31_90,"
        f" COALESCE(SUM(b.quantity) FILTER (WHERE {left} BETWEEN 91 AND 180), 0)::bigint"
        " AS expires_91_180,"
        f" COALESCE(SUM(b.quantity) FILTER (WHERE {left} > 180), 0)::bigint AS expires_over_180,"
        " COALESCE(SUM(b.quantity) FILTER (WHERE b.expiry_date IS NULL), 0)::bigint"
        " AS no_expiry"
        " FROM location_stocks b JOIN skus s ON s.id = b.sku_id JOIN spus p ON p.id = s.spu_id"
        f" {join} WHERE b.quantity > 0{where} GROUP BY 1, 2 ORDER BY 1",
        params,
    )
    figures = ("on_hand", *AGE_BUCKETS, *EXPIRY_BUCKETS)
    totals = {k: sum(r[k] for r in rows) for k in figures}
    return {"group": group, "as_of": params["today"].isoformat(), "rows": rows, "totals": totals}


# --- days of cover ---------------------------------------------------------------------------

COVER_SORTS: Final = {
    "days_of_cover": "days_of_cover ASC NULLS LAST, sku_id, warehouse_id",
    "-on_hand": "on_hand DESC, sku_id, warehouse_id",
    "-units_out": "units_out DESC, sku_id, warehouse_id",
    "sku_id": "sku_id, warehouse_id",
}


@router.get("/stock/cover")
async def stock_cover(
    session: Session,
    who: StockReader,
    paging: Paging,
    days: Days = DEFAULT_DAYS,
    warehouse_id: IdParam | None = None,
    sku_id: IdParam | None = None,
    sort: Literal["days_of_cover", "-on_hand", "-units_out", "sku_id"] = "days_of_cover",
) -> dict[str, Any]:
    """Days of cover per SKU and warehouse: on hand ÷ the average units shipped a day over the
    last `days` days (today included), from stock_daily_out. No shipment: no cover figure
    (null). Rows with nothing on hand and nothing shipped are left out."""
    where, params = _warehouses(who, warehouse_id, "s.warehouse_id")
    if sku_id is not None:
        where += " AND s.sku_id = :sku_id"
        params["sku_id"] = sku_id
    last = today()
    params |= {"first": last - timedelta(days=days - 1), "last": last, "days": days}
    base = (
        "WITH o AS (SELECT sku_id, warehouse_id, SUM(units)::bigint AS units"  # noqa: S608
        " FROM stock_daily_out WHERE day BETWEEN :first AND :last GROUP BY 1, 2),"
        " r AS (SELECT s.sku_id, s.warehouse_id, s.on_hand, COALESCE(o.units, 0) AS units_out,"
        " CASE WHEN o.units > 0 THEN round(s.on_hand::numeric * :days / o.units, 1) END"
        " AS days_of_cover"
        " FROM stocks s LEFT JOIN o USING (sku_id, warehouse_id)"
        f" WHERE (s.on_hand > 0 OR o.units > 0){where})"
    )
    totals = (
        await session.execute(
            text(
                f"{base} SELECT COUNT(*) AS count, COALESCE(SUM(on_hand), 0)::bigint AS on_hand,"  # noqa: S608
                " COALESCE(SUM(units_out), 0)::bigint AS units_out FROM r"
            ),
            params,
        )
    ).one()
    rows = await _rows(
        session,
        f"{base} SELECT r.*, k.code AS sku_code, k.name AS sku_name FROM r"  # noqa: S608
        f" JOIN skus k ON k.id = r.sku_id ORDER BY {COVER_SORTS[sort]}"
        " LIMIT :limit OFFSET :skip",
        {**params, "limit": paging.limit, "skip": paging.skip},
    )
    for row in rows:
        row["avg_daily_units"] = round(row["units_out"] / days, 2)
        cover = row["days_of_cover"]
        row["days_of_cover"] = float(cover) if cover is not None else None
    return {
        "days": days,
        "rows": rows,
        "count": totals.count,
        "totals": {"on_hand": totals.on_hand, "units_out": totals.units_out},
    }


# --- dead stock ------------------------------------------------------------------------------


@router.get("/stock/dead")
async def dead_stock(
    session: Session,
    who: StockReader,
    paging: Paging,
    days: Days = 90,
    warehouse_id: IdParam | None = None,
) -> dict[str, Any]:
    """SKUs on hand in a warehouse that shipped nothing in the last `days` days (today
    included), from stock_activity's last shipment day: units, value (fen), the last day
    shipped (null: never), most value first."""
    where, params = _warehouses(who, warehouse_id, "s.warehouse_id")
    params["since"] = today() - timedelta(days=days - 1)
    base = (
        "WITH r AS (SELECT s.sku_id, s.warehouse_id, s.on_hand,"  # noqa: S608
        " COALESCE(c.value_fen, 0)::bigint AS value_fen, a.last_out_on"
        " FROM stocks s LEFT JOIN stock_activity a USING (sku_id, warehouse_id)"
        " LEFT JOIN stock_costs c USING (sku_id, warehouse_id)"
        " WHERE s.on_hand > 0 AND (a.last_out_on IS NULL OR a.last_out_on < :since)"
        f"{where})"
    )
    totals = (
        await session.execute(
            text(
                f"{base} SELECT COUNT(*) AS count, COALESCE(SUM(on_hand), 0)::bigint AS on_hand,"  # noqa: S608
                " COALESCE(SUM(value_fen), 0)::bigint AS value_fen FROM r"
            ),
            params,
        )
    ).one()
    rows = await _rows(
        session,
        f"{base} SELECT r.*, k.code AS sku_code, k.name AS sku_name FROM r"  # noqa: S608
        " JOIN skus k ON k.id = r.sku_id"
        " ORDER BY value_fen DESC, on_hand DESC, sku_id, warehouse_id LIMIT :limit OFFSET :skip",
        {**params, "limit": paging.limit, "skip": paging.skip},
    )
    for row in rows:
        last = row["last_out_on"]
        row["last_out_on"] = last.isoformat() if last else None
    return {
        "days": days,
        "rows": rows,
        "count": totals.count,
        "totals": {"on_hand": totals.on_hand, "value_fen": totals.value_fen},
    }


# --- stock-out days --------------------------------------------------------------------------


@router.get("/stock/stockouts")
async def stock_outs(
    session: Session,
    who: StockReader,
    paging: Paging,
    date_from: date | None = None,
    date_to: date | None = None,
    warehouse_id: IdParam | None = None,
    sku_id: IdParam | None = None,
) -> dict[str, Any]:
    """Days in the period on which a SKU had 0 sellable (on hand − reserved − safety hold) in
    a warehouse at some moment, per SKU and warehouse, most days first: closed spells from
    stock_out_days, the open one (still out) from stock_activity up to today."""
    first, last = _period(date_from, date_to)
    where_c, params = _warehouses(who, warehouse_id, "c.warehouse_id")
    where_o = where_c.replace("c.warehouse_id", "o.warehouse_id")
    if sku_id is not None:
        where_c += " AND c.sku_id = :sku_id"
        where_o += " AND o.sku_id = :sku_id"
        params["sku_id"] = sku_id
    params |= {"first": first, "last": min(last, today()), "to": last}
    base = (
        "WITH o AS (SELECT sku_id, warehouse_id, report_business_day(zero_since) AS start"  # noqa: S608
        f" FROM stock_activity o WHERE zero_since IS NOT NULL{where_o}),"
        " n AS (SELECT c.sku_id, c.warehouse_id, COUNT(*) AS days FROM stock_out_days c"
        " LEFT JOIN o USING (sku_id, warehouse_id)"
        " WHERE c.day BETWEEN :first AND :to AND (o.start IS NULL OR c.day < o.start)"
        f"{where_c} GROUP BY 1, 2"
        " UNION ALL SELECT sku_id, warehouse_id,"
        " GREATEST(0, LEAST(CAST(:last AS date), CAST(:to AS date))"
        " - GREATEST(CAST(:first AS date), start) + 1) FROM o),"
        " r AS (SELECT sku_id, warehouse_id, SUM(days)::int AS stockout_days FROM n"
        " GROUP BY 1, 2 HAVING SUM(days) > 0)"
    )
    totals = (
        await session.execute(
            text(
                f"{base} SELECT COUNT(*) AS count,"  # noqa: S608
                " COALESCE(SUM(stockout_days), 0)::bigint AS days FROM r"
            ),
            params,
        )
    ).one()
    rows = await _rows(
        session,
        f"{base} SELECT r.*, k.code AS sku_code, k.name AS sku_name,"  # noqa: S608
        " (a.zero_since IS NOT NULL) AS out_now FROM r JOIN skus k ON k.id = r.sku_id"
        " LEFT JOIN stock_activity a USING (sku_id, warehouse_id)"
        " ORDER BY stockout_days DESC, sku_id, warehouse_id LIMIT :limit OFFSET :skip",
        {**params, "limit": paging.limit, "skip": paging.skip},
    )
    return {
        "date_from": first.isoformat(),
        "date_to": last.isoformat(),
        "rows": rows,
        "count": totals.count,
        "totals": {"skus": totals.count, "stockout_days": totals.days},
    }


# --- the warehouse ---------------------------------------------------------------------------


def _bucket(by: By, column: str) -> str:
    return column if by == "day" else f"date_trunc('{by}', {column})::date"


@router.get("/warehouse")
async def warehouse_report(
    session: Session,
    who: WaveReader,
    date_from: date | None = None,
    date_to: date | None = None,
    by: By = "day",
    warehouse_id: IdParam | None = None,
) -> dict[str, Any]:
    """Per period (day, ISO week from Monday, or month) and warehouse: waves finished and on
    time (by their cutoff), pick lines finished and short, packages weighed and held at the
    scale, units picked by scans and the device-hours they took (units per hour), from
    warehouse_daily and pick_hourly."""
    first, last = _period(date_from, date_to)
    where_d, params = _warehouses(who, warehouse_id, "warehouse_id")
    params |= {"first": first, "last": last}
    days = await _rows(
        session,
        f"SELECT {_bucket(by, 'day')} AS period, warehouse_id,"  # noqa: S608
        " SUM(waves_done)::int AS waves_done, SUM(waves_on_time)::int AS waves_on_time,"
        " SUM(stops_done)::int AS lines_picked, SUM(stops_short)::int AS lines_short,"
        " SUM(units_short)::int AS units_short,"
        " SUM(packages_weighed)::int AS packages_weighed,"
        " SUM(packages_held)::int AS packages_held"
        f" FROM warehouse_daily WHERE day BETWEEN :first AND :last{where_d} GROUP BY 1, 2",
        params,
    )
    hours = await _rows(
        session,
        f"SELECT {_bucket(by, 'report_business_day(hour_at)')} AS period, warehouse_id,"  # noqa: S608
        " SUM(units)::int AS units_picked, COUNT(*)::int AS device_hours FROM pick_hourly"
        " WHERE hour_at >= :start AND hour_at < :end"
        f"{where_d} GROUP BY 1, 2",
        {**params, **_instants(first, last)},
    )
    merged: dict[tuple[date, int], dict[str, Any]] = {}
    zero = dict.fromkeys(WAREHOUSE_FIGURES, 0)
    for row in (*days, *hours):
        key = (row["period"], row["warehouse_id"])
        merged.setdefault(key, {"period": key[0], "warehouse_id": key[1], **zero}).update(
            {k: v for k, v in row.items() if k in WAREHOUSE_FIGURES}
        )
    rows = [_rates(merged[k]) for k in sorted(merged)]
    totals = _rates({k: sum(r[k] for r in rows) for k in WAREHOUSE_FIGURES})
    for row in rows:
        row["period"] = row["period"].isoformat()
    return {
        "date_from": first.isoformat(),
        "date_to": last.isoformat(),
        "by": by,
        "rows": rows,
        "totals": totals,
    }


WAREHOUSE_FIGURES: Final = (
    "waves_done",
    "waves_on_time",
    "lines_picked",
    "lines_short",
    "units_short",
    "packages_weighed",
    "packages_held",
    "units_picked",
    "device_hours",
)


def _rates(row: dict[str, Any]) -> dict[str, Any]:
    row["on_time_pct"] = _pct(row["waves_on_time"], row["waves_done"])
    row["short_pick_pct"] = _pct(row["lines_short"], row["lines_picked"])
    row["weight_hold_pct"] = _pct(row["packages_held"], row["packages_weighed"])
    hours = row["device_hours"]
    row["units_per_hour"] = round(row["units_picked"] / hours, 1) if hours else None
    return row


def _instants(first: date, last: date) -> dict[str, datetime]:
    """The UTC instants bounding business days first..last (Asia/Shanghai, +08:00)."""
    start = datetime(first.year, first.month, first.day, tzinfo=UTC) - timedelta(hours=8)
    return {"start": start, "end": start + timedelta(days=(last - first).days + 1)}


@router.get("/warehouse/pickers")
async def pickers(
    session: Session,
    who: WaveReader,
    date_from: date | None = None,
    date_to: date | None = None,
    by: By = "day",
    dimension: Literal["worker", "device"] = "worker",
    warehouse_id: IdParam | None = None,
) -> dict[str, Any]:
    """Units picked per hour per worker (signed in on a device by badge; '' for none) or per
    device, per period and warehouse: units scanned as picked ÷ the clock hours in which they
    scanned any (pick_hourly)."""
    first, last = _period(date_from, date_to)
    where, params = _warehouses(who, warehouse_id, "warehouse_id")
    params |= _instants(first, last)
    rows = await _rows(
        session,
        f"SELECT {_bucket(by, 'report_business_day(hour_at)')} AS period, warehouse_id,"  # noqa: S608
        f" {dimension} AS who, SUM(units)::int AS units_picked,"
        " COUNT(DISTINCT hour_at)::int AS hours, SUM(scans)::int AS scans FROM pick_hourly"
        f" WHERE hour_at >= :start AND hour_at < :end{where} GROUP BY 1, 2, 3"
        " ORDER BY 1, 2, 4 DESC, 3",
        params,
    )
    for row in rows:
        row["period"] = row["period"].isoformat()
        row["units_per_hour"] = round(row["units_picked"] / row["hours"], 1)
    units = sum(r["units_picked"] for r in rows)
    hours = sum(r["hours"] for r in rows)
    return {
        "date_from": first.isoformat(),
        "date_to": last.isoformat(),
        "by": by,
        "dimension": dimension,
        "rows": rows,
        "totals": {
            "units_picked": units,
            "hours": hours,
            "units_per_hour": round(units / hours, 1) if hours else None,
        },
    }
