"""Putaway (上架): the warehouse's next task; scan its SKU (or the receiving location it waits
at), go to the suggested location, scan where the units go (any storage location), the quantity
(all that is left unless changed), done; the screen then shows the next task."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from console.client import ApiClient, Json, NotFound, Refused
from console.pda.common import Csrf, DeviceApi, NotPaired, ScanIdField, back, page, whoami
from console.security import check_csrf

router = APIRouter()
MESSAGES: Final = frozenset(
    {"wrong_scan", "location", "quantity", "refused", "put_part", "put_done", "gone"}
)


async def _next(api: ApiClient) -> Json | None:
    response = await api.http.get("/v1/devices/me/next-putaway")
    if response.status_code == 204:
        return None
    if response.status_code in (401, 403):
        raise NotPaired
    task: Json = response.json()
    return task


def _names_task(task: Json, scanned: str) -> bool:
    return scanned.strip() in (task["sku_barcode"], task["from_location_barcode"])


@router.get("/putaway", response_class=HTMLResponse)
async def putaway_page(
    request: Request,
    api: DeviceApi,
    task: str | None = None,
    scanned: str | None = None,
    msg: str | None = None,
    ok: bool | None = None,
    done: str | None = None,
) -> Response:
    """The task to do: first its scan (SKU or from-location), then the destination. `task`
    keeps the one being put (a partial put stays on it), else the oldest open one."""
    me = await whoami(api)
    result = None if ok is None else ("ok" if ok else "error")
    msg = msg if msg in MESSAGES else None
    shown: Json | None = None
    if task and task.isalnum():
        try:
            shown = await api.get(f"/v1/putaway-tasks/{task}")
        except (NotFound, Refused):
            shown = None
        if shown is not None and shown["status"] != "open":
            shown = None
    if shown is None:
        shown = await _next(api)
        scanned = None  # another task: scan it first
    confirmed = shown is not None and scanned is not None and _names_task(shown, scanned)
    if shown is not None and scanned is not None and not confirmed:
        result, msg = "error", "wrong_scan"
    return page(
        request,
        "pda/putaway.html",
        device=me,
        task=shown,
        scanned=scanned if confirmed else "",
        confirmed=confirmed,
        result=result,
        msg=msg,
        done=done if done and done.isalnum() else None,
    )


@router.post("/putaway/{task_no}")
async def put(
    request: Request,
    task_no: str,
    api: DeviceApi,
    scan_id: ScanIdField,
    csrf: Csrf = "",
    scanned: Annotated[str, Form()] = "",
    location: Annotated[str, Form()] = "",
    quantity: Annotated[str, Form()] = "",
) -> Response:
    """The put, by the screen's id: sent twice (a lost answer), the units move once."""
    check_csrf(request, csrf)
    here = {"task": task_no, "scanned": scanned.strip() or None}
    count = quantity.strip()
    if not (count.isdigit() and 0 < int(count) <= 10**9):
        return back(request, "/putaway", ok=False, msg="quantity", **here)
    if not location.strip():
        return back(request, "/putaway", ok=False, msg="location", **here)
    body: Json = {
        "action_id": scan_id,
        "location_barcode": location.strip()[:64],
        "quantity": int(count),
    }
    if scanned.strip():
        body["scanned"] = scanned.strip()[:64]
    try:
        answer = await api.post(f"/v1/putaway-tasks/{task_no}/put", body)
    except NotFound:
        return back(request, "/putaway", ok=False, msg="gone")
    except Refused as exc:
        problem = exc.problem.get("errors") or []
        wrong_place = exc.status == 422 and any(
            str(e.get("field", "")).startswith("location") for e in problem
        )
        return back(request, "/putaway", ok=False, msg="location" if wrong_place else "refused",
                    **here)  # fmt: skip
    shown = answer["task"]
    if shown["status"] == "done":
        return back(request, "/putaway", ok=True, msg="put_done", done=task_no)
    return back(request, "/putaway", ok=True, msg="put_part", **here)
