"""Receiving a transfer from another warehouse (调拨入库): scan the transfer's number (TR… on its
note), then each SKU and how many arrived good and damaged; the counts ride along in the page's
address until the worker books the receipt in one go (the screen's id is its receipt key, so a
post sent again books nothing twice). What was not counted arrived short."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from console.client import Forbidden, Json, NotFound, Refused
from console.pda.common import Csrf, DeviceApi, ScanIdField, back, page, whoami
from console.security import check_csrf

router = APIRouter()
ERRORS: Final = frozenset({"no_transfer", "not_in_transit", "wrong_sku", "quantity", "refused"})
MESSAGES: Final = ERRORS | {"counted", "received"}
MAX_UNITS: Final = 1_000_000

Counts = dict[int, tuple[int, int]]  # line → (good, damaged)


def read_counts(text: str | None) -> Counts:
    """`1:3:1,2:2:0` → {1: (3, 1), 2: (2, 0)}; anything unreadable is left out."""
    counts: Counts = {}
    for part in (text or "").split(","):
        fields = part.split(":")
        if len(fields) == 3 and all(f.isdigit() and int(f) <= MAX_UNITS for f in fields):
            counts[int(fields[0])] = (int(fields[1]), int(fields[2]))
    return counts


def write_counts(counts: Counts) -> str:
    return ",".join(f"{n}:{g}:{d}" for n, (g, d) in sorted(counts.items()))


def _units(text: str) -> int | None:
    text = text.strip() or "0"
    return int(text) if text.isdigit() and int(text) <= MAX_UNITS else None


@router.get("/transfer", response_class=HTMLResponse)
async def transfer_start(request: Request, api: DeviceApi, msg: str | None = None) -> Response:
    me = await whoami(api)
    msg = msg if msg in ERRORS else None
    return page(
        request, "pda/transfer_start.html", device=me, msg=msg, result="error" if msg else None
    )


@router.post("/transfer")
async def transfer_find(
    request: Request, api: DeviceApi, csrf: Csrf = "", code: Annotated[str, Form()] = ""
) -> Response:
    check_csrf(request, csrf)
    number = code.strip().upper()
    if not (number.startswith("TR") and number[2:].isdigit() and len(number) <= 24):
        return back(request, "/transfer", msg="no_transfer")
    return back(request, f"/transfer/{number}")


async def _transfer(api: DeviceApi, number: str, warehouse_id: int) -> Json | None:
    """The transfer, if it comes to this device's warehouse."""
    try:
        found = await api.get(f"/v1/transfers/{number}")
    except (NotFound, Forbidden, Refused):
        return None
    return found if found["to_warehouse_id"] == warehouse_id else None


@router.get("/transfer/{transfer_no}", response_class=HTMLResponse)
async def transfer_page(
    request: Request,
    transfer_no: str,
    api: DeviceApi,
    counts: str | None = None,
    sku: str | None = None,
    msg: str | None = None,
    ok: bool | None = None,
) -> Response:
    """The transfer's lines (shipped, counted good and damaged). Scan a line's SKU (`sku`), then
    enter its good and damaged units; when every line is counted (or what is left is short),
    book the receipt."""
    me = await whoami(api)
    transfer = await _transfer(api, transfer_no, int(me["warehouse_id"]))
    if transfer is None:
        return back(request, "/transfer", msg="no_transfer")
    counted = read_counts(counts)
    result = None if ok is None else ("ok" if ok else "error")
    msg = msg if msg in MESSAGES else None
    receiving = transfer["status"] == "in_transit"
    if not receiving and transfer["status"] != "closed":
        result, msg = "error", "not_in_transit"
    chosen = None
    if sku is not None and receiving:
        scanned = sku.strip()
        chosen = next(
            (ln for ln in transfer["lines"] if scanned in (ln["sku_barcode"], ln["sku_code"])),
            None,
        )
        if chosen is None:
            result, msg = "error", "wrong_sku"
    lines = [
        {**ln, "counted": counted.get(ln["line_no"])}
        for ln in transfer["lines"]
        if ln["shipped"] or ln["quantity"]
    ]
    return page(
        request,
        "pda/transfer.html",
        device=me,
        transfer=transfer,
        lines=lines,
        receiving=receiving,
        chosen=chosen,
        counts=write_counts(counted),
        left=[ln for ln in lines if ln["counted"] is None and ln["shipped"]],
        result=result,
        msg=msg,
    )


@router.post("/transfer/{transfer_no}/scan")
async def transfer_scan(
    request: Request,
    transfer_no: str,
    api: DeviceApi,
    csrf: Csrf = "",
    counts: Annotated[str, Form()] = "",
    code: Annotated[str, Form()] = "",
) -> Response:
    """A SKU scanned: the line's count form (the page checks the SKU is on the transfer)."""
    check_csrf(request, csrf)
    counted = write_counts(read_counts(counts)) or None
    return back(request, f"/transfer/{transfer_no}", counts=counted, sku=code.strip()[:64])


@router.post("/transfer/{transfer_no}/count")
async def transfer_count(
    request: Request,
    transfer_no: str,
    api: DeviceApi,
    csrf: Csrf = "",
    counts: Annotated[str, Form()] = "",
    line_no: Annotated[str, Form()] = "",
    good: Annotated[str, Form()] = "",
    damaged: Annotated[str, Form()] = "",
) -> Response:
    """One line counted: kept with the others in the page's address (nothing is booked yet)."""
    check_csrf(request, csrf)
    here = f"/transfer/{transfer_no}"
    counted = read_counts(counts)
    fine, bad = _units(good), _units(damaged)
    if not line_no.isdigit() or fine is None or bad is None:
        return back(request, here, counts=write_counts(counted) or None, ok=False, msg="quantity")
    counted[int(line_no)] = (fine, bad)
    return back(request, here, counts=write_counts(counted), ok=True, msg="counted")


@router.post("/transfer/{transfer_no}/receive")
async def transfer_receive(
    request: Request,
    transfer_no: str,
    api: DeviceApi,
    scan_id: ScanIdField,
    csrf: Csrf = "",
    counts: Annotated[str, Form()] = "",
) -> Response:
    """Book the receipt: every line as counted, lines not counted as nothing arrived."""
    check_csrf(request, csrf)
    me = await whoami(api)
    here = f"/transfer/{transfer_no}"
    transfer = await _transfer(api, transfer_no, int(me["warehouse_id"]))
    if transfer is None:
        return back(request, "/transfer", msg="no_transfer")
    counted = read_counts(counts)
    body = {
        "receipt_key": scan_id,
        "lines": [
            {
                "line_no": ln["line_no"],
                "good": counted.get(ln["line_no"], (0, 0))[0],
                "damaged": counted.get(ln["line_no"], (0, 0))[1],
            }
            for ln in transfer["lines"]
        ],
    }
    try:
        await api.post(f"/v1/transfers/{transfer_no}/receive", body)
    except Refused:
        return back(request, here, counts=write_counts(counted) or None, ok=False, msg="refused")
    return back(request, here, ok=True, msg="received")
