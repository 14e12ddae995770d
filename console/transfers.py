"""Transfers between warehouses (mirrors api/routes/transfers.py): the list with filters and
its export, a request form (from, to, SKU code or barcode and quantity per line), and a
transfer's page — lines and their figures, the timeline, approve / reject for a manager of the
source, ship for the source once picked, cancel before shipping, the transfer note to print,
and the page watching the transfer while it moves."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.client import Json, Refused
from console.form_fields import sku_named
from console.i18n import Translator, format_time
from console.pages import (
    MenuItem,
    SignedIn,
    Viewer,
    console_state,
    is_fragment_request,
    render,
    translator,
)
from console.security import CSRF_FIELD, check_csrf
from console.wh_lists import (
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

router = APIRouter()
MENU = (MenuItem("nav.stock_transfers", "/transfers", "transfers.read"),)
STATUSES: Final = (
    "requested",
    "approved",
    "picked",
    "in_transit",
    "closed",
    "rejected",
    "cancelled",
)
FILTERS: Final = {
    "status": one_of(*STATUSES),
    "from_warehouse_id": an_id,
    "to_warehouse_id": an_id,
    "q": a_number,
}
MOVING: Final = ("approved", "picked", "in_transit")  # the page watches these
DONE: Final = ("requested", "approved", "rejected", "cancelled", "shipped")
FORM_LINES: Final = 5
POLL_SECONDS: Final = 3


@router.get("/transfers", response_class=HTMLResponse)
async def transfer_list(request: Request, viewer: SignedIn) -> Response:
    viewer.require("transfers.read")
    filters = Filters.read(request.query_params, FILTERS)
    page = page_number(request.query_params)
    listing = await fetch_page(viewer.api, "/v1/transfers", filters.api_params(), page)
    context: dict[str, Any] = {
        **listing,
        "filters": filters,
        "warehouses": await warehouse_names(viewer.api),
    }
    if is_fragment_request(request):
        fragment = render(request, "transfers/_rows.html", viewer=viewer, **context)
        fragment.headers["HX-Push-Url"] = fragment_url(request, "/transfers", filters, page)
        return fragment
    return render(
        request,
        "transfers/list.html",
        viewer=viewer,
        statuses=STATUSES,
        can_request=viewer.can("transfers.request"),
        **context,
    )


def _header(t: Translator) -> list[str]:
    keys = ("transfer_no", "from", "to", "status", "created_at", "updated_at")
    return [t(f"transfers.col.{k}") for k in keys]


def _row(row: Json, t: Translator) -> list[str]:
    return [
        row["transfer_no"],
        str(row["from_warehouse_id"]),
        str(row["to_warehouse_id"]),
        t(f"transfers.status.{row['status']}"),
        format_time(row["created_at"]),
        format_time(row["updated_at"]),
    ]


@router.get("/transfers/export.{kind}")
async def transfer_export(request: Request, kind: str, viewer: SignedIn) -> Response:
    viewer.require("transfers.read")
    filters = Filters.read(request.query_params, FILTERS)
    rows = from_list("/v1/transfers", filters.api_params(), _row)
    header = _header(translator(request))
    return await export(request, viewer.api, kind, "transfers", header, rows)


# --- requesting ---------------------------------------------------------------------------------


async def _new_page(
    request: Request, viewer: Viewer, form: dict[str, str], refusal: str = "", status: int = 200
) -> Response:
    return render(
        request,
        "transfers/new.html",
        viewer=viewer,
        status=status,
        warehouses=await warehouse_names(viewer.api),
        form=form,
        lines=range(FORM_LINES),
        refusal=refusal,
    )


@router.get("/transfers/new", response_class=HTMLResponse)
async def transfer_new(request: Request, viewer: SignedIn) -> Response:
    viewer.require("transfers.request")
    return await _new_page(request, viewer, {})


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


@router.post("/transfers/new", response_class=HTMLResponse)
async def transfer_create(request: Request, viewer: SignedIn) -> Response:
    form = await _form(request)
    check_csrf(request, form.get(CSRF_FIELD))
    viewer.require("transfers.request")
    t = translator(request)
    lines: list[Json] = []
    for n in range(FORM_LINES):
        code = form.get(f"sku_{n}", "").strip()
        quantity = form.get(f"quantity_{n}", "").strip()
        if not code and not quantity:
            continue
        sku = await sku_named(viewer, code) if code else None
        if sku is None:
            return await _new_page(request, viewer, form, t("transfers.unknown_sku", sku=code), 422)
        if not quantity.isdigit() or not 0 < int(quantity) < 10**7:
            return await _new_page(request, viewer, form, t("transfers.bad_quantity"), 422)
        lines.append({"sku_id": sku, "quantity": int(quantity)})
    source, destination = form.get("from_warehouse_id", ""), form.get("to_warehouse_id", "")
    if not (lines and an_id(source) and an_id(destination)):
        return await _new_page(request, viewer, form, t("transfers.incomplete"), 422)
    body: Json = {
        "from_warehouse_id": int(source),
        "to_warehouse_id": int(destination),
        "lines": lines,
        "note": form.get("note", "").strip()[:500],
    }
    try:
        created = await viewer.api.post("/v1/transfers", body)
    except Refused as refusal:
        return await _new_page(request, viewer, form, refusal.detail, refusal.status)
    return back_to(request, f"/transfers/{created['transfer_no']}", done="requested")


# --- one transfer -------------------------------------------------------------------------------


async def _context(request: Request, viewer: Viewer, transfer_no: str) -> dict[str, Any]:
    transfer = await viewer.api.get(f"/v1/transfers/{transfer_no}")
    mine = await warehouse_names(viewer.api)
    status = transfer["status"]
    source = transfer["from_warehouse_id"] in mine
    return {
        "transfer": transfer,
        "warehouses": mine,
        "can_decide": viewer.can("transfers.approve") and source and status == "requested",
        "can_ship": viewer.can("transfers.ship") and source and status in ("approved", "picked"),
        "can_cancel": viewer.can("transfers.request")
        and status in ("requested", "approved", "picked"),
        "polling": status in MOVING,
        "poll_seconds": POLL_SECONDS,
        "workflow_url": console_state(request).config.workflow_url(f"transfer-{transfer_no}"),
    }


async def _detail(
    request: Request, viewer: Viewer, transfer_no: str, refusal: str = "", status: int = 200
) -> Response:
    done = request.query_params.get("done", "")
    return render(
        request,
        "transfers/detail.html",
        viewer=viewer,
        status=status,
        refusal=refusal,
        done=done if done in DONE else "",
        **await _context(request, viewer, transfer_no),
    )


@router.get("/transfers/{transfer_no}", response_class=HTMLResponse)
async def transfer_detail(request: Request, transfer_no: str, viewer: SignedIn) -> Response:
    viewer.require("transfers.read")
    return await _detail(request, viewer, transfer_no)


@router.get("/transfers/{transfer_no}/watch", response_class=HTMLResponse)
async def transfer_watch(request: Request, transfer_no: str, viewer: SignedIn) -> Response:
    """The status fragment the page polls while the transfer moves (it stops once it rests)."""
    viewer.require("transfers.read")
    context = await _context(request, viewer, transfer_no)
    return render(request, "transfers/_status.html", viewer=viewer, **context)


@router.get("/transfers/{transfer_no}/note.pdf")
async def transfer_note(request: Request, transfer_no: str, viewer: SignedIn) -> Response:
    viewer.require("transfers.read")
    body, media = await viewer.api.get_bytes(f"/v1/transfers/{transfer_no}/note.pdf")
    headers = {"Content-Disposition": f'inline; filename="{transfer_no}.pdf"'}
    return Response(body, media_type=media or "application/pdf", headers=headers)


async def _act(
    request: Request, viewer: Viewer, transfer_no: str, action: str, permission: str, done: str
) -> Response:
    form = await _form(request)
    check_csrf(request, form.get(CSRF_FIELD))
    viewer.require(permission)
    body: Json = {}
    if action in ("reject", "cancel"):
        reason = form.get("reason", "").strip()
        if len(reason) < 2:
            refusal = translator(request)("transfers.need_reason")
            return await _detail(request, viewer, transfer_no, refusal, 422)
        body = {"reason": reason[:500]}
    try:
        await viewer.api.post(f"/v1/transfers/{transfer_no}/{action}", body)
    except Refused as refusal:
        return await _detail(request, viewer, transfer_no, refusal.detail, refusal.status)
    return back_to(request, f"/transfers/{transfer_no}", done=done)


@router.post("/transfers/{transfer_no}/approve", response_class=HTMLResponse)
async def transfer_approve(request: Request, transfer_no: str, viewer: SignedIn) -> Response:
    return await _act(request, viewer, transfer_no, "approve", "transfers.approve", "approved")


@router.post("/transfers/{transfer_no}/reject", response_class=HTMLResponse)
async def transfer_reject(request: Request, transfer_no: str, viewer: SignedIn) -> Response:
    return await _act(request, viewer, transfer_no, "reject", "transfers.approve", "rejected")


@router.post("/transfers/{transfer_no}/ship", response_class=HTMLResponse)
async def transfer_ship(request: Request, transfer_no: str, viewer: SignedIn) -> Response:
    return await _act(request, viewer, transfer_no, "ship", "transfers.ship", "shipped")


@router.post("/transfers/{transfer_no}/cancel", response_class=HTMLResponse)
async def transfer_cancel(request: Request, transfer_no: str, viewer: SignedIn) -> Response:
    return await _act(request, viewer, transfer_no, "cancel", "transfers.request", "cancelled")
