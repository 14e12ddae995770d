"""Receiving a customer's return (退货入库) on the handheld: scan the tracking number of the
parcel that came back (or the after-sale number), see its lines, enter per line how many units
go back on the shelf and how many are damaged, and send it with the screen's id: sent again (a
lost answer), nothing is received twice. The refund follows by itself once it is received."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from console.client import ApiClient, Json, Refused
from console.pda.common import Csrf, DeviceApi, ScanIdField, back, page, whoami
from console.security import check_csrf

router = APIRouter()

RETURN_ERRORS: Final = frozenset({"no_return", "quantity", "refused"})
RETURN_MESSAGES: Final = RETURN_ERRORS | {"received"}
MOST_UNITS: Final = 10_000


async def _find(api: ApiClient, warehouse_id: int, code: str) -> list[Json]:
    """Returns coming back to this warehouse by after-sale or return tracking number."""
    path = f"/v1/warehouses/{warehouse_id}/returns"
    found: list[Json] = (await api.get(path, {"code": code, "limit": 5}))["data"]
    return found


@router.get("/returns", response_class=HTMLResponse)
async def returns_start(request: Request, api: DeviceApi, msg: str | None = None) -> Response:
    me = await whoami(api)
    msg = msg if msg in RETURN_ERRORS else None
    return page(
        request, "pda/returns_start.html", device=me, msg=msg, result="error" if msg else None
    )


@router.post("/returns")
async def returns_find(
    request: Request, api: DeviceApi, csrf: Csrf = "", code: Annotated[str, Form()] = ""
) -> Response:
    """The scanned parcel's (or typed) number: the after-sale it brings back, if it comes here."""
    check_csrf(request, csrf)
    me = await whoami(api)
    number = code.strip()
    if not number or len(number) > 64 or not number.replace("-", "").isalnum():
        return back(request, "/returns", msg="no_return")
    found = await _find(api, int(me["warehouse_id"]), number)
    if len(found) != 1:
        return back(request, "/returns", msg="no_return")
    return back(request, f"/returns/{found[0]['as_no']}")


async def _return(api: ApiClient, warehouse_id: int, as_no: str) -> Json | None:
    """The after-sale coming back here, its lines with their SKU (code, name)."""
    found = [x for x in await _find(api, warehouse_id, as_no) if x["as_no"] == as_no]
    if not found:
        return None
    lines = [{**x, "sku": await api.get(f"/v1/skus/{x['sku_id']}")} for x in found[0]["lines"]]
    return {**found[0], "lines": lines}


@router.get("/returns/{as_no}", response_class=HTMLResponse)
async def return_page(
    request: Request,
    as_no: str,
    api: DeviceApi,
    msg: str | None = None,
    ok: bool | None = None,
    restocked: int | None = None,
    damaged: int | None = None,
) -> Response:
    """The return's lines; while it is on its way (returning): per line the units back on the
    shelf and the damaged ones, all of them accounted for."""
    me = await whoami(api)
    found = await _return(api, int(me["warehouse_id"]), as_no)
    if found is None:
        return back(request, "/returns", msg="no_return")
    result = None if ok is None else ("ok" if ok else "error")
    return page(
        request,
        "pda/returns.html",
        device=me,
        ret=found,
        receivable=found["status"] == "returning",
        result=result,
        msg=msg if msg in RETURN_MESSAGES else None,
        restocked=restocked,
        damaged=damaged,
    )


def _units(text: object) -> int | None:
    shown = str(text or "").strip() or "0"
    return int(shown) if shown.isdigit() and int(shown) <= MOST_UNITS else None


@router.post("/returns/{as_no}")
async def return_receive(
    request: Request, as_no: str, api: DeviceApi, scan_id: ScanIdField, csrf: Csrf = ""
) -> Response:
    """Receive the return: every line's units split into back on the shelf and damaged; the
    screen's id is the inbound key, so a resend receives nothing twice."""
    check_csrf(request, csrf)
    me = await whoami(api)
    here = f"/returns/{as_no}"
    found = await _return(api, int(me["warehouse_id"]), as_no)
    if found is None:
        return back(request, "/returns", msg="no_return")
    form = await request.form()
    lines = []
    for line in found["lines"]:
        good = _units(form.get(f"restock_{line['line_no']}"))
        bad = _units(form.get(f"damaged_{line['line_no']}"))
        if good is None or bad is None or good + bad != line["quantity"]:
            return back(request, here, ok=False, msg="quantity")
        lines.append({"line_no": line["line_no"], "sellable": good, "damaged": bad})
    try:
        await api.post(f"/v1/after-sales/{as_no}/inbound", {"inbound_key": scan_id, "lines": lines})
    except Refused:
        return back(request, here, ok=False, msg="refused")
    return back(
        request,
        here,
        ok=True,
        msg="received",
        restocked=sum(x["sellable"] for x in lines),
        damaged=sum(x["damaged"] for x in lines),
    )
