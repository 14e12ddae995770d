"""Warehouse (mirrors api/routes/warehouses.py and the carriers' tracking ranges): the
warehouses the person may see, one warehouse with its location grid (zone × aisle × bay, levels
in the cell; a stock count opens from a selection of its locations), and the tracking-number
ranges bought from carriers with the ones running `low` flagged. The part also carries the
stock pages (console/stock.py) and the waves and outbound pages (console/waves.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console import stock, waves
from console.client import ApiClient, Json
from console.i18n import Translator, format_time
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
    yes_no,
)
from console.pages import MenuItem, SignedIn, is_fragment_request, render, translator

router = APIRouter()
router.include_router(stock.router)
router.include_router(waves.router)
MENU = (
    MenuItem("nav.warehouses", "/warehouses", "warehouse.read"),
    MenuItem("nav.stock", "/stock", "stock.read"),
    MenuItem("nav.waves", "/waves", "waves.read"),
    MenuItem("nav.outbound", "/outbound", "waves.read"),
    MenuItem("nav.packages", "/packages", "packages.read"),
    MenuItem("nav.tracking_ranges", "/tracking-ranges", "tracking.read"),
)
LOCATION_KINDS: Final = ("storage", "receiving", "damage", "put_wall", "pack", "exception")
WAREHOUSE_FILTERS: Final = {"active": a_flag}
RANGE_FILTERS: Final = {"carrier_id": an_id, "low": a_flag}


def a_zone(value: str) -> bool:
    return 0 < len(value) <= 8 and value.isascii() and value.isalnum()


# --- warehouses -------------------------------------------------------------------------------


async def _warehouses(api: ApiClient, filters: Filters) -> list[Json]:
    """Every warehouse the person may see (a few: one API page), filtered here by `active`."""
    rows: list[Json] = (await api.get("/v1/warehouses", {"limit": 500}))["data"]
    if filters["active"]:
        rows = [w for w in rows if w["active"] == (filters["active"] == "true")]
    return rows


@router.get("/warehouses", response_class=HTMLResponse)
async def warehouse_list(request: Request, viewer: SignedIn) -> Response:
    viewer.require("warehouse.read")
    filters = Filters.read(request.query_params, WAREHOUSE_FILTERS)
    rows = await _warehouses(viewer.api, filters)
    page = page_number(request.query_params)
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    context: dict[str, Any] = {
        "rows": rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
        "count": len(rows),
        "page": page,
        "pages": pages,
        "filters": filters,
    }
    if is_fragment_request(request):
        fragment = render(request, "warehouse/_rows.html", viewer=viewer, **context)
        fragment.headers["HX-Push-Url"] = fragment_url(request, "/warehouses", filters, page)
        return fragment
    return render(request, "warehouse/list.html", viewer=viewer, **context)


def _warehouse_header(t: Translator) -> list[str]:
    keys = ("code", "name", "region", "timezone", "address", "active")
    return [t(f"warehouse.col.{k}") for k in keys]


@router.get("/warehouses/export.{kind}")
async def warehouse_export(request: Request, kind: str, viewer: SignedIn) -> Response:
    viewer.require("warehouse.read")
    filters = Filters.read(request.query_params, WAREHOUSE_FILTERS)
    wanted = filters["active"]

    def row(w: Json, t: Translator) -> list[str] | None:
        if wanted and w["active"] != (wanted == "true"):
            return None
        fields = (w["code"], w["name"], w["region_code"], w["timezone"], w["address"])
        return [*fields, yes_no(t, w["active"])]

    rows = from_list("/v1/warehouses", {}, row)
    return await export(
        request, viewer.api, kind, "warehouses", _warehouse_header(translator(request)), rows
    )


LOCATION_FILTERS: Final = {"zone": a_zone, "kind": one_of(*LOCATION_KINDS)}


@router.get("/warehouses/{warehouse_id:int}", response_class=HTMLResponse)
async def warehouse_detail(request: Request, warehouse_id: int, viewer: SignedIn) -> Response:
    """The warehouse and its location grid: one table per zone, aisles down, bays across, the
    cell listing the level locations there (a checkbox each, to open a stock count)."""
    viewer.require("warehouse.read")
    warehouse = await viewer.api.get(f"/v1/warehouses/{warehouse_id}")
    filters = Filters.read(request.query_params, LOCATION_FILTERS)
    path = f"/v1/warehouses/{warehouse_id}/locations"
    locations: list[Json] = []
    skip = 0
    while True:  # a grid shows every location
        batch = await viewer.api.get(path, {**filters.api_params(), "skip": skip, "limit": 500})
        locations += batch["data"]
        skip += len(batch["data"])
        if not batch["data"] or skip >= int(batch["count"]):
            break
    grid: dict[str, dict[int, dict[int, list[Json]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for loc in locations:
        grid[loc["zone"]][loc["aisle"]][loc["bay"]].append(loc)
    zones = [
        {
            "zone": zone,
            "aisles": sorted(aisles.items()),
            "bays": sorted({bay for cells in aisles.values() for bay in cells}),
        }
        for zone, aisles in sorted(grid.items())
    ]
    refused = request.query_params.get("refused", "")
    return render(
        request,
        "warehouse/detail.html",
        viewer=viewer,
        warehouse=warehouse,
        zones=zones,
        located=len(locations),
        filters=filters,
        kinds=LOCATION_KINDS,
        can_count=viewer.can("stock.count"),
        can_plan=viewer.can("waves.plan"),
        can_waves=viewer.can("waves.read"),
        refused=refused if refused == "count_needs_locations" else "",
    )


# --- tracking-number ranges -------------------------------------------------------------------


async def _ranges(api: ApiClient, filters: Filters) -> tuple[dict[int, str], list[Json]]:
    """The carriers and their ranges (a handful each), the `low` filter applied here."""
    listed = (await api.get("/v1/carriers", {"limit": 500}))["data"]
    carriers = {c["id"]: f"{c['name']} ({c['code']})" for c in listed}
    wanted = [int(filters["carrier_id"])] if filters["carrier_id"] else sorted(carriers)
    rows: list[Json] = []
    for carrier in wanted:
        path = f"/v1/carriers/{carrier}/tracking-ranges"
        rows += (await api.get(path, {"limit": 500}))["data"]
    if filters["low"]:
        rows = [r for r in rows if r["low"] == (filters["low"] == "true")]
    return carriers, rows


@router.get("/tracking-ranges", response_class=HTMLResponse)
async def tracking_ranges(request: Request, viewer: SignedIn) -> Response:
    viewer.require("tracking.read")
    filters = Filters.read(request.query_params, RANGE_FILTERS)
    carriers, rows = await _ranges(viewer.api, filters)
    page = page_number(request.query_params)
    return render(
        request,
        "warehouse/ranges.html",
        viewer=viewer,
        carriers=carriers,
        rows=rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
        count=len(rows),
        page=page,
        pages=max(1, -(-len(rows) // PAGE_SIZE)),
        filters=filters,
    )


def _range_header(t: Translator) -> list[str]:
    keys = ("carrier", "prefix", "next", "last", "remaining", "watermark", "low", "created_at")
    return [t(f"ranges.col.{k}") for k in keys]


def _range_row(carriers: dict[int, str], row: Json, t: Translator) -> list[str]:
    return [
        carriers.get(row["carrier_id"], str(row["carrier_id"])),
        row["prefix"],
        str(row["next_number"]),
        str(row["last_number"]),
        str(row["remaining"]),
        str(row["low_watermark"]),
        yes_no(t, row["low"]),
        format_time(row["created_at"]),
    ]


@router.get("/tracking-ranges/export.{kind}")
async def range_export(request: Request, kind: str, viewer: SignedIn) -> Response:
    viewer.require("tracking.read")
    filters = Filters.read(request.query_params, RANGE_FILTERS)

    async def produce(api: ApiClient, t: Translator) -> AsyncIterator[list[str]]:
        carriers, rows = await _ranges(api, filters)
        for row in rows:
            yield _range_row(carriers, row, t)

    return await export(
        request, viewer.api, kind, "tracking-ranges", _range_header(translator(request)), produce
    )
