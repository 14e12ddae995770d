"""工作台: the figures GET /v1/dashboard gives this person (the panels their permissions open,
today beside yesterday) as tiles linking to the lists behind them, and the two charts (orders per
hour today vs yesterday, paid GMV per day for 30 days) drawn by the vendored ECharts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.i18n import Translator
from console.pages import MenuItem, SignedIn, render, translator

router = APIRouter()
MENU = (MenuItem("nav.dashboard", "/", "self.read"),)

# The console page that lists what a figure counts (figures without one show no link).
LINKS: Final[dict[str, str]] = {
    "orders.awaiting_payment": "/orders?status=awaiting_payment",
    "orders.escalated": "/orders?escalated=true",
    "orders.refund_refused": "/orders?refund_refused=true",
    "warehouse.flagged_packages": "/packages?status=weight_hold",
    "warehouse.escalated_waves": "/waves?escalated=true&status=picking",
    "warehouse.low_stock": "/replenishment",
    "after_sales.requested": "/after-sales?status=requested",
    "after_sales.overdue": "/after-sales?status=requested&overdue=true",
    "purchasing.pending_approval": "/purchase-orders?status=pending_approval",
    "purchasing.escalated": "/purchase-orders?status=pending_approval&escalated=true",
    "finance.invoices_mismatch": "/payables?status=mismatch",
    "finance.payables_due": "/payables?status=payable",
}


@dataclass(frozen=True)
class Tile:
    label: str  # catalogue key
    value: int
    unit: str  # "count" or "fen"
    previous: int | None  # yesterday's, where the dashboard compares
    link: str | None  # path under the console's root


@dataclass(frozen=True)
class Panel:
    title: str  # catalogue key
    tiles: list[Tile]


def panels_of(answer: dict[str, Any]) -> list[Panel]:
    return [
        Panel(
            f"dashboard.{panel['key']}",
            [
                Tile(
                    f"dashboard.{f['key']}",
                    int(f["value"]),
                    f["unit"],
                    f.get("previous"),
                    LINKS.get(f["key"]),
                )
                for f in panel["figures"]
            ],
        )
        for panel in answer["panels"]
    ]


def charts_of(answer: dict[str, Any], t: Translator) -> list[dict[str, Any]]:
    """What static/js/dashboard.js draws: one chart per entry, its series named in the
    person's language."""
    series = {s["key"]: s for s in answer["charts"]}
    if not series:
        return []
    today, yesterday = series["orders.per_hour.today"], series["orders.per_hour.yesterday"]
    gmv = series["orders.paid_per_day"]
    return [
        {
            "id": "orders-per-hour",
            "title": t("dashboard.chart.orders_per_hour"),
            "kind": "line",
            "unit": "count",
            "labels": today["labels"],
            "series": [
                {"name": t("dashboard.chart.today"), "values": today["values"]},
                {"name": t("dashboard.chart.yesterday"), "values": yesterday["values"]},
            ],
        },
        {
            "id": "paid-per-day",
            "title": t("dashboard.chart.paid_per_day"),
            "kind": "bar",
            "unit": "fen",
            "labels": gmv["labels"],
            "series": [{"name": t("dashboard.chart.paid"), "values": gmv["values"]}],
        },
    ]


@router.get("/", response_class=HTMLResponse)
async def dashboard(request: Request, viewer: SignedIn) -> Response:
    viewer.require("self.read")
    answer = await viewer.api.get("/v1/dashboard")
    return render(
        request,
        "dashboard/index.html",
        viewer=viewer,
        day=answer["day"],
        panels=panels_of(answer),
        charts=charts_of(answer, translator(request)),
    )
