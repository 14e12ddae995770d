"""Stock and warehouse reports (mirror GET /v1/reports/stock/* and /v1/reports/warehouse*):
stock value, batch aging and expiry, days of cover, dead stock, stock-out days, the warehouse's
rates and units picked per hour. Each page: its filters (a GET form), a chart (drawn by
static/js/dashboard.js), totals, the table, and the CSV/XLSX export of exactly the rows the
table shows (every page of them for the paged reports)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.client import ApiClient, Json, NotFound
from console.i18n import Translator
from console.lists import (
    PAGE_SIZE,
    Check,
    Filters,
    an_id,
    export,
    fragment_url,
    one_of,
    page_number,
    warehouse_names,
)
from console.money import format_fen
from console.pages import MenuItem, SignedIn, is_fragment_request, render, translator

router = APIRouter()
EXPORT_PAGE: Final = 500


def a_date(value: str) -> bool:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def a_window(value: str) -> bool:
    return value.isdigit() and 1 <= int(value) <= 366


@dataclass(frozen=True)
class Column:
    key: str  # the API row's field (catalogue: rs.col.<key>)
    kind: str  # int | fen | pct | num | text | name | sku | warehouse | flag | period


@dataclass(frozen=True)
class Chart:
    kind: str  # bar | line
    unit: str  # "fen" or ""
    series: tuple[str, ...]  # row fields drawn (catalogue: rs.col.<field>)
    label: str  # the column naming each bar or point


@dataclass(frozen=True)
class Report:
    name: str  # /reports/<name>; catalogue rs.<name>.title / .help
    api: str
    permission: str
    filters: dict[str, Check]
    columns: tuple[Column, ...]
    chart: Chart
    totals: tuple[Column, ...]
    paged: bool = False
    default_sort: str = ""


GROUP = one_of("warehouse", "category")
BY = one_of("day", "week", "month")
COUNTS = ("int",)


def _cols(*specs: str) -> tuple[Column, ...]:
    """Columns from "key:kind" words."""
    return tuple(Column(*pair.split(":")) for spec in specs for pair in spec.split())


REPORTS: Final = {
    r.name: r
    for r in (
        Report(
            "stock",
            "/v1/reports/stock/value",
            "stock.read",
            {"group": GROUP, "warehouse_id": an_id},
            _cols("name:name", "on_hand:int", "skus:int", "value_fen:fen"),
            Chart("bar", "fen", ("value_fen",), "name"),
            _cols("on_hand:int", "skus:int", "value_fen:fen"),
        ),
        Report(
            "stock-aging",
            "/v1/reports/stock/aging",
            "stock.read",
            {"group": GROUP, "warehouse_id": an_id},
            _cols(
                "name:name",
                "on_hand:int",
                "age_0_30:int",
                "age_31_60:int",
                "age_61_90:int",
                "age_91_180:int",
                "age_over_180:int",
                "expired:int",
                "expires_0_30:int",
                "expires_31_90:int",
                "expires_91_180:int",
                "expires_over_180:int",
                "no_expiry:int",
            ),
            Chart(
                "bar",
                "",
                ("age_0_30", "age_31_60", "age_61_90", "age_91_180", "age_over_180"),
                "name",
            ),
            _cols("on_hand:int", "age_over_180:int", "expired:int", "expires_0_30:int"),
        ),
        Report(
            "stock-cover",
            "/v1/reports/stock/cover",
            "stock.read",
            {
                "days": a_window,
                "warehouse_id": an_id,
                "sku_id": an_id,
                "sort": one_of("days_of_cover", "-on_hand", "-units_out", "sku_id"),
            },
            _cols(
                "sku_id:sku",
                "warehouse_id:warehouse",
                "on_hand:int",
                "units_out:int",
                "avg_daily_units:num",
                "days_of_cover:num",
            ),
            Chart("bar", "", ("days_of_cover",), "sku_id"),
            _cols("on_hand:int", "units_out:int"),
            paged=True,
            default_sort="days_of_cover",
        ),
        Report(
            "dead-stock",
            "/v1/reports/stock/dead",
            "stock.read",
            {"days": a_window, "warehouse_id": an_id},
            _cols(
                "sku_id:sku",
                "warehouse_id:warehouse",
                "on_hand:int",
                "value_fen:fen",
                "last_out_on:text",
            ),
            Chart("bar", "fen", ("value_fen",), "sku_id"),
            _cols("on_hand:int", "value_fen:fen"),
            paged=True,
        ),
        Report(
            "stock-outs",
            "/v1/reports/stock/stockouts",
            "stock.read",
            {"date_from": a_date, "date_to": a_date, "warehouse_id": an_id, "sku_id": an_id},
            _cols("sku_id:sku", "warehouse_id:warehouse", "stockout_days:int", "out_now:flag"),
            Chart("bar", "", ("stockout_days",), "sku_id"),
            _cols("skus:int", "stockout_days:int"),
            paged=True,
        ),
        Report(
            "warehouse",
            "/v1/reports/warehouse",
            "waves.read",
            {"date_from": a_date, "date_to": a_date, "by": BY, "warehouse_id": an_id},
            _cols(
                "period:period",
                "warehouse_id:warehouse",
                "waves_done:int",
                "waves_on_time:int",
                "on_time_pct:pct",
                "lines_picked:int",
                "lines_short:int",
                "short_pick_pct:pct",
                "packages_weighed:int",
                "packages_held:int",
                "weight_hold_pct:pct",
                "units_picked:int",
                "device_hours:int",
                "units_per_hour:num",
            ),
            Chart("line", "", ("on_time_pct", "short_pick_pct", "weight_hold_pct"), "period"),
            _cols(
                "waves_done:int",
                "on_time_pct:pct",
                "lines_picked:int",
                "short_pick_pct:pct",
                "packages_weighed:int",
                "weight_hold_pct:pct",
                "units_per_hour:num",
            ),
        ),
        Report(
            "warehouse-pickers",
            "/v1/reports/warehouse/pickers",
            "waves.read",
            {
                "date_from": a_date,
                "date_to": a_date,
                "by": BY,
                "dimension": one_of("worker", "device"),
                "warehouse_id": an_id,
            },
            _cols(
                "period:period",
                "warehouse_id:warehouse",
                "who:text",
                "units_picked:int",
                "hours:int",
                "units_per_hour:num",
            ),
            Chart("bar", "", ("units_per_hour",), "who"),
            _cols("units_picked:int", "hours:int", "units_per_hour:num"),
        ),
    )
}
MENU = tuple(
    MenuItem(f"nav.rs.{r.name}", f"/reports/{r.name}", r.permission) for r in REPORTS.values()
)
CHOICES: Final = {
    "group": ("warehouse", "category"),
    "by": ("day", "week", "month"),
    "dimension": ("worker", "device"),
    "sort": ("days_of_cover", "-on_hand", "-units_out", "sku_id"),
}


_SHOWN: Final[dict[str, Callable[[Any], str]]] = {
    "fen": lambda v: format_fen(int(v)),
    "pct": lambda v: f"{float(v):.1f}%",
    "num": lambda v: f"{float(v):g}" if isinstance(v, float) else str(v),
}


def _cell(column: Column, row: Json, t: Translator, warehouses: dict[int, str]) -> str:
    value = row.get(column.key)
    if column.kind == "sku":
        return f"{row['sku_code']} · {row['sku_name']}"
    if column.kind == "warehouse":
        return warehouses.get(int(value), str(value)) if value is not None else ""
    if value is None or value == "":  # no figure; a worker: none signed in
        return "—"
    if column.kind == "flag":
        return t("wh.yes") if value else t("wh.no")
    return _SHOWN.get(column.kind, str)(value)


def cells(report: Report, row: Json, t: Translator, warehouses: dict[int, str]) -> list[str]:
    return [_cell(c, row, t, warehouses) for c in report.columns]


def _chart(report: Report, rows: list[Json], t: Translator) -> dict[str, Any]:
    """The chart spec of static/js/dashboard.js: one bar/point per row (the warehouse report:
    per period, its warehouses' counts summed into the rates)."""
    spec = report.chart
    if report.name == "warehouse":
        rows = _per_period(rows)
    shown = rows[:30]
    labels = [
        f"{r['sku_code']}" if spec.label == "sku_id" else str(r.get(spec.label) or "—")
        for r in shown
    ]
    return {
        "id": report.name,
        "title": t(f"rs.{report.name}.title"),
        "kind": spec.kind,
        "unit": spec.unit,
        "labels": labels,
        "series": [
            {"name": t(f"rs.col.{key}"), "values": [r.get(key) or 0 for r in shown]}
            for key in spec.series
        ],
    }


def _per_period(rows: list[Json]) -> list[Json]:
    merged: dict[str, dict[str, int]] = {}
    for row in rows:
        into = merged.setdefault(row["period"], {})
        for key in ("waves_done", "waves_on_time", "lines_picked", "lines_short"):
            into[key] = into.get(key, 0) + int(row[key])
        for key in ("packages_weighed", "packages_held"):
            into[key] = into.get(key, 0) + int(row[key])

    def pct(part: int, whole: int) -> float | None:
        return round(100 * part / whole, 1) if whole else None

    return [
        {
            "period": period,
            "on_time_pct": pct(m["waves_on_time"], m["waves_done"]),
            "short_pick_pct": pct(m["lines_short"], m["lines_picked"]),
            "weight_hold_pct": pct(m["packages_held"], m["packages_weighed"]),
        }
        for period, m in merged.items()
    ]


async def _answer(viewer: SignedIn, report: Report, filters: Filters, page: int) -> Json:
    params: dict[str, Any] = filters.api_params()
    if report.paged:
        params |= {"skip": (page - 1) * PAGE_SIZE, "limit": PAGE_SIZE}
    answer: Json = await viewer.api.get(report.api, params)
    return answer


async def report_page(request: Request, report: Report, viewer: SignedIn) -> Response:
    viewer.require(report.permission)
    filters = Filters.read(request.query_params, report.filters, report.default_sort)
    page = page_number(request.query_params)
    answer = await _answer(viewer, report, filters, page)
    t = translator(request)
    warehouses = await warehouse_names(viewer.api)
    rows = answer["rows"]
    count = int(answer.get("count", len(rows)))
    context: dict[str, Any] = {
        "report": report,
        "path": f"/reports/{report.name}",
        "rows": [cells(report, r, t, warehouses) for r in rows],
        "keys": [c.key for c in report.columns],
        "numeric": [c.kind in ("int", "fen", "pct", "num") for c in report.columns],
        "totals": [(c.key, _cell(c, answer["totals"], t, warehouses)) for c in report.totals],
        "chart": _chart(report, rows, t),
        "count": count,
        "page": page,
        "pages": max(1, -(-count // PAGE_SIZE)) if report.paged else 1,
        "filters": filters,
        "warehouses": warehouses,
        "choices": CHOICES,
        "answer": answer,
    }
    if is_fragment_request(request):
        fragment = render(request, "reports_stock/_rows.html", viewer=viewer, **context)
        fragment.headers["HX-Push-Url"] = fragment_url(request, context["path"], filters, page)
        return fragment
    return render(request, "reports_stock/report.html", viewer=viewer, **context)


def _export_cell(column: Column, row: Json, t: Translator, warehouses: dict[int, str]) -> str:
    """As shown, but amounts as plain yuan (2 decimals) for spreadsheets."""
    value = row.get(column.key)
    if column.kind == "fen" and value is not None:
        fen = int(value)
        return f"{'-' if fen < 0 else ''}{abs(fen) // 100}.{abs(fen) % 100:02d}"
    return _cell(column, row, t, warehouses)


def _rows_of(
    report: Report, filters: Filters
) -> Callable[[ApiClient, Translator], AsyncIterator[Sequence[str]]]:
    async def produce(api: ApiClient, t: Translator) -> AsyncIterator[Sequence[str]]:
        warehouses = await warehouse_names(api)
        params: dict[str, Any] = filters.api_params()
        skip = 0
        while True:
            paging = {"skip": skip, "limit": EXPORT_PAGE} if report.paged else {}
            answer = await api.get(report.api, {**params, **paging})
            for row in answer["rows"]:
                yield [_export_cell(c, row, t, warehouses) for c in report.columns]
            skip += EXPORT_PAGE
            if not report.paged or skip >= int(answer["count"]):
                return

    return produce


async def report_export(request: Request, report: Report, kind: str, viewer: SignedIn) -> Response:
    if kind not in ("csv", "xlsx"):
        raise NotFound
    viewer.require(report.permission)
    filters = Filters.read(request.query_params, report.filters, report.default_sort)
    await viewer.api.get(
        report.api, {**filters.api_params(), **({"limit": 1} if report.paged else {})}
    )
    t = translator(request)
    header = [t(f"rs.col.{c.key}") for c in report.columns]
    return await export(
        request, viewer.api, kind, f"report-{report.name}", header, _rows_of(report, filters)
    )


def _routes(report: Report) -> None:
    """Each report its own paths (other parts have pages under /reports/ too)."""

    async def page(request: Request, viewer: SignedIn) -> Response:
        return await report_page(request, report, viewer)

    async def download(request: Request, kind: str, viewer: SignedIn) -> Response:
        return await report_export(request, report, kind, viewer)

    path = f"/reports/{report.name}"
    router.add_api_route(path, page, methods=["GET"], response_class=HTMLResponse)
    router.add_api_route(f"{path}/export.{{kind}}", download, methods=["GET"])


for _report in REPORTS.values():
    _routes(_report)
