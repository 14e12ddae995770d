"""Putaway tasks (mirrors api/routes/putaway.py): the tasks of the warehouses the person may see
(open ones are the units waiting in receiving, 待上架), filtered by warehouse, status, SKU and
source document, with the CSV/XLSX export of exactly the filtered rows, and the printable
putaway list of a warehouse's open tasks (PDF, Code 128)."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.client import Json
from console.i18n import Translator, format_time
from console.lists import (
    Filters,
    a_number,
    an_id,
    export,
    fetch_page,
    fragment_url,
    from_list,
    one_of,
    page_number,
    warehouse_names,
)
from console.pages import MenuItem, SignedIn, is_fragment_request, render, translator

router = APIRouter()
MENU = (MenuItem("nav.putaway", "/putaway", "stock.move"),)
STATUSES: Final = ("open", "done", "cancelled")
FILTERS: Final = {
    "warehouse_id": an_id,
    "status": one_of(*STATUSES),
    "sku_id": an_id,
    "source_no": a_number,
}
COLUMNS: Final = (
    "task_no", "warehouse", "sku", "batch", "from", "quantity", "put", "remaining",
    "suggested", "status", "source", "created_at", "done_by", "done_at",
)  # fmt: skip


@router.get("/putaway", response_class=HTMLResponse)
async def putaway_list(request: Request, viewer: SignedIn) -> Response:
    viewer.require("stock.move")
    filters = Filters.read(request.query_params, FILTERS)
    page = page_number(request.query_params)
    listing = await fetch_page(viewer.api, "/v1/putaway-tasks", filters.api_params(), page)
    warehouses = await warehouse_names(viewer.api)
    context: dict[str, Any] = {**listing, "filters": filters, "warehouses": warehouses}
    if is_fragment_request(request):
        fragment = render(request, "putaway/_rows.html", viewer=viewer, **context)
        fragment.headers["HX-Push-Url"] = fragment_url(request, "/putaway", filters, page)
        return fragment
    return render(request, "putaway/list.html", viewer=viewer, statuses=STATUSES, **context)


def _row(task: Json, t: Translator) -> list[str]:
    status = f"putaway.status.{task['status']}"
    return [
        task["task_no"],
        str(task["warehouse_id"]),
        f"{task['sku_name']} ({task['sku_code']})",
        task["batch_no"],
        task["from_location_code"],
        str(task["quantity"]),
        str(task["put"]),
        str(task["remaining"]),
        task["suggested_location_code"] or "",
        t(status) if t.has(status) else task["status"],
        f"{t('putaway.source.' + task['source_type'])} {task['source_no']}",
        format_time(task["created_at"]),
        task["done_by"] or "",
        format_time(task["done_at"]),
    ]


@router.get("/putaway/export.{kind}")
async def putaway_export(request: Request, kind: str, viewer: SignedIn) -> Response:
    viewer.require("stock.move")
    filters = Filters.read(request.query_params, FILTERS)
    t = translator(request)
    header = [t(f"putaway.col.{c}") for c in COLUMNS]
    rows = from_list("/v1/putaway-tasks", filters.api_params(), _row)
    return await export(request, viewer.api, kind, "putaway-tasks", header, rows)


@router.get("/putaway/{warehouse_id:int}/putaway-list.pdf")
async def putaway_pdf(warehouse_id: int, viewer: SignedIn) -> Response:
    """The warehouse's open tasks to print (the API's PDF, opened by the browser's print)."""
    viewer.require("stock.move")
    body, media = await viewer.api.get_bytes(f"/v1/warehouses/{warehouse_id}/putaway-list.pdf")
    headers = {"Content-Disposition": f'inline; filename="putaway-{warehouse_id}.pdf"'}
    return Response(body, media_type=media or "application/pdf", headers=headers)
