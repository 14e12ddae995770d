"""Stock (mirrors api/routes/stock.py and stock_counts.py): figures per SKU and warehouse, one
SKU's stock in a warehouse with its batches per location and its ledger rows, adjustments with
a reason, the safety hold, disabling a batch; the ledger as a list; stock counts (open from the
warehouse's location grid, count, approve or cancel)."""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from console.client import Json, Refused
from console.i18n import Translator, format_time
from console.lists import (
    Filters,
    a_number,
    an_id,
    back_to,
    export,
    fetch_page,
    fragment_url,
    from_list,
    one_of,
    page_number,
    warehouse_names,
)
from console.lookups import sku_names
from console.pages import SignedIn, Viewer, is_fragment_request, render, translator
from console.security import CSRF_FIELD, check_csrf
from models.contracts.inventory import MOVEMENT_TYPES

router = APIRouter()
STOCK_SORTS: Final = ("sku_id", "-on_hand", "on_hand", "-reserved", "reserved")

COUNT_STATUSES: Final = ("counting", "approved", "cancelled")
STOCK_FILTERS: Final = {"sku_id": an_id, "warehouse_id": an_id, "sort": one_of(*STOCK_SORTS)}
MOVEMENT_FILTERS: Final = {
    "sku_id": an_id,
    "warehouse_id": an_id,
    "movement_type": one_of(*MOVEMENT_TYPES),
    "ref_no": a_number,
}
Csrf = Annotated[str, Form(alias=CSRF_FIELD)]


# --- stock per SKU and warehouse --------------------------------------------------------------


@router.get("/stock", response_class=HTMLResponse)
async def stock_list(request: Request, viewer: SignedIn) -> Response:
    viewer.require("stock.read")
    filters = Filters.read(request.query_params, STOCK_FILTERS, "sku_id")
    page = page_number(request.query_params)
    listing = await fetch_page(viewer.api, "/v1/stock", filters.api_params(), page)
    context: dict[str, Any] = {
        **listing,
        "filters": filters,
        "warehouses": await warehouse_names(viewer.api),
        "skus": await sku_names(viewer.api, {r["sku_id"] for r in listing["rows"]}),
    }
    if is_fragment_request(request):
        fragment = render(request, "stock/_rows.html", viewer=viewer, **context)
        fragment.headers["HX-Push-Url"] = fragment_url(request, "/stock", filters, page)
        return fragment
    return render(request, "stock/list.html", viewer=viewer, sorts=STOCK_SORTS, **context)


def _stock_header(t: Translator) -> list[str]:
    keys = ("sku", "warehouse", "on_hand", "reserved", "in_transit", "safety_hold", "blocked")
    return [t(f"stock.col.{k}") for k in (*keys, "sellable", "awaiting_putaway")]


def _stock_row(row: Json, t: Translator) -> list[str]:
    figures = ("on_hand", "reserved", "in_transit", "safety_hold", "blocked", "sellable")
    waiting = str(row.get("awaiting_putaway", 0))  # in receiving, not pickable yet
    return [str(row["sku_id"]), str(row["warehouse_id"]), *(str(row[k]) for k in figures), waiting]


@router.get("/stock/export.{kind}")
async def stock_export(request: Request, kind: str, viewer: SignedIn) -> Response:
    viewer.require("stock.read")
    filters = Filters.read(request.query_params, STOCK_FILTERS, "sku_id")
    rows = from_list("/v1/stock", filters.api_params(), _stock_row)
    return await export(
        request, viewer.api, kind, "stock", _stock_header(translator(request)), rows
    )


# --- batches per location ---------------------------------------------------------------------

BATCH_FILTERS: Final = {"sku_id": an_id, "warehouse_id": an_id, "location_id": an_id}


@router.get("/stock/batches", response_class=HTMLResponse)
async def batch_list(request: Request, viewer: SignedIn) -> Response:
    """Stock per location and batch (what a location holds, where a SKU lies), FEFO order."""
    viewer.require("stock.read")
    filters = Filters.read(request.query_params, BATCH_FILTERS)
    page = page_number(request.query_params)
    listing = await fetch_page(viewer.api, "/v1/stock/batches", filters.api_params(), page)
    context: dict[str, Any] = {
        **listing,
        "filters": filters,
        "warehouses": await warehouse_names(viewer.api),
        "skus": await sku_names(viewer.api, {r["sku_id"] for r in listing["rows"]}),
    }
    if is_fragment_request(request):
        fragment = render(request, "stock/_batch_rows.html", viewer=viewer, **context)
        fragment.headers["HX-Push-Url"] = fragment_url(request, "/stock/batches", filters, page)
        return fragment
    return render(request, "stock/batches.html", viewer=viewer, **context)


