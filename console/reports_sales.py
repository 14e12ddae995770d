"""The sales report page (mirrors GET /v1/reports/sales, issue 17): GMV, discount, paid,
refunded, net, cost of goods and gross margin per day, week or month, optionally split by one
dimension (category, SKU, storefront, warehouse, province); a chart (a line per figure over
time, or bars per dimension value), the table with its totals, and the CSV/XLSX export of exactly
the rows the filters give (docs/architecture.md, "Reports")."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.client import ApiClient, Json
from console.i18n import Translator
from console.lists import PAGE_SIZE, Filters, export, one_of, page_number
from console.pages import MenuItem, SignedIn, render, translator

router = APIRouter()
MENU = (MenuItem("nav.reports.sales", "/reports/sales", "orders.read"),)
PATH: Final = "/v1/reports/sales"
PERIODS: Final = ("day", "week", "month")
DIMENSIONS: Final = ("none", "category", "sku", "storefront", "warehouse", "province")
MONEY: Final = (
    "gmv_fen",
    "discount_fen",
    "paid_fen",
    "refunded_fen",
    "net_fen",
    "cogs_fen",
    "margin_fen",
)
CHART_LINES: Final = ("gmv_fen", "paid_fen", "refunded_fen", "net_fen", "cogs_fen", "margin_fen")
CHART_BARS: Final = ("gmv_fen", "net_fen", "cogs_fen", "margin_fen")


def a_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


FILTERS: Final = {
    "date_from": a_date,
    "date_to": a_date,
    "by": one_of(*PERIODS),
    "dimension": one_of(*DIMENSIONS),
}


def _params(filters: Filters) -> dict[str, str]:
    return {"by": "day", "dimension": "none", **filters.api_params()}


def margin_rate(figures: Json) -> str:
    """Gross margin as a share of net sales, one decimal ("" without net sales)."""
    net, margin = int(figures["net_fen"]), int(figures["margin_fen"])
    return f"{margin * 100 / net:.1f}%" if net else ""


def label_of(row: Json, dimension: str, t: Translator) -> str:
    """The dimension value as people read it: its name, a province's name, or the id."""
    key = row.get("key")
    if dimension == "province":
        return t(f"rsales.province.{key}")
    if dimension == "warehouse" and key == "0":
        return t("rsales.warehouse.none")
    name = row.get("name")
    return f"{name} ({key})" if name else str(key)


def chart_of(answer: Json, dimension: str, t: Translator) -> dict[str, Any]:
    """What static/js/dashboard.js draws: lines per figure over the periods, or (split by a
    dimension) bars per dimension value over the whole range."""
    if dimension == "none":
        rows = answer["rows"]
        return {
            "id": "sales",
            "title": t("rsales.chart.over_time"),
            "kind": "line",
            "unit": "fen",
            "labels": [r["period"] for r in rows],
            "series": [
                {"name": t(f"rsales.col.{f}"), "values": [r[f] for r in rows]} for f in CHART_LINES
            ],
        }
    values = answer["values"]
    return {
        "id": "sales",
        "title": t("rsales.chart.by_value", dimension=t(f"rsales.dimension.{dimension}")),
        "kind": "bar",
        "unit": "fen",
        "labels": [label_of(v, dimension, t) for v in values],
        "series": [
            {"name": t(f"rsales.col.{f}"), "values": [v[f] for v in values]} for f in CHART_BARS
        ],
    }


@router.get("/reports/sales", response_class=HTMLResponse)
async def sales_page(request: Request, viewer: SignedIn) -> Response:
    viewer.require("orders.read")
    filters = Filters.read(request.query_params, FILTERS)
    page = page_number(request.query_params)
    params = _params(filters)
    answer = await viewer.api.get(
        PATH, {**params, "skip": (page - 1) * PAGE_SIZE, "limit": PAGE_SIZE}
    )
    t = translator(request)
    dimension = params["dimension"]
    rows = [
        {**r, "label": label_of(r, dimension, t), "rate": margin_rate(r)} for r in answer["rows"]
    ]
    return render(
        request,
        "reports_sales/list.html",
        viewer=viewer,
        filters=filters,
        answer=answer,
        rows=rows,
        dimension=dimension,
        by=params["by"],
        totals=answer["totals"],
        total_rate=margin_rate(answer["totals"]),
        chart=chart_of(answer, dimension, t),
        money=MONEY,
        periods=PERIODS,
        dimensions=DIMENSIONS,
        count=int(answer["count"]),
        page=page,
        pages=max(1, -(-int(answer["count"]) // PAGE_SIZE)),
    )


def _yuan(fen: int) -> str:
    """Fen as plain yuan for exports (2 decimals, no separators)."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _header(t: Translator, dimension: str) -> list[str]:
    split = [t(f"rsales.dimension.{dimension}")] if dimension != "none" else []
    figures = [t(f"rsales.col.{k}") for k in ("units_placed", *MONEY, "margin_rate")]
    return [t("rsales.col.period"), *split, *figures]


def _row(row: Json, dimension: str, t: Translator) -> list[str]:
    return [
        str(row["period"]),
        *([label_of(row, dimension, t)] if dimension != "none" else []),
        str(row["units_placed"]),
        *(_yuan(int(row[f])) for f in MONEY),
        margin_rate(row),
    ]


@router.get("/reports/sales/export.{kind}")
async def sales_export(request: Request, kind: str, viewer: SignedIn) -> Response:
    viewer.require("orders.read")
    filters = Filters.read(request.query_params, FILTERS)
    params = _params(filters)
    dimension = params["dimension"]

    async def rows(api: ApiClient, t: Translator) -> AsyncIterator[Sequence[str]]:
        skip = 0
        while True:
            page = await api.get(PATH, {**params, "skip": skip, "limit": 500})
            for row in page["rows"]:
                yield _row(row, dimension, t)
            skip += len(page["rows"])
            if not page["rows"] or skip >= int(page["count"]):
                return

    await viewer.api.get(PATH, {**params, "limit": 1})  # refused filters: before the download
    t = translator(request)
    return await export(request, viewer.api, kind, "sales", _header(t, dimension), rows)
