"""Picking a task stop by stop: scan the location, scan each unit, or report a short."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from console.client import ApiClient, Json, Refused
from console.pda.common import (
    NEXT_STEPS,
    Csrf,
    DeviceApi,
    NotPaired,
    NoWorker,
    ScanIdField,
    back,
    device_label,
    page,
)
from console.security import check_csrf

router = APIRouter()


# --- picking -------------------------------------------------------------------------------


async def _task(api: ApiClient) -> Json | None:
    response = await api.http.get("/v1/devices/me/next-task")
    if response.status_code == 204:
        return None
    if response.status_code == 403 and "/problems/worker-sign-in-required" in response.text:
        raise NoWorker
    if response.status_code in (401, 403):
        raise NotPaired
    task: Json = response.json()
    return task


async def _me_and_task(request: Request, api: ApiClient) -> tuple[Json, Json | None]:
    """The device's task and who the header names. One call: asking for the task already
    answers NotPaired or NoWorker when the device lost its key or its worker, and the names come
    from the display cookie of the last screen that asked (else they are asked)."""
    task = await _task(api)
    return await device_label(request, api), task


def _task_screen(
    request: Request, me: Json, task: Json, at: str | None, result: str | None, msg: str | None
) -> HTMLResponse:
    """The task's next step: its stop's location to scan, or (at the location) its SKU."""
    step = task["next"]
    stop = step.get("stop")
    return page(
        request,
        "pda/pick.html",
        device=me,
        task=task,
        step=step,
        stop=stop,
        at_location=stop is not None and at == stop["location_barcode"],
        result=result,
        msg=msg,
    )


@router.get("/pick", response_class=HTMLResponse)
async def pick_page(
    request: Request,
    api: DeviceApi,
    at: str | None = None,
    msg: str | None = None,
    ok: bool | None = None,
    finished: str | None = None,
    then: str | None = None,
) -> Response:
    """What to do next: go to the stop's location and scan it, then scan its SKU (each scan one
    unit), or report a short; a finished task says where its units go."""
    result = None if ok is None else ("ok" if ok else "error")
    if finished and then in NEXT_STEPS:  # the task just finished: where its units go
        me = await device_label(request, api)
        done = {"task_no": finished, "stops": []}
        return page(
            request,
            "pda/pick.html",
            device=me,
            task=done,
            step={"action": then},
            stop=None,
            at_location=False,
            result=result,
            msg=msg,
        )
    me, task = await _me_and_task(request, api)
    if task is None:
        return page(request, "pda/pick.html", device=me, task=None, result=result, msg=msg)
    return _task_screen(request, me, task, at, result, msg)


@router.post("/pick/location")
async def pick_location(
    request: Request,
    api: DeviceApi,
    csrf: Csrf = "",
    task_no: Annotated[str, Form()] = "",
    expected: Annotated[str, Form()] = "",
    code: Annotated[str, Form()] = "",
) -> Response:
    """The location scanned: right, the SKU is next — shown at once, with the address it has
    as a page (X-Pda-Url, as a scan's answer); wrong, scan it again."""
    check_csrf(request, csrf)
    if not (code.strip() and code.strip() == expected):
        return back(request, "/pick", ok=False, msg="wrong_location")
    me, task = await _me_and_task(request, api)
    if task is None or task["task_no"] != task_no:  # finished or gone meanwhile: the page says
        return back(request, "/pick", at=expected, ok=True)
    shown = _task_screen(request, me, task, expected, "ok", None)
    shown.headers["X-Pda-Url"] = back(request, "/pick", at=expected, ok=True).headers["location"]
    return shown


@router.post("/pick/scan")
async def pick_scan(
    request: Request,
    api: DeviceApi,
    scan_id: ScanIdField,
    csrf: Csrf = "",
    task_no: Annotated[str, Form()] = "",
    location: Annotated[str, Form()] = "",
    code: Annotated[str, Form()] = "",
    quantity: Annotated[str, Form()] = "",
) -> Response:
    """The stop's SKU picked: one unit per scan, or the quantity typed with the scan (a whole
    carton); the API checks location, SKU and quantity and stores the answer by the screen's
    id. No whoami first: the API itself refuses a revoked key (401: pair again) and a device
    with nobody signed in (403 worker-sign-in-required: sign in), one round trip fewer per
    scan."""
    check_csrf(request, csrf)
    typed = quantity.strip() or "1"
    if not typed.isdigit() or not 0 < int(typed) <= 100_000:
        return back(request, "/pick", at=location, ok=False, msg="quantity")
    body = {
        "scan_id": scan_id,
        "location_barcode": location,
        "sku_barcode": code.strip() or "-",
        "quantity": int(typed),
    }
    try:
        answer = await api.post(f"/v1/pick-tasks/{task_no}/scans", body)
    except Refused as refusal:
        error = str(refusal.problem.get("error") or "refused")
        return back(request, "/pick", at=location, ok=False, msg=error)
    return await _after_pick(request, api, task_no, answer, location)


async def _after_pick(
    request: Request, api: ApiClient, task_no: str, answer: Json, location: str
) -> Response:
    """The task goes on: its next screen at once, from the scan's own answer (the task as it
    now stands), with the address it has as a page (X-Pda-Url; pda.js shows it there) — no
    second request. Finished: to where its units go."""
    step = answer["next"]
    if step["action"] != "pick":
        return back(request, "/pick", ok=True, finished=task_no, then=step["action"])
    here = location if step["stop"]["location_barcode"] == location else None
    shown = _task_screen(request, await device_label(request, api), answer, here, "ok", None)
    shown.headers["X-Pda-Url"] = back(request, "/pick", at=here, ok=True).headers["location"]
    return shown


@router.get("/pick/short", response_class=HTMLResponse)
async def short_page(request: Request, api: DeviceApi) -> Response:
    me, task = await _me_and_task(request, api)
    if task is None or task["next"]["action"] != "pick":
        return back(request, "/pick")
    return page(request, "pda/short.html", device=me, task=task, stop=task["next"]["stop"])


@router.post("/pick/short")
async def pick_short(
    request: Request,
    api: DeviceApi,
    scan_id: ScanIdField,
    csrf: Csrf = "",
    task_no: Annotated[str, Form()] = "",
    found: Annotated[str, Form()] = "",
) -> Response:
    """Only `found` more units at this stop: the rest is short (found N). Like a scan, the API
    checks the key and the worker."""
    check_csrf(request, csrf)
    if not found.strip().isdigit():
        return back(request, "/pick/short")
    try:
        answer = await api.post(
            f"/v1/pick-tasks/{task_no}/short", {"scan_id": scan_id, "found": int(found.strip())}
        )
    except Refused as refusal:
        return back(request, "/pick", ok=False, msg=str(refusal.problem.get("error", "")))
    if answer["next"]["action"] != "pick":
        then = answer["next"]["action"]
        return back(request, "/pick", ok=True, msg="short", finished=task_no, then=then)
    return back(request, "/pick", ok=True, msg="short")
