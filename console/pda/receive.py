"""Receiving against a purchase order: scan the PO, scan a line's SKU, accepted and rejected
units, batch and dates, the location."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from console.client import ApiClient, Forbidden, Json, NotFound, Refused
from console.pda.common import Csrf, DeviceApi, ScanIdField, back, page, whoami
from console.security import check_csrf

router = APIRouter()


# --- receiving -----------------------------------------------------------------------------

RECEIVE_ERRORS: Final = frozenset({"no_po", "wrong_sku", "quantity", "location", "date", "batch"})
RECEIVE_MESSAGES: Final = RECEIVE_ERRORS | {"received", "refused"}


@router.get("/receive", response_class=HTMLResponse)
async def receive_start(request: Request, api: DeviceApi, msg: str | None = None) -> Response:
    me = await whoami(api)
    msg = msg if msg in RECEIVE_ERRORS else None
    return page(
        request, "pda/receive_start.html", device=me, msg=msg, result="error" if msg else None
    )


@router.post("/receive")
async def receive_find(
    request: Request, api: DeviceApi, csrf: Csrf = "", code: Annotated[str, Form()] = ""
) -> Response:
    check_csrf(request, csrf)
    number = code.strip()
    if not number or not number.replace("-", "").isalnum():
        return back(request, "/receive", msg="no_po")
    return back(request, f"/receive/{number}")


async def _open_lines(api: ApiClient, po: Json, warehouse_id: int) -> list[Json]:
    """The PO's lines for this device's warehouse, each with its SKU (code, name, barcode)."""
    lines = []
    for line in po["lines"]:
        if line["warehouse_id"] != warehouse_id:
            continue
        sku = await api.get(f"/v1/skus/{line['sku_id']}")
        lines.append({**line, "sku": sku})
    return lines


@router.get("/receive/{po_no}", response_class=HTMLResponse)
async def receive_page(
    request: Request,
    po_no: str,
    api: DeviceApi,
    msg: str | None = None,
    ok: bool | None = None,
    receipt: str | None = None,
    sku: str | None = None,
    at: str | None = None,
) -> Response:
    """The PO's lines in this warehouse (ordered, accepted, rejected, still open). First scan a
    line's SKU (`sku`); then enter what passed QC and what did not and the putaway location (the
    last one used is kept, `at`), Enter books it."""
    me = await whoami(api)
    try:
        po = await api.get(f"/v1/purchase-orders/{po_no}")
    except (NotFound, Forbidden, Refused):
        return back(request, "/receive", msg="no_po")
    lines = await _open_lines(api, po, int(me["warehouse_id"]))
    if not lines:
        return back(request, "/receive", msg="no_po")
    result = None if ok is None else ("ok" if ok else "error")
    msg = msg if msg in RECEIVE_MESSAGES else None
    chosen = None
    if sku is not None:
        chosen = next((ln for ln in lines if ln["sku"]["barcode"] == sku.strip()), None)
        if chosen is None:
            result, msg = "error", "wrong_sku"
    return page(
        request,
        "pda/receive.html",
        device=me,
        po=po,
        lines=lines,
        open_lines=[ln for ln in lines if ln["open"] > 0],
        chosen=chosen,
        at=at or "",
        result=result,
        msg=msg,
        receipt=receipt,
    )


async def _location_id(api: ApiClient, warehouse_id: int, barcode: str) -> int | None:
    for skip in range(0, 5000, 500):
        found = await api.get(
            f"/v1/warehouses/{warehouse_id}/locations", {"skip": skip, "limit": 500}
        )
        for location in found["data"]:
            if barcode in (location["barcode"], location["code"]):
                return int(location["id"])
        if len(found["data"]) < 500:
            return None
    return None


def _count(text: str) -> int | None:
    text = text.strip() or "0"
    return int(text) if text.isdigit() and int(text) <= 1_000_000 else None


def _day(text: str) -> str | bool | None:
    """A date as the API takes it (YYYY-MM-DD), None when left empty, False when unreadable."""
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        return False


class ReceiptForm:
    """What the worker entered for one receipt of one line, as the form sent it."""

    def __init__(self, **fields: str) -> None:
        self.code = fields.get("code", "").strip()
        self.accepted = fields.get("accepted", "")
        self.rejected = fields.get("rejected", "")
        self.location = fields.get("location", "").strip()
        self.batch = fields.get("batch", "").strip()[:40]
        self.produced = fields.get("produced", "")
        self.expires = fields.get("expires", "")


async def _receipt_line(
    api: ApiClient, po: Json, warehouse_id: int, form: ReceiptForm
) -> Json | str:
    """The receipt's line and putaway location, or what is wrong with the form (a message key)."""
    skus = await api.get("/v1/skus", {"barcode": form.code}) if form.code else {"data": []}
    sku_ids = {int(s["id"]): s for s in skus["data"]}
    mine = [ln for ln in po["lines"] if ln["warehouse_id"] == warehouse_id]
    line = next((ln for ln in mine if ln["sku_id"] in sku_ids), None)
    good, bad = _count(form.accepted), _count(form.rejected)
    made, best_before = _day(form.produced), _day(form.expires)
    problem = None
    if line is None:
        problem = "wrong_sku"
    elif good is None or bad is None or good + bad == 0:
        problem = "quantity"
    elif made is False or best_before is False:
        problem = "date"
    elif sku_ids[line["sku_id"]]["batch_managed"] and not form.batch:
        problem = "batch"
    if problem or line is None or good is None or bad is None:
        return problem or "refused"
    put_at = await _location_id(api, warehouse_id, form.location) if form.location else None
    if put_at is None:
        return "location"
    return {
        "location_id": put_at,
        "line": {
            "line_no": line["line_no"],
            "sku_id": line["sku_id"],
            "received": good + bad,
            "accepted": good,
            "rejected": bad,
            "batch_no": form.batch,
            "production_date": made,
            "expiry_date": best_before,
        },
    }


