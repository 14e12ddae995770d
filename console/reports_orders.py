"""Reports on orders (mirrors GET /v1/reports/orders and /v1/reports/after-sales): filters (a
GET form), a chart drawn by dashboard.js, the tables, and CSV/XLSX exports of exactly the rows
shown (docs/architecture.md, "Reports")."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.client import ApiClient, Json
from console.i18n import Translator
from console.lists import Filters, an_id, export, one_of, page_number, warehouse_names
from console.pages import MenuItem, SignedIn, render, translator

router = APIRouter()
MENU = (
    MenuItem("nav.report_orders", "/reports/orders", "orders.read"),
    MenuItem("nav.report_after_sales", "/reports/after-sales", "aftersales.read"),
)
FUNNEL: Final = ("placed", "paid", "handed_over", "completed", "cancelled")
SKU_SORTS: Final = ("-after_sale_units", "-rate", "-refunded_fen", "sku_id")
PAGE: Final = 50
EXPORT_PAGE: Final = 500


def a_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def a_reason(value: str) -> bool:
    return 0 < len(value) <= 100 and value.isprintable()


ORDER_FILTERS: Final = {
    "date_from": a_date,
    "date_to": a_date,
    "by": one_of("day", "week", "month"),
    "api_key_id": an_id,
    "warehouse_id": an_id,
    "table": one_of("funnel", "handover", "cancellations"),
}
AFTER_SALE_FILTERS: Final = {
    "date_from": a_date,
    "date_to": a_date,
    "sku_id": an_id,
    "reason": a_reason,
    "sort": one_of(*SKU_SORTS),
    "table": one_of("skus", "reasons"),
}


def pct(rate: float) -> str:
    """A share as a percentage with one decimal."""
    return f"{rate * 100:.1f}%"


def share(part: int, whole: int) -> str:
    return pct(part / whole) if whole else "-"


def minutes(seconds: int | None) -> str:
    """A bucketed duration in minutes, one decimal ("-" when nothing was counted)."""
    return "-" if seconds is None else f"{seconds / 60:.1f}"


def yuan(fen: int) -> str:
    """Fen as plain yuan for exports (2 decimals, no sign or separators)."""
    return f"{fen // 100}.{fen % 100:02d}"


# --- the orders report -------------------------------------------------------------------------


async def _orders(api: ApiClient, filters: Filters) -> Json:
    return await api.get("/v1/reports/orders", filters.api_params("table"))


def _orders_chart(t: Translator, report: Json) -> dict[str, Any]:
    periods = sorted({r["period"] for r in report["rows"]})
    series = []
    for step in FUNNEL:
        per: dict[str, int] = dict.fromkeys(periods, 0)
        for r in report["rows"]:
            per[r["period"]] += int(r[step])
        series.append({"name": t(f"rpo.step.{step}"), "values": [per[p] for p in periods]})
    return {"id": "report-orders", "title": t("rpo.chart.funnel"), "kind": "line", "unit": "",
            "labels": periods, "series": series}  # fmt: skip


@router.get("/reports/orders", response_class=HTMLResponse)
async def orders_page(request: Request, viewer: SignedIn) -> Response:
    viewer.require("orders.read")
    filters = Filters.read(request.query_params, ORDER_FILTERS)
    report = await _orders(viewer.api, filters)
    t = translator(request)
    totals = report["totals"]
    return render(
        request,
        "reports_orders/orders.html",
        viewer=viewer,
        filters=filters,
        report=report,
        funnel=FUNNEL,
        chart=_orders_chart(t, report),
        warehouses=await warehouse_names(viewer.api),
        rates={s: share(int(totals[s]), int(totals["placed"])) for s in FUNNEL},
        cancel_share={
            c["kind"]: share(int(c["orders"]), int(totals["cancelled"]))
            for c in report["cancellations"]
        },
        minutes=minutes,
        by=filters["by"] or "day",
    )


def _orders_table(t: Translator, report: Json, table: str) -> tuple[list[str], list[list[str]]]:
    if table == "handover":
        header = [t(f"rpo.col.{k}") for k in ("period", "warehouse", "packages", "p50", "p90")]
        return header, [
            [h["period"], h["warehouse"], str(h["packages"]), minutes(h["p50_s"]),
             minutes(h["p90_s"])]
            for h in report["handover"]
        ]  # fmt: skip
    if table == "cancellations":
        header = [t("rpo.col.kind"), t("rpo.col.orders")]
        return header, [
            [t(f"rpo.kind.{c['kind']}"), str(c["orders"])] for c in report["cancellations"]
        ]
    header = [t("rpo.col.period"), t("rpo.col.storefront")] + [t(f"rpo.step.{s}") for s in FUNNEL]
    return header, [
        [r["period"], r["storefront"], *(str(r[s]) for s in FUNNEL)] for r in report["rows"]
    ]


@router.get("/reports/orders/export.{kind}")
async def orders_export(request: Request, kind: str, viewer: SignedIn) -> Response:
    viewer.require("orders.read")
    filters = Filters.read(request.query_params, ORDER_FILTERS)
    t = translator(request)
    header, _ = _orders_table(t, {"rows": [], "handover": [], "cancellations": []},
                              filters["table"])  # fmt: skip

    async def produce(api: ApiClient, tr: Translator) -> AsyncIterator[Sequence[str]]:
        _, rows = _orders_table(tr, await _orders(api, filters), filters["table"])
        for row in rows:
            yield row

    return await export(request, viewer.api, kind, "report-orders", header, produce)


# --- the after-sales report --------------------------------------------------------------------


def _after_sales_chart(t: Translator, report: Json) -> dict[str, Any]:
    reasons = report["reasons"]
    return {"id": "report-after-sales", "title": t("rpa.chart.reasons"), "kind": "bar",
            "unit": "", "labels": [r["reason"] for r in reasons],
            "series": [
                {"name": t("rpa.col.requests"), "values": [r["requests"] for r in reasons]},
                {"name": t("rpa.col.units"), "values": [r["after_sale_units"] for r in reasons]},
            ]}  # fmt: skip


@router.get("/reports/after-sales", response_class=HTMLResponse)
async def after_sales_page(request: Request, viewer: SignedIn) -> Response:
    viewer.require("aftersales.read")
    filters = Filters.read(request.query_params, AFTER_SALE_FILTERS, "-after_sale_units")
    page = page_number(request.query_params)
    params = {**filters.api_params("table"), "skip": (page - 1) * PAGE, "limit": PAGE}
    report = await viewer.api.get("/v1/reports/after-sales", params)
    t = translator(request)
    return render(
        request,
        "reports_orders/after_sales.html",
        viewer=viewer,
        filters=filters,
        report=report,
        page=page,
        pages=max(1, -(-int(report["count"]) // PAGE)),
        sorts=SKU_SORTS,
        chart=_after_sales_chart(t, report),
        pct=pct,
        share=share,
        minutes=minutes,
    )


def _sku_row(r: Json) -> list[str]:
    return [str(r["sku_id"]), r["sku_code"], r["sku_name"], str(r["sold_units"]),
            str(r["after_sale_units"]), str(r["requests"]), pct(r["rate"]),
            yuan(int(r["refunded_fen"]))]  # fmt: skip


def _reason_row(r: Json) -> list[str]:
    return [r["reason"], str(r["requests"]), str(r["after_sale_units"]), pct(r["rate"]),
            str(r["refunds"]), yuan(int(r["refunded_fen"])), str(r["decided"]),
            share(int(r["within_sla"]), int(r["decided"])), minutes(r["p50_s"]),
            minutes(r["p90_s"])]  # fmt: skip


SKU_COLS: Final = ("sku_id", "sku_code", "sku_name", "sold", "units", "requests", "rate",
                   "refunded")  # fmt: skip
REASON_COLS: Final = ("reason", "requests", "units", "rate", "refunds", "refunded", "decided",
                      "within_sla", "p50", "p90")  # fmt: skip


@router.get("/reports/after-sales/export.{kind}")
async def after_sales_export(request: Request, kind: str, viewer: SignedIn) -> Response:
    viewer.require("aftersales.read")
    filters = Filters.read(request.query_params, AFTER_SALE_FILTERS, "-after_sale_units")
    reasons = filters["table"] == "reasons"
    t = translator(request)
    header = [t(f"rpa.col.{c}") for c in (REASON_COLS if reasons else SKU_COLS)]
    params = filters.api_params("table")

    async def produce(api: ApiClient, _: Translator) -> AsyncIterator[Sequence[str]]:
        skip = 0
        while True:
            answer = await api.get(
                "/v1/reports/after-sales", {**params, "skip": skip, "limit": EXPORT_PAGE}
            )
            if reasons:
                for r in answer["reasons"]:
                    yield _reason_row(r)
                return
            for r in answer["rows"]:
                yield _sku_row(r)
            skip += EXPORT_PAGE
            if skip >= int(answer["count"]):
                return

    return await export(request, viewer.api, kind, "report-after-sales", header, produce)