def _batch_header(t: Translator) -> list[str]:
    keys = ("location", "no", "produced", "expiry", "quantity")
    return [
        t("stock.col.sku"),
        t("stock.col.warehouse"),
        *(t(f"stock.batch.{k}") for k in keys),
        t("stock.col.reserved"),
        t("stock.batch.state"),
    ]


def _batch_row(row: Json, t: Translator) -> list[str]:
    return [
        str(row["sku_id"]),
        str(row["warehouse_id"]),
        str(row["location_id"]),
        row["batch_no"],
        row["production_date"] or "",
        row["expiry_date"] or "",
        str(row["quantity"]),
        str(row["reserved"]),
        t("stock.batch.disabled") if row["disabled"] else t("stock.batch.enabled"),
    ]


@router.get("/stock/batches/export.{kind}")
async def batch_export(request: Request, kind: str, viewer: SignedIn) -> Response:
    viewer.require("stock.read")
    filters = Filters.read(request.query_params, BATCH_FILTERS)
    rows = from_list("/v1/stock/batches", filters.api_params(), _batch_row)
    return await export(
        request, viewer.api, kind, "batches", _batch_header(translator(request)), rows
    )


# --- one SKU in one warehouse -----------------------------------------------------------------


async def stock_page(
    request: Request,
    viewer: Viewer,
    sku_id: int,
    warehouse_id: int,
    *,
    done: str = "",
    refusal: tuple[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The figures, batches, ledger rows and (for those who may) the forms; `refusal` is the
    form the API refused and its words."""
    api = viewer.api
    where = {"sku_id": sku_id, "warehouse_id": warehouse_id}
    figures = (await api.get("/v1/stock", where))["data"]
    batches = (await api.get("/v1/stock/batches", {**where, "limit": 500}))["data"]
    page = page_number(request.query_params)
    movements = await fetch_page(api, "/v1/stock/movements", where, page)
    locations: list[Json] = []
    if viewer.can("stock.adjust") or viewer.can("stock.move"):
        path = f"/v1/warehouses/{warehouse_id}/locations"
        locations = (await api.get(path, {"limit": 500}))["data"]
    names = {loc["id"]: loc["code"] for loc in locations}
    for batch in batches:
        names.setdefault(batch["location_id"], str(batch["location_id"]))
    return render(
        request,
        "stock/detail.html",
        viewer=viewer,
        status=status,
        sku_id=sku_id,
        warehouse_id=warehouse_id,
        sku=(await sku_names(api, {sku_id}))[sku_id],
        warehouse=(await warehouse_names(api)).get(warehouse_id, str(warehouse_id)),
        figures=figures[0] if figures else None,
        batches=batches,
        movements=movements,
        locations=locations,
        location_names=names,
        can_adjust=viewer.can("stock.adjust"),
        can_move=viewer.can("stock.move") and bool(locations),
        done=done if done in STOCK_DONE else "",
        refusal=refusal,
        move_id=f"console-{secrets.token_hex(8)}",
    )


STOCK_DONE: Final = ("adjusted", "held", "disabled", "enabled", "moved")


@router.get("/stock/{sku_id:int}/{warehouse_id:int}", response_class=HTMLResponse)
async def stock_detail(
    request: Request, sku_id: int, warehouse_id: int, viewer: SignedIn, done: str = ""
) -> Response:
    viewer.require("stock.read")
    return await stock_page(request, viewer, sku_id, warehouse_id, done=done)


async def _stock_action(
    request: Request,
    viewer: Viewer,
    where: tuple[int, int],
    call: tuple[str, str, Json],
    done: str,
) -> Response:
    """PUT/POST/PATCH the API call as the person; back to the stock page saying `done`, or the
    page again with the API's refusal next to the form."""
    method, path, body = call
    sku_id, warehouse_id = where
    try:
        await viewer.api.send(method, path, body)
    except Refused as refused:
        form = done if done != "enabled" else "disabled"
        return await stock_page(
            request,
            viewer,
            sku_id,
            warehouse_id,
            refusal=(form, refused.detail),
            status=refused.status,
        )
    return back_to(request, f"/stock/{sku_id}/{warehouse_id}", done=done)


@router.post("/stock/{sku_id:int}/{warehouse_id:int}/adjust", response_class=HTMLResponse)
async def adjust(
    request: Request,
    sku_id: int,
    warehouse_id: int,
    viewer: SignedIn,
    location_id: Annotated[str, Form()] = "",
    quantity_delta: Annotated[str, Form()] = "",
    batch_no: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    csrf: Csrf = "",
) -> Response:
    check_csrf(request, csrf)
    viewer.require("stock.adjust")
    delta = quantity_delta.strip()
    if not (an_id(location_id) and delta.lstrip("-").isdigit() and int(delta) != 0):
        refusal = ("adjusted", translator(request)("stock.adjust.invalid"))
        return await stock_page(request, viewer, sku_id, warehouse_id, refusal=refusal, status=422)
    body = {
        "sku_id": sku_id,
        "warehouse_id": warehouse_id,
        "location_id": int(location_id),
        "quantity_delta": int(delta),
        "batch_no": batch_no.strip(),
        "reason": reason,
        "client_ref": f"console-{secrets.token_hex(8)}",
    }
    call = ("POST", "/v1/stock/adjustments", body)
    return await _stock_action(request, viewer, (sku_id, warehouse_id), call, "adjusted")


@router.post("/stock/{sku_id:int}/{warehouse_id:int}/move", response_class=HTMLResponse)
async def move(
    request: Request,
    sku_id: int,
    warehouse_id: int,
    viewer: SignedIn,
    batch_id: Annotated[str, Form()] = "",
    to_location_id: Annotated[str, Form()] = "",
    quantity: Annotated[str, Form()] = "",
    move_id: Annotated[str, Form()] = "",
    csrf: Csrf = "",
) -> Response:
    """移库: the units of one batch row to another location; the form's move id makes a
    resubmitted form move them once."""
    check_csrf(request, csrf)
    viewer.require("stock.move")
    where = {"sku_id": sku_id, "warehouse_id": warehouse_id, "limit": 500}
    batches = (await viewer.api.get("/v1/stock/batches", where))["data"]
    source = next((b for b in batches if str(b["id"]) == batch_id.strip()), None)
    amount = quantity.strip()
    if source is None or not an_id(to_location_id) or not (amount.isdigit() and int(amount) > 0):
        refusal = ("moved", translator(request)("stock.move.invalid"))
        return await stock_page(request, viewer, sku_id, warehouse_id, refusal=refusal, status=422)
    body = {
        "move_id": move_id.strip() or f"console-{secrets.token_hex(8)}",
        "sku_id": sku_id,
        "warehouse_id": warehouse_id,
        "from_location_id": source["location_id"],
        "to_location_id": int(to_location_id),
        "quantity": int(amount),
        "batch_no": source["batch_no"],
    }
    call = ("POST", "/v1/stock/moves", body)
    return await _stock_action(request, viewer, (sku_id, warehouse_id), call, "moved")


@router.post("/stock/{sku_id:int}/{warehouse_id:int}/safety-hold", response_class=HTMLResponse)
async def safety_hold(
    request: Request,
    sku_id: int,
    warehouse_id: int,
    viewer: SignedIn,
    safety_hold: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    csrf: Csrf = "",
) -> Response:
    check_csrf(request, csrf)
    viewer.require("stock.adjust")
    if not safety_hold.strip().isdigit():
        refusal = ("held", translator(request)("stock.hold.invalid"))
        return await stock_page(request, viewer, sku_id, warehouse_id, refusal=refusal, status=422)
    path = f"/v1/stock/{sku_id}/{warehouse_id}/safety-hold"
    call = ("PUT", path, {"safety_hold": int(safety_hold), "reason": reason})
    return await _stock_action(request, viewer, (sku_id, warehouse_id), call, "held")


@router.post(
    "/stock/{sku_id:int}/{warehouse_id:int}/batches/{batch_id:int}", response_class=HTMLResponse
)
async def batch_switch(
    request: Request,
    sku_id: int,
    warehouse_id: int,
    batch_id: int,
    viewer: SignedIn,
    disabled: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    csrf: Csrf = "",
) -> Response:
    check_csrf(request, csrf)
    viewer.require("stock.adjust")
    off = disabled == "true"
    call = ("PATCH", f"/v1/stock/batches/{batch_id}", {"disabled": off, "reason": reason})
    done = "disabled" if off else "enabled"
    return await _stock_action(request, viewer, (sku_id, warehouse_id), call, done)


# --- the ledger -------------------------------------------------------------------------------


@router.get("/stock/movements", response_class=HTMLResponse, name="movements")
async def movement_list(request: Request, viewer: SignedIn) -> Response:
    viewer.require("stock.read")
    filters = Filters.read(request.query_params, MOVEMENT_FILTERS)
    page = page_number(request.query_params)
    listing = await fetch_page(viewer.api, "/v1/stock/movements", filters.api_params(), page)
    context: dict[str, Any] = {**listing, "filters": filters}
    if is_fragment_request(request):
        fragment = render(request, "stock/_movements.html", viewer=viewer, **context)
        fragment.headers["HX-Push-Url"] = fragment_url(request, "/stock/movements", filters, page)
        return fragment
    return render(
        request,
        "stock/movements.html",
        viewer=viewer,
        types=MOVEMENT_TYPES,
        warehouses=await warehouse_names(viewer.api),
        **context,
    )


def _movement_header(t: Translator) -> list[str]:
    keys = ("at", "type", "sku", "warehouse", "location", "batch", "on_hand", "reserved")
    return [t(f"stock.mv.{k}") for k in (*keys, "ref", "actor", "reason")]


def _movement_row(row: Json, t: Translator) -> list[str]:
    kind = f"movement.{row['movement_type']}"
    return [
        format_time(row["created_at"]),
        t(kind) if t.has(kind) else row["movement_type"],
        str(row["sku_id"]),
        str(row["warehouse_id"]),
        str(row["location_id"] or ""),
        row["batch_no"] or "",
        str(row["on_hand_delta"]),
        str(row["reserved_delta"]),
        f"{row['ref_type']} {row['ref_no']}",
        row["actor"],
        row["reason"],
    ]


@router.get("/stock/movements/export.{kind}")
async def movement_export(request: Request, kind: str, viewer: SignedIn) -> Response:
    viewer.require("stock.read")
    filters = Filters.read(request.query_params, MOVEMENT_FILTERS)
    rows = from_list("/v1/stock/movements", filters.api_params(), _movement_row)
    return await export(
        request, viewer.api, kind, "movements", _movement_header(translator(request)), rows
    )


# --- stock counts -----------------------------------------------------------------------------

COUNT_FILTERS: Final = {"warehouse_id": an_id, "status": one_of(*COUNT_STATUSES)}


@router.get("/counts", response_class=HTMLResponse)
async def count_list(request: Request, viewer: SignedIn) -> Response:
    """A warehouse's stock counts (the first the person may see unless one is chosen)."""
    viewer.require("stock.read")
    filters = Filters.read(request.query_params, COUNT_FILTERS)
    warehouses = await warehouse_names(viewer.api)
    chosen = int(filters["warehouse_id"]) if filters["warehouse_id"] else min(warehouses, default=0)
    listing: Json = {"rows": [], "count": 0, "page": 1, "pages": 1}
    if chosen:
        path = f"/v1/warehouses/{chosen}/counts"
        params = filters.api_params("warehouse_id")
        listing = await fetch_page(viewer.api, path, params, page_number(request.query_params))
    return render(
        request,
        "stock/counts.html",
        viewer=viewer,
        filters=filters,
        chosen=chosen,
        warehouses=warehouses,
        statuses=COUNT_STATUSES,
        **listing,
    )


@router.post("/warehouses/{warehouse_id}/counts", response_class=HTMLResponse)
async def open_count(
    request: Request,
    warehouse_id: int,
    viewer: SignedIn,
    location_ids: Annotated[list[str] | None, Form()] = None,
    csrf: Csrf = "",
) -> Response:
    check_csrf(request, csrf)
    viewer.require("stock.count")
    wanted = [int(i) for i in location_ids or [] if an_id(i)]
    if not wanted:
        return back_to(request, f"/warehouses/{warehouse_id}", refused="count_needs_locations")
    count = await viewer.api.post(f"/v1/warehouses/{warehouse_id}/counts", {"location_ids": wanted})
    return back_to(request, f"/counts/{count['count_no']}", done="opened")


COUNT_DONE: Final = ("opened", "counted", "approved", "cancelled")


async def count_page(
    request: Request,
    viewer: Viewer,
    count_no: str,
    *,
    done: str = "",
    refusal: str = "",
    status: int = 200,
) -> Response:
    count = await viewer.api.get(f"/v1/counts/{count_no}")
    path = f"/v1/warehouses/{count['warehouse_id']}/locations"
    locations = {
        loc["id"]: loc["code"] for loc in (await viewer.api.get(path, {"limit": 500}))["data"]
    }
    return render(
        request,
        "stock/count.html",
        viewer=viewer,
        status=status,
        count=count,
        locations=locations,
        warehouse=(await warehouse_names(viewer.api)).get(count["warehouse_id"], ""),
        can_enter=viewer.can("stock.count_entry") and count["status"] == "counting",
        can_decide=viewer.can("stock.count") and count["status"] == "counting",
        done=done if done in COUNT_DONE else "",
        refusal=refusal,
    )


@router.get("/counts/{count_no}", response_class=HTMLResponse)
async def count_detail(
    request: Request, count_no: str, viewer: SignedIn, done: str = ""
) -> Response:
    viewer.require("stock.read")
    return await count_page(request, viewer, count_no, done=done)


@router.get("/counts/{count_no}/count-sheet.pdf")
async def count_sheet(request: Request, count_no: str, viewer: SignedIn) -> Response:
    """The count's blind count sheet (locations and their barcodes, no book figure), as the API
    prints it, for the browser to print."""
    viewer.require("stock.read")
    body, media = await viewer.api.get_bytes(f"/v1/counts/{count_no}/count-sheet.pdf")
    headers = {"Content-Disposition": f'inline; filename="{count_no}.pdf"'}
    return Response(body, media_type=media or "application/pdf", headers=headers)


@router.post("/counts/{count_no}/entries", response_class=HTMLResponse)
async def count_entry(
    request: Request,
    count_no: str,
    viewer: SignedIn,
    location_id: Annotated[str, Form()] = "",
    sku_id: Annotated[str, Form()] = "",
    batch_no: Annotated[str, Form()] = "",
    quantity: Annotated[str, Form()] = "",
    csrf: Csrf = "",
) -> Response:
    check_csrf(request, csrf)
    viewer.require("stock.count_entry")
    if not (an_id(location_id) and an_id(sku_id) and quantity.strip().isdigit()):
        words = translator(request)("count.entry.invalid")
        return await count_page(request, viewer, count_no, refusal=words, status=422)
    entry = {
        "entry_key": f"console-{secrets.token_hex(8)}",
        "location_id": int(location_id),
        "sku_id": int(sku_id),
        "batch_no": batch_no.strip(),
        "quantity": int(quantity),
    }
    return await _count_action(
        request, viewer, count_no, "entries", {"entries": [entry]}, "counted"
    )


@router.post("/counts/{count_no}/{decision}", response_class=HTMLResponse)
async def count_decision(
    request: Request, count_no: str, decision: str, viewer: SignedIn, csrf: Csrf = ""
) -> Response:
    check_csrf(request, csrf)
    viewer.require("stock.count")
    if decision not in ("approve", "cancel"):
        raise Refused(404, {"detail": decision})
    done = "approved" if decision == "approve" else "cancelled"
    return await _count_action(request, viewer, count_no, decision, {}, done)


async def _count_action(
    request: Request, viewer: Viewer, count_no: str, action: str, body: Json, done: str
) -> Response:
    try:
        await viewer.api.post(f"/v1/counts/{count_no}/{action}", body)
    except Refused as refused:
        return await count_page(
            request, viewer, count_no, refusal=refused.detail, status=refused.status
        )
    return back_to(request, f"/counts/{count_no}", done=done)
