"""Transfers between warehouses (mirrors api/routes/transfers.py): the list with filters and
its export, a request form (from, to, SKU code or barcode and quantity per line), and a
transfer's page — lines and their figures, the timeline, approve / reject for a manager of the
source, ship for the source once picked, cancel before shipping, the transfer note to print,
and the page watching the transfer while it moves."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.campaigns import Part
from console.client import Json
from console.form_fields import sku_named
from console.i18n import Translator, format_time
from console.lists import a_number, an_id, one_of, warehouse_names
from console.pages import MenuItem, SignedIn, Viewer, console_state, render

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
TRANSFERS: Final = Part(
    "/transfers", "/v1/transfers", "transfers", "transfers.read", FILTERS, DONE, warehouses=True
)


@router.get("/transfers", response_class=HTMLResponse)
async def transfer_list(request: Request, viewer: SignedIn) -> Response:
    can_request = viewer.can("transfers.request")
    return await TRANSFERS.list_page(request, viewer, statuses=STATUSES, can_request=can_request)


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
    return await TRANSFERS.export(request, viewer, kind, "transfers", _header, _row)


# --- requesting ---------------------------------------------------------------------------------


async def _choices(viewer: Viewer) -> dict[str, Any]:
    return {"warehouses": await warehouse_names(viewer.api), "lines": range(FORM_LINES)}


async def _body(viewer: Viewer, form: dict[str, str], t: Translator) -> Json | str:
    """The transfer the form requests, or what is wrong with it (the first line at fault)."""
    lines: list[Json] = []
    for n in range(FORM_LINES):
        code = form.get(f"sku_{n}", "").strip()
        quantity = form.get(f"quantity_{n}", "").strip()
        if not code and not quantity:
            continue
        sku = await sku_named(viewer, code) if code else None
        if sku is None:
            return t("transfers.unknown_sku", sku=code)
        if not quantity.isdigit() or not 0 < int(quantity) < 10**7:
            return t("transfers.bad_quantity")
        lines.append({"sku_id": sku, "quantity": int(quantity)})
    source, destination = form.get("from_warehouse_id", ""), form.get("to_warehouse_id", "")
    if not (lines and an_id(source) and an_id(destination)):
        return t("transfers.incomplete")
    return {
        "from_warehouse_id": int(source),
        "to_warehouse_id": int(destination),
        "lines": lines,
        "note": form.get("note", "").strip()[:500],
    }


# the request form (`/transfers/new`) and its post
TRANSFERS.form_pages(
    router, "transfers.request", _body, choices=_choices, key="transfer_no", done="requested"
)


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
    context = await _context(request, viewer, transfer_no)
    return TRANSFERS.detail_page(request, viewer, context, refusal, status)


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
    async def again(refusal: str, status: int) -> Response:
        return await _detail(request, viewer, transfer_no, refusal, status)

    reasoned = action in ("reject", "cancel")
    return await TRANSFERS.act(
        request,
        viewer,
        transfer_no,
        action,
        permission=permission,
        done=done,
        again=again,
        need_reason="transfers.need_reason" if reasoned else "",
    )


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
