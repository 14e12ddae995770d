"""Purchasing and finance reports (mirror GET /v1/reports/purchasing and /v1/reports/finance):
filters, a chart, the tables and the CSV/XLSX export of exactly the rows a table shows. Rates
are the API's two counts shown as a percentage with one decimal; money ¥1,234.56."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import date
from typing import Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.client import ApiClient, Json, NotFound
from console.export import EXPORT_PAGE, download
from console.i18n import Translator
from console.money import format_fen
from console.pages import MenuItem, SignedIn, render, translator

router = APIRouter()
MENU = (
    MenuItem("nav.reports.purchasing", "/reports/purchasing", "purchase.read"),
    MenuItem("nav.reports.finance", "/reports/finance", "finance.read"),
)
PAGE: Final = 100
PERIODS: Final = ("day", "week", "month")
PO_AGES: Final = ("0-7", "8-30", "31-90", ">90")
OVERDUE: Final = ("not_due", "1-30", "31-60", "61-90", ">90")
Table = tuple[list[str], list[list[str]]]  # header, rows


def percent(part: int, whole: int) -> str:
    """part ÷ whole as a percentage with one decimal, half up, without floats; "—" for 0/0."""
    if whole <= 0:
        return "—"
    tenths = (2000 * part + whole) // (2 * whole)
    return f"{tenths // 10}.{tenths % 10}%"


def filters_of(request: Request, *, sku: bool) -> dict[str, str]:
    """The report's filters as given, each kept only when well-formed."""
    q = request.query_params
    found: dict[str, str] = {}
    for name in ("date_from", "date_to"):
        value = q.get(name, "")
        try:
            date.fromisoformat(value)
            found[name] = value
        except ValueError:
            pass
    if q.get("by") in PERIODS:
        found["by"] = str(q.get("by"))
    for name in ("supplier_id", *(("sku_id",) if sku else ())):
        value = q.get(name, "")
        if value.isdigit() and 0 < int(value) < 2**31:
            found[name] = value
    return found


def chart(
    cid: str,
    title: str,
    kind: str,
    unit: str,
    labels: list[str],
    series: list[tuple[str, list[Any]]],
) -> Json:
    return {
        "id": cid,
        "title": title,
        "kind": kind,
        "unit": unit,
        "labels": labels,
        "series": [{"name": n, "values": v} for n, v in series],
    }


# --- purchasing --------------------------------------------------------------------------------


def supplier_table(t: Translator, rows: Sequence[Json]) -> Table:
    header = [
        t(f"rb.col.{k}")
        for k in (
            "period",
            "supplier",
            "pos_closed",
            "units_ordered",
            "units_received",
            "fill_rate",
            "receipts",
            "receipts_on_time",
            "on_time_rate",
        )
    ]
    return header, [
        [
            str(r["period"]),
            f"{r['supplier_code']} {r['supplier_name']}",
            str(r["pos_closed"]),
            str(r["units_ordered"]),
            str(r["units_received"]),
            percent(int(r["units_received"]), int(r["units_ordered"])),
            str(r["receipts"]),
            str(r["receipts_on_time"]),
            percent(int(r["receipts_on_time"]), int(r["receipts"])),
        ]
        for r in rows
    ]


def price_table(t: Translator, rows: Sequence[Json]) -> Table:
    header = [
        t(f"rb.col.{k}")
        for k in ("period", "supplier", "lines", "units", "avg_price", "min_price", "max_price")
    ]
    return header, [
        [
            str(r["period"]),
            str(r["supplier_code"]),
            str(r["lines"]),
            str(r["units"]),
            format_fen(int(r["avg_price_fen"])),
            format_fen(int(r["min_price_fen"])),
            format_fen(int(r["max_price_fen"])),
        ]
        for r in rows
    ]


def open_table(t: Translator, rows: Sequence[Json]) -> Table:
    header = [
        t("rb.col.supplier"),
        *(t("rb.age", days=a) for a in PO_AGES),
        t("rb.col.pos"),
        t("rb.col.amount"),
    ]
    return header, [
        [
            f"{r['supplier_code']} {r['supplier_name']}",
            *(
                f"{r['buckets'][a]['pos']} · {format_fen(int(r['buckets'][a]['amount_fen']))}"
                for a in PO_AGES
            ),
            str(r["pos"]),
            format_fen(int(r["amount_fen"])),
        ]
        for r in rows
    ]


async def purchasing_rows(api: ApiClient, params: Mapping[str, str]) -> AsyncIterator[Json]:
    """Every supplier row of the report under its filters, page by page."""
    skip = 0
    while True:
        page = await api.get(
            "/v1/reports/purchasing", {**params, "skip": skip, "limit": EXPORT_PAGE}
        )
        for row in page["rows"]:
            yield row
        skip += EXPORT_PAGE
        if skip >= int(page["count"]):
            return


