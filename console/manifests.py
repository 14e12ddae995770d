"""Carrier manifests (交接单, mirrors api/routes/manifests.py): the manifests of the warehouses
the person sees, filtered by warehouse, carrier, status and a package on them, newest or oldest
first, exported as CSV/XLSX; one manifest with every package scanned onto it (and those taken
off or refused at hand-over) and its printable PDF. Devices open, scan and hand over (/pda)."""

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
MENU = (MenuItem("nav.manifests", "/manifests", "packages.read"),)
STATUSES: Final = ("open", "handed_over", "cancelled")
SORTS: Final = ("-created_at", "created_at")
FILTERS: Final = {
    "warehouse_id": an_id,
    "carrier_code": a_number,
    "status": one_of(*STATUSES),
    "package_no": a_number,
    "sort": one_of(*SORTS),
}


def _api_params(filters: Filters) -> dict[str, str]:
    params = filters.api_params("sort")
    if filters["sort"] == "created_at":
        params["sort"] = "created_at"
    return params


@router.get("/manifests", response_class=HTMLResponse)
async def manifest_list(request: Request, viewer: SignedIn) -> Response:
    viewer.require("packages.read")
    filters = Filters.read(request.query_params, FILTERS, default_sort="-created_at")
    page = page_number(request.query_params)
    listing = await fetch_page(viewer.api, "/v1/manifests", _api_params(filters), page)
    context: dict[str, Any] = {
        **listing,
        "filters": filters,
        "warehouses": await warehouse_names(viewer.api),
    }
    if is_fragment_request(request):
        fragment = render(request, "manifests/_rows.html", viewer=viewer, **context)
        fragment.headers["HX-Push-Url"] = fragment_url(request, "/manifests", filters, page)
        return fragment
    return render(
        request, "manifests/list.html", viewer=viewer, statuses=STATUSES, sorts=SORTS, **context
    )


def _header(t: Translator) -> list[str]:
    keys = ("manifest_no", "warehouse", "carrier", "status", "count", "note", "created_by")
    return [t(f"manifests.col.{k}") for k in (*keys, "created_at", "handed_over_at", "handed_by")]


def _row(row: Json, t: Translator) -> list[str]:
    return [
        row["manifest_no"],
        str(row["warehouse_id"]),
        row["carrier_code"],
        t(f"manifests.status.{row['status']}"),
        str(row["count"]),
        row["note"] or "",
        row["created_by"],
        format_time(row["created_at"]),
        format_time(row["handed_over_at"]) if row["handed_over_at"] else "",
        row["handed_over_worker"] or row["handed_over_by"] or "",
    ]


@router.get("/manifests/export.{kind}")
async def manifest_export(request: Request, kind: str, viewer: SignedIn) -> Response:
    viewer.require("packages.read")
    filters = Filters.read(request.query_params, FILTERS, default_sort="-created_at")
    rows = from_list("/v1/manifests", _api_params(filters), _row)
    return await export(request, viewer.api, kind, "manifests", _header(translator(request)), rows)


@router.get("/manifests/{manifest_no}", response_class=HTMLResponse)
async def manifest_detail(request: Request, manifest_no: str, viewer: SignedIn) -> Response:
    viewer.require("packages.read")
    manifest = await viewer.api.get(f"/v1/manifests/{manifest_no}")
    warehouses = await warehouse_names(viewer.api)
    return render(
        request, "manifests/detail.html", viewer=viewer, m=manifest, warehouses=warehouses
    )


@router.get("/manifests/{manifest_no}/manifest.pdf")
async def manifest_pdf(manifest_no: str, viewer: SignedIn) -> Response:
    """The printable manifest, for the browser's print."""
    viewer.require("packages.read")
    content, kind = await viewer.api.get_bytes(f"/v1/manifests/{manifest_no}/manifest.pdf")
    return Response(content, media_type=kind or "application/pdf")
