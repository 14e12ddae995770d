"""The put wall (播种墙): units of a wave's multi-line packages, brought from picking, are scanned
one at a time; the screen says which slot each goes into (or the exception tote), shows the
wall's slots, and sends a complete slot's package to the pack station."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from console.client import ApiClient, Forbidden, Json, NotFound, Refused
from console.pda.common import Csrf, DeviceApi, ScanIdField, back, page, whoami
from console.security import check_csrf

router = APIRouter()


async def _wave(api: ApiClient, code: str) -> Json | None:
    """The wave by its number, or the wave of a pick task scanned or passed on from picking."""
    code = code.strip()
    if not code or not code.replace("-", "").isalnum():
        return None
    try:
        if "-" in code:  # a pick task: its wave's number and its own
            code = str((await api.get(f"/v1/pick-tasks/{code}"))["wave_no"])
        return await api.get(f"/v1/waves/{code}")
    except (NotFound, Forbidden, Refused):
        return None


@router.get("/put-wall", response_class=HTMLResponse)
async def put_wall_page(
    request: Request,
    api: DeviceApi,
    wave: str | None = None,
    task: str | None = None,
    msg: str | None = None,
    ok: bool | None = None,
    slot: int | None = None,
    package: str | None = None,
    complete: bool | None = None,
) -> Response:
    """Without a wave: scan the wave (or the pick task) whose units are here. With one: scan
    each unit; the last answer (slot, package, complete) is shown large."""
    me = await whoami(api)
    result = None if ok is None else ("ok" if ok else "error")
    found = await _wave(api, wave or task or "") if (wave or task) else None
    if found is None:
        if wave or task:
            result, msg = "error", "no_wave"
        return page(request, "pda/put_wall_start.html", device=me, result=result, msg=msg)
    slots = found["slots"]
    done = sum(1 for s in slots if s["status"] != "sorting")  # complete or cancelled
    return page(
        request,
        "pda/put_wall.html",
        device=me,
        wave=found,
        slots=slots,
        done=done,
        result=result,
        msg=msg,
        slot=slot,
        package=package,
        complete=bool(complete),
    )


@router.post("/put-wall")
async def put_wall_find(
    request: Request, api: DeviceApi, csrf: Csrf = "", code: Annotated[str, Form()] = ""
) -> Response:
    check_csrf(request, csrf)
    found = await _wave(api, code)
    if found is None:
        return back(request, "/put-wall", ok=False, msg="no_wave")
    return back(request, "/put-wall", wave=found["wave_no"])


@router.post("/put-wall/{wave_no}/unit")
async def put_unit(
    request: Request,
    wave_no: str,
    api: DeviceApi,
    scan_id: ScanIdField,
    csrf: Csrf = "",
    code: Annotated[str, Form()] = "",
) -> Response:
    """One unit onto the wall, by the screen's id (a resent scan is put once)."""
    check_csrf(request, csrf)
    body = {"scan_id": scan_id, "sku_barcode": code.strip() or "-"}
    try:
        answer = await api.post(f"/v1/waves/{wave_no}/put-wall/scans", body)
    except Refused as refusal:
        error = str(refusal.problem.get("error") or "refused")
        return back(request, "/put-wall", wave=wave_no, ok=False, msg=error)
    if not answer["accepted"]:  # no package of the wave waits for it: the exception tote
        return back(request, "/put-wall", wave=wave_no, ok=False, msg="exception_tote")
    return back(
        request,
        "/put-wall",
        wave=wave_no,
        ok=True,
        slot=answer["slot_no"],
        package=answer["package_no"],
        complete=bool(answer.get("slot_complete")),
    )
