"""The pack station: scan the package, every unit into the box (复核), weigh, print the label."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from console.client import Forbidden, NotFound, Refused
from console.pda.common import Csrf, DeviceApi, ScanIdField, back, page, whoami
from console.security import check_csrf

router = APIRouter()


# --- the pack station ----------------------------------------------------------------------


@router.get("/pack", response_class=HTMLResponse)
async def pack_start(request: Request, api: DeviceApi, msg: str | None = None) -> Response:
    me = await whoami(api)
    result = "error" if msg else None
    return page(request, "pda/pack_start.html", device=me, msg=msg, result=result)


@router.post("/pack")
async def pack_find(
    request: Request, api: DeviceApi, csrf: Csrf = "", code: Annotated[str, Form()] = ""
) -> Response:
    check_csrf(request, csrf)
    number = code.strip()
    if not number or not number.isalnum():
        return back(request, "/pack", msg="no_package")
    return back(request, f"/pack/{number}")


@router.get("/pack/{package_no}", response_class=HTMLResponse)
async def pack_page(
    request: Request,
    package_no: str,
    api: DeviceApi,
    msg: str | None = None,
    ok: bool | None = None,
) -> Response:
    """The box so far: scan each unit; once every unit is in, the weight; once packed, the
    label (or the hold on weight)."""
    me = await whoami(api)
    try:
        check = await api.get(f"/v1/packages/{package_no}/check")
        package = await api.get(f"/v1/packages/{package_no}")
    except (NotFound, Forbidden):
        return back(request, "/pack", msg="no_package")
    result = None if ok is None else ("ok" if ok else "error")
    return page(
        request,
        "pda/pack.html",
        device=me,
        check=check,
        package=package,
        result=result,
        msg=msg,
    )


@router.post("/pack/{package_no}/unit")
async def pack_unit(
    request: Request,
    package_no: str,
    api: DeviceApi,
    scan_id: ScanIdField,
    csrf: Csrf = "",
    code: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    body = {"scan_id": scan_id, "sku_barcode": code.strip() or "-"}
    try:
        await api.post(f"/v1/packages/{package_no}/check/scans", body)
    except Refused as refusal:
        error = str(refusal.problem.get("error") or "refused")
        return back(request, f"/pack/{package_no}", ok=False, msg=error)
    return back(request, f"/pack/{package_no}", ok=True)


@router.post("/pack/{package_no}/weigh")
async def pack_weigh(
    request: Request,
    package_no: str,
    api: DeviceApi,
    scan_id: ScanIdField,
    csrf: Csrf = "",
    weight: Annotated[str, Form()] = "",
) -> Response:
    """The measured weight in grams: packed (the label can print), or held on weight."""
    check_csrf(request, csrf)
    grams = weight.strip()
    if not grams.isdigit() or not 0 < int(grams) <= 1_000_000:
        return back(request, f"/pack/{package_no}", ok=False, msg="weight")
    body = {"scan_id": scan_id, "measured_weight_g": int(grams)}
    try:
        packed = await api.post(f"/v1/packages/{package_no}/verified-pack", body)
    except Refused as refusal:
        error = str(refusal.problem.get("error") or "refused")
        return back(request, f"/pack/{package_no}", ok=False, msg=error)
    held = packed.get("status") == "weight_hold"
    return back(request, f"/pack/{package_no}", ok=not held, msg="held" if held else "packed")


@router.get("/pack/{package_no}/label.pdf")
async def label(package_no: str, api: DeviceApi) -> Response:
    """The shipping label, for the browser's print."""
    await whoami(api)
    content, kind = await api.get_bytes(f"/v1/packages/{package_no}/label.pdf")
    return Response(content, media_type=kind or "application/pdf")
