"""Stock value (mirrors GET /v1/stock/value): per warehouse and SKU the units on hand, the
moving weighted average cost and the value, with the total of every filtered row; filters,
sort, pages and the CSV/XLSX export of exactly the filtered rows (docs/architecture.md,
"Inventory cost")."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.client import Json
from console.i18n import Translator
from console.lists import (
    PAGE_SIZE,
    Filters,
    a_flag,
    an_id,
    export,
    fragment_url,
    from_list,
    one_of,
    page_number,
    warehouse_names,
)
from console.lookups import sku_names
from console.pages import MenuItem, SignedIn, is_fragment_request, render, translator

router = APIRouter()
MENU = (MenuItem("nav.stock_value", "/stock-value", "stock.read"),)
SORTS: Final = ("sku_id", "-value_fen", "value_fen", "-on_hand", "on_hand")


def a_text(value: str) -> bool:
    return 0 < len(value) <= 200 and value.isprintable()


FILTERS: Final = {
    "q": a_text,
    "sku_id": an_id,
    "warehouse_id": an_id,
    "in_stock": a_flag,
    "sort": one_of(*SORTS),
}


@router.get("/stock-value", response_class=HTMLResponse)
async def value_list(request: Request, viewer: SignedIn) -> Response:
    viewer.require("stock.read")
    filters = Filters.read(request.query_params, FILTERS, "sku_id")
    page = page_number(request.query_params)
    answer = await viewer.api.get(
        "/v1/stock/value",
        {**filters.api_params(), "skip": (page - 1) * PAGE_SIZE, "limit": PAGE_SIZE},
    )
    count, capped = int(answer["count"]), bool(answer.get("count_capped"))
    full = len(answer["data"]) == PAGE_SIZE  # capped: a full page may have a next one
    context: dict[str, Any] = {
        "rows": answer["data"],
        "count": f"{count:,}+" if capped else count,
        "page": page,
        "pages": page + full if capped else max(1, -(-count // PAGE_SIZE)),
        "total_value_fen": int(answer["total_value_fen"]),
        "filters": filters,
        "warehouses": await warehouse_names(viewer.api),
        "skus": await sku_names(viewer.api, {r["sku_id"] for r in answer["data"]}),
    }
    if is_fragment_request(request):
        fragment = render(request, "stock_value/_rows.html", viewer=viewer, **context)
        fragment.headers["HX-Push-Url"] = fragment_url(request, "/stock-value", filters, page)
        return fragment
    return render(request, "stock_value/list.html", viewer=viewer, sorts=SORTS, **context)


def _yuan(fen: int) -> str:
    """Fen as plain yuan for exports (2 decimals, no sign or separators)."""
    return f"{fen // 100}.{fen % 100:02d}"


def _header(t: Translator) -> list[str]:
    return [t(f"value.col.{k}") for k in ("sku", "warehouse", "on_hand", "unit_cost", "value")]


def _row(row: Json, t: Translator) -> list[str]:
    return [
        str(row["sku_id"]),
        str(row["warehouse_id"]),
        str(row["on_hand"]),
        _yuan(int(row["unit_cost_fen"])),
        _yuan(int(row["value_fen"])),
    ]


@router.get("/stock-value/export.{kind}")
async def value_export(request: Request, kind: str, viewer: SignedIn) -> Response:
    viewer.require("stock.read")
    filters = Filters.read(request.query_params, FILTERS, "sku_id")
    rows = from_list("/v1/stock/value", filters.api_params(), _row)
    return await export(
        request, viewer.api, kind, "stock-value", _header(translator(request)), rows
    )