@router.post("/receive/{po_no}")
async def receive_line(
    request: Request,
    po_no: str,
    api: DeviceApi,
    scan_id: ScanIdField,
    csrf: Csrf = "",
    code: Annotated[str, Form()] = "",
    accepted: Annotated[str, Form()] = "",
    rejected: Annotated[str, Form()] = "",
    location: Annotated[str, Form()] = "",
    batch: Annotated[str, Form()] = "",
    produced: Annotated[str, Form()] = "",
    expires: Annotated[str, Form()] = "",
) -> Response:
    """One receipt of one PO line: the scanned SKU must be on one of the PO's lines here; the
    screen's id is the receipt key, so a post sent again books nothing twice."""
    check_csrf(request, csrf)
    me = await whoami(api)
    here = f"/receive/{po_no}"
    try:
        po = await api.get(f"/v1/purchase-orders/{po_no}")
    except (NotFound, Forbidden, Refused):
        return back(request, "/receive", msg="no_po")
    warehouse_id = int(me["warehouse_id"])
    form = ReceiptForm(
        code=code,
        accepted=accepted,
        rejected=rejected,
        location=location,
        batch=batch,
        produced=produced,
        expires=expires,
    )
    entered = await _receipt_line(api, po, warehouse_id, form)
    if isinstance(entered, str):
        keep = form.code if entered != "wrong_sku" else None
        return back(request, here, ok=False, msg=entered, sku=keep, at=form.location or None)
    body = {
        "receipt_key": scan_id,
        "warehouse_id": warehouse_id,
        "location_id": entered["location_id"],
        "lines": [entered["line"]],
    }
    try:
        answer = await api.post(f"/v1/purchase-orders/{po_no}/receipts", body)
    except Refused:
        return back(request, here, ok=False, msg="refused")
    shown = answer["receipt_no"]
    return back(request, here, ok=True, msg="received", receipt=shown, at=form.location)


@router.get("/receive/{po_no}/receipts/{receipt_no}/receipt-note.pdf")
async def receipt_note(po_no: str, receipt_no: str, api: DeviceApi) -> Response:
    """The receipt note of the delivery just booked, for the browser's print."""
    await whoami(api)
    path = f"/v1/purchase-orders/{po_no}/receipts/{receipt_no}/receipt-note.pdf"
    content, kind = await api.get_bytes(path)
    return Response(content, media_type=kind or "application/pdf")