@router.get("/reports/purchasing", response_class=HTMLResponse)
async def purchasing_page(request: Request, viewer: SignedIn) -> Response:
    viewer.require("purchase.read")
    t = translator(request)
    filters = filters_of(request, sku=True)
    asked = request.query_params.get("page", "1")
    page = max(1, int(asked)) if asked.isdigit() and len(asked) < 7 else 1
    answer = await viewer.api.get(
        "/v1/reports/purchasing", {**filters, "skip": (page - 1) * PAGE, "limit": PAGE}
    )
    periods = answer["periods"]
    charts = [
        chart(
            "fill",
            t("rb.chart.rates"),
            "line",
            "",
            [str(p["period"]) for p in periods],
            [
                (
                    t("rb.col.fill_rate"),
                    [_rate(p["units_received"], p["units_ordered"]) for p in periods],
                ),
                (
                    t("rb.col.on_time_rate"),
                    [_rate(p["receipts_on_time"], p["receipts"]) for p in periods],
                ),
            ],
        )
    ]
    prices = answer["prices"]["rows"]
    if "sku_id" in filters:
        labels = sorted({str(p["period"]) for p in prices})
        by_period: dict[str, list[Json]] = {}
        for p in prices:
            by_period.setdefault(str(p["period"]), []).append(p)
        charts.append(
            chart(
                "prices",
                t("rb.chart.prices", sku=filters["sku_id"]),
                "line",
                "fen",
                labels,
                [
                    (t("rb.col.avg_price"), [_avg(by_period[k]) for k in labels]),
                    (
                        t("rb.col.min_price"),
                        [min(int(p["min_price_fen"]) for p in by_period[k]) for k in labels],
                    ),
                    (
                        t("rb.col.max_price"),
                        [max(int(p["max_price_fen"]) for p in by_period[k]) for k in labels],
                    ),
                ],
            )
        )
    count = int(answer["count"])
    totals = answer["totals"]
    return render(
        request,
        "reports_buy/purchasing.html",
        viewer=viewer,
        filters=filters,
        answer=answer,
        charts=charts,
        periods_list=PERIODS,
        suppliers=supplier_table(t, answer["rows"]),
        prices=price_table(t, prices),
        open_pos=open_table(t, answer["open_pos"]["rows"]),
        totals=totals,
        fill=percent(int(totals["units_received"]), int(totals["units_ordered"])),
        on_time=percent(int(totals["receipts_on_time"]), int(totals["receipts"])),
        page=page,
        pages=max(1, -(-count // PAGE)),
        count=count,
        query=_query(filters),
    )


def _rate(part: int, whole: int) -> float | None:
    """A chart point: the percentage with one decimal (display only; figures stay counts)."""
    return None if not whole else round(1000 * int(part) / int(whole)) / 10


def _avg(rows: Sequence[Json]) -> int:
    units = sum(int(r["units"]) for r in rows)
    value = sum(int(r["value_fen"]) for r in rows)
    return (2 * value + units) // (2 * units) if units else 0


def _query(filters: Mapping[str, str]) -> str:
    return urlencode(filters)


PURCHASING_TABLES: Final = ("suppliers", "prices", "open_pos")


@router.get("/reports/purchasing/export.{kind}")
async def purchasing_export(request: Request, kind: str, viewer: SignedIn) -> Response:
    viewer.require("purchase.read")
    t = translator(request)
    filters = filters_of(request, sku=True)
    table = request.query_params.get("table", "suppliers")
    if table not in PURCHASING_TABLES:
        raise NotFound
    maker: dict[str, Callable[[Translator, Sequence[Json]], Table]] = {
        "suppliers": supplier_table,
        "prices": price_table,
        "open_pos": open_table,
    }
    header = maker[table](t, [])[0]

    async def rows(api: ApiClient) -> AsyncIterator[Sequence[str]]:
        if table == "suppliers":
            async for row in purchasing_rows(api, filters):
                yield supplier_table(t, [row])[1][0]
            return
        answer = await api.get("/v1/reports/purchasing", {**filters, "limit": 1})
        shown = answer["prices"]["rows"] if table == "prices" else answer["open_pos"]["rows"]
        for line in maker[table](t, shown)[1]:
            yield line

    await viewer.api.get("/v1/reports/purchasing", {**filters, "limit": 1})  # refused early
    name = f"report-purchasing-{table}"
    return download(request, kind=kind, name=name, sheet=name[:31], header=header, rows=rows)


# --- finance -----------------------------------------------------------------------------------


def summary_table(t: Translator, rows: Sequence[Json]) -> Table:
    header = [
        t(f"rb.col.{k}")
        for k in (
            "period",
            "refunds",
            "refund_fen",
            "transfers",
            "paid_fen",
            "differences_open",
            "differences_closed",
        )
    ]
    return header, [
        [
            str(r["period"]),
            str(r["refunds"]),
            format_fen(int(r["refund_fen"])),
            str(r["transfers"]),
            format_fen(int(r["paid_fen"])),
            str(r["differences_open"]),
            str(r["differences_closed"]),
        ]
        for r in rows
    ]


def cause_table(t: Translator, rows: Sequence[Json]) -> Table:
    header = [t(f"rb.col.{k}") for k in ("period", "cause", "refunds", "refund_fen")]
    return header, [
        [
            str(r["period"]),
            t(f"rb.cause.{r['cause']}") if t.has(f"rb.cause.{r['cause']}") else str(r["cause"]),
            str(r["refunds"]),
            format_fen(int(r["amount_fen"])),
        ]
        for r in rows
    ]


def payment_table(t: Translator, rows: Sequence[Json]) -> Table:
    header = [t(f"rb.col.{k}") for k in ("supplier", "transfers", "paid_fen")]
    return header, [
        [
            f"{r['supplier_code']} {r['supplier_name']}",
            str(r["transfers"]),
            format_fen(int(r["amount_fen"])),
        ]
        for r in rows
    ]


def payable_table(t: Translator, rows: Sequence[Json]) -> Table:
    header = [
        t("rb.col.supplier"),
        *(t(f"rb.overdue.{k}") for k in OVERDUE),
        t("rb.col.pos"),
        t("rb.col.owed"),
    ]
    return header, [
        [
            f"{r['supplier_code']} {r['supplier_name']}",
            *(format_fen(int(r["buckets"][k])) for k in OVERDUE),
            str(r["pos"]),
            format_fen(int(r["owed_fen"])),
        ]
        for r in rows
    ]


def difference_table(t: Translator, rows: Sequence[Json]) -> Table:
    header = [
        t(f"rb.col.{k}")
        for k in ("period", "kind", "entry_type", "open", "open_fen", "closed", "closed_fen")
    ]
    return header, [
        [
            str(r["period"]),
            t(f"rb.kind.{r['kind']}"),
            t(f"rb.entry.{r['entry_type']}"),
            str(r["open"]),
            format_fen(int(r["open_fen"])),
            str(r["closed"]),
            format_fen(int(r["closed_fen"])),
        ]
        for r in rows
    ]


FINANCE_TABLES: Final[dict[str, tuple[Callable[[Translator, Sequence[Json]], Table], str]]] = {
    "periods": (summary_table, "periods"),
    "refunds": (cause_table, "rows"),
    "payments": (payment_table, "payments"),
    "payables": (payable_table, "payables"),
    "reconciliation": (difference_table, "reconciliation"),
}


def _section(answer: Json, key: str) -> list[Json]:
    found = answer[key]
    return list(found["rows"] if isinstance(found, dict) else found)


@router.get("/reports/finance", response_class=HTMLResponse)
async def finance_page(request: Request, viewer: SignedIn) -> Response:
    viewer.require("finance.read")
    t = translator(request)
    filters = filters_of(request, sku=False)
    answer = await viewer.api.get("/v1/reports/finance", filters)
    labels = [str(p["period"]) for p in answer["periods"]]
    causes = sorted({str(r["cause"]) for r in answer["rows"]})
    amounts = {(str(r["period"]), str(r["cause"])): int(r["amount_fen"]) for r in answer["rows"]}
    charts = [
        chart(
            "refunds",
            t("rb.chart.refunds"),
            "bar",
            "fen",
            labels,
            [
                (
                    t(f"rb.cause.{c}") if t.has(f"rb.cause.{c}") else c,
                    [amounts.get((k, c), 0) for k in labels],
                )
                for c in causes
            ]
            + [(t("rb.col.paid_fen"), [int(p["paid_fen"]) for p in answer["periods"]])],
        )
    ]
    tables = {
        name: maker(t, _section(answer, key)) for name, (maker, key) in FINANCE_TABLES.items()
    }
    return render(
        request,
        "reports_buy/finance.html",
        viewer=viewer,
        filters=filters,
        answer=answer,
        charts=charts,
        periods_list=PERIODS,
        tables=tables,
        totals=answer["totals"],
        query=_query(filters),
    )


@router.get("/reports/finance/export.{kind}")
async def finance_export(request: Request, kind: str, viewer: SignedIn) -> Response:
    viewer.require("finance.read")
    t = translator(request)
    filters = filters_of(request, sku=False)
    table = request.query_params.get("table", "periods")
    if table not in FINANCE_TABLES:
        raise NotFound
    maker, key = FINANCE_TABLES[table]
    await viewer.api.get("/v1/reports/finance", filters)  # refused before the download starts

    async def rows(api: ApiClient) -> AsyncIterator[Sequence[str]]:
        answer = await api.get("/v1/reports/finance", filters)
        for line in maker(t, _section(answer, key))[1]:
            yield line

    name = f"report-finance-{table}"
    return download(
        request, kind=kind, name=name, sheet=name[:31], header=maker(t, [])[0], rows=rows
    )
