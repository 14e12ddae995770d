"""The handheld pages (`/pda`, DESIGN §3a): a warehouse device pairs once with the one-time code
its manager was shown (the API key it gets is kept in an HttpOnly cookie: nobody types or sees
it), a worker signs in with their badge, then picks a task stop by stop and packs at the pack
station, scanning every unit into the box (复核). Mobile-first, one focused input (a
keyboard-wedge scanner types the code and Enter), colour and sound for right and wrong.

Like the console, the pages talk to /v1 only, in process, with the device's own key. Every form
of an action carries an id made on the device (static/js/pda.js; the page's own one when
scripts are off): a post that lost its answer is sent again with the same id, and the API
answers what it answered the first time."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from console.client import ApiClient, Forbidden, Json, NotFound, Refused, SignedOut, connect
from console.pages import ConsoleConfig, ConsoleState, client_address, console_state, render
from console.security import CSRF_FIELD, CsrfFailed, SecurityHeaders, check_csrf, cookie_path

DEVICE_COOKIE: Final = "houtai_device"
NEXT_STEPS: Final = frozenset({"pack", "put_wall", "done"})  # after a task: its units go there
_STATIC = Path(__file__).parent / "static"
_YEAR: Final = 365 * 24 * 3600
router = APIRouter()
Csrf = Annotated[str, Form(alias=CSRF_FIELD)]
ScanIdField = Annotated[str, Form()]


class NotPaired(Exception):
    """No device key in this browser, or the API no longer accepts it (revoked)."""


class NoWorker(Exception):
    """The device is paired but nobody has signed in on it."""


def create_pda(api: ASGIApp) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.console = ConsoleState(api=api, config=ConsoleConfig())
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=_STATIC), name="static")
    app.include_router(router)
    app.add_exception_handler(NotPaired, _not_paired)
    app.add_exception_handler(NoWorker, _no_worker)
    app.add_exception_handler(CsrfFailed, _csrf_failed)
    app.add_exception_handler(SignedOut, _not_paired)
    app.add_exception_handler(Forbidden, _refused)
    app.add_exception_handler(NotFound, _refused)
    app.add_exception_handler(Refused, _refused)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    return app


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", ""))


async def _not_paired(request: Request, exc: Exception) -> Response:
    response = RedirectResponse(f"{_root(request)}/pair", 303)
    if request.cookies.get(DEVICE_COOKIE):
        response = RedirectResponse(f"{_root(request)}/pair?{urlencode({'msg': 'unpaired'})}", 303)
        response.delete_cookie(DEVICE_COOKIE, path=cookie_path(request))
    return response


async def _no_worker(request: Request, exc: Exception) -> Response:
    return RedirectResponse(f"{_root(request)}/sign-in", 303)


async def _csrf_failed(request: Request, exc: Exception) -> Response:
    return page(
        request, "pda/message.html", status=403, result="error", message="pda.csrf", detail=""
    )


async def _refused(request: Request, exc: Exception) -> Response:
    """An answer of the API no screen expected: its words, in red, and the way home."""
    detail = exc.detail if isinstance(exc, Refused) else ""
    status = (
        exc.status if isinstance(exc, Refused) else (403 if isinstance(exc, Forbidden) else 404)
    )
    return page(
        request,
        "pda/message.html",
        status=status,
        result="error",
        message="pda.refused",
        detail=detail,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return page(
        request,
        "pda/message.html",
        status=exc.status_code,
        result="error",
        message="pda.missing",
        detail="",
    )


def page(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A handheld screen: `result` (ok / error / None) colours it and plays its sound; the
    screen's action id is made here for browsers without scripts (pda.js makes its own)."""
    context.setdefault("result", None)
    context.setdefault("device", None)
    return render(request, template, status=status, action_id=new_action_id(), **context)


def new_action_id() -> str:
    return "pda-" + secrets.token_hex(12)


async def device_api(request: Request) -> AsyncIterator[ApiClient]:
    key = request.cookies.get(DEVICE_COOKIE)
    if not key:
        raise NotPaired
    async with connect(console_state(request).api, key, client_address(request)) as api:
        yield api


DeviceApi = Annotated[ApiClient, Depends(device_api)]


async def whoami(api: ApiClient, need_worker: bool = True) -> Json:
    try:
        me = await api.get("/v1/devices/me")
    except (SignedOut, Forbidden) as exc:
        raise NotPaired from exc
    if need_worker and not me.get("worker"):
        raise NoWorker
    return me


def _back(request: Request, path: str, **query: Any) -> RedirectResponse:
    shown = {k: int(v) if isinstance(v, bool) else v for k, v in query.items() if v is not None}
    suffix = f"?{urlencode(shown)}" if shown else ""
    return RedirectResponse(f"{_root(request)}{path}{suffix}", 303)


# --- pairing and signing in ----------------------------------------------------------------


@router.get("/pair", response_class=HTMLResponse)
async def pair_page(request: Request, msg: str | None = None) -> Response:
    message = {"unpaired": "pda.pair.unpaired", "wrong": "pda.pair.wrong"}.get(msg or "")
    return page(
        request, "pda/pair.html", message=message, result="error" if msg == "wrong" else None
    )


@router.post("/pair")
async def pair(request: Request, csrf: Csrf = "", code: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    async with connect(console_state(request).api, None, client_address(request)) as api:
        try:
            paired = await api.post("/v1/devices/pair", {"code": code.strip()})
        except (NotFound, Refused):
            return _back(request, "/pair", msg="wrong")
    response = _back(request, "/sign-in", msg="paired")
    response.set_cookie(
        DEVICE_COOKIE,
        paired["api_key"],
        max_age=_YEAR,
        path=cookie_path(request),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request, api: DeviceApi, msg: str | None = None) -> Response:
    me = await whoami(api, need_worker=False)
    message = {"paired": "pda.pair.done", "wrong": "pda.badge.wrong", "out": "pda.signed_out"}
    result = {"paired": "ok", "wrong": "error"}.get(msg or "")
    return page(
        request, "pda/sign_in.html", device=me, message=message.get(msg or ""), result=result
    )


@router.post("/sign-in")
async def sign_in(
    request: Request, api: DeviceApi, csrf: Csrf = "", badge: Annotated[str, Form()] = ""
) -> Response:
    check_csrf(request, csrf)
    await whoami(api, need_worker=False)
    try:
        await api.post("/v1/devices/me/sign-in", {"badge_code": badge.strip()})
    except (NotFound, Refused, Forbidden):
        return _back(request, "/sign-in", msg="wrong")
    return _back(request, "/", msg="hello")


@router.post("/sign-out")
async def sign_out(request: Request, api: DeviceApi, csrf: Csrf = "") -> Response:
    check_csrf(request, csrf)
    await whoami(api, need_worker=False)
    await api.post("/v1/devices/me/sign-out")
    return _back(request, "/sign-in", msg="out")


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, api: DeviceApi, msg: str | None = None) -> Response:
    me = await whoami(api)
    result = "ok" if msg == "hello" else None
    return page(request, "pda/home.html", device=me, result=result)


# --- picking -------------------------------------------------------------------------------


async def _task(api: ApiClient) -> Json | None:
    response = await api.http.get("/v1/devices/me/next-task")
    if response.status_code == 204:
        return None
    if response.status_code in (401, 403):
        raise NotPaired
    task: Json = response.json()
    return task


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
    me = await whoami(api)
    result = None if ok is None else ("ok" if ok else "error")
    if finished and then in NEXT_STEPS:  # the task just finished: where its units go
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
    task = await _task(api)
    if task is None:
        return page(request, "pda/pick.html", device=me, task=None, result=result, msg=msg)
    step = task["next"]
    stop = step.get("stop")
    at_location = stop is not None and at == stop["location_barcode"]
    return page(
        request,
        "pda/pick.html",
        device=me,
        task=task,
        step=step,
        stop=stop,
        at_location=at_location,
        result=result,
        msg=msg,
    )


@router.post("/pick/location")
async def pick_location(
    request: Request,
    api: DeviceApi,
    csrf: Csrf = "",
    task_no: Annotated[str, Form()] = "",
    expected: Annotated[str, Form()] = "",
    code: Annotated[str, Form()] = "",
) -> Response:
    """The location scanned: right, the SKU is next; wrong, scan it again."""
    check_csrf(request, csrf)
    if code.strip() and code.strip() == expected:
        return _back(request, "/pick", at=expected, ok=True)
    return _back(request, "/pick", ok=False, msg="wrong_location")


@router.post("/pick/scan")
async def pick_scan(
    request: Request,
    api: DeviceApi,
    scan_id: ScanIdField,
    csrf: Csrf = "",
    task_no: Annotated[str, Form()] = "",
    location: Annotated[str, Form()] = "",
    code: Annotated[str, Form()] = "",
) -> Response:
    """One unit of the stop's SKU picked (the API checks location and SKU and stores the answer
    by the screen's id)."""
    check_csrf(request, csrf)
    await whoami(api)
    body = {
        "scan_id": scan_id,
        "location_barcode": location,
        "sku_barcode": code.strip() or "-",
        "quantity": 1,
    }
    try:
        answer = await api.post(f"/v1/pick-tasks/{task_no}/scans", body)
    except Refused as refusal:
        error = str(refusal.problem.get("error") or "refused")
        return _back(request, "/pick", at=location, ok=False, msg=error)
    return _after_pick(request, task_no, answer, location)


def _after_pick(request: Request, task_no: str, answer: Json, location: str) -> Response:
    step = answer["next"]
    if step["action"] != "pick":
        return _back(request, "/pick", ok=True, finished=task_no, then=step["action"])
    still_here = step["stop"]["location_barcode"] == location
    return _back(request, "/pick", at=location if still_here else None, ok=True)


@router.get("/pick/short", response_class=HTMLResponse)
async def short_page(request: Request, api: DeviceApi) -> Response:
    me = await whoami(api)
    task = await _task(api)
    if task is None or task["next"]["action"] != "pick":
        return _back(request, "/pick")
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
    """Only `found` more units at this stop: the rest is short (found N)."""
    check_csrf(request, csrf)
    await whoami(api)
    if not found.strip().isdigit():
        return _back(request, "/pick/short")
    try:
        answer = await api.post(
            f"/v1/pick-tasks/{task_no}/short", {"scan_id": scan_id, "found": int(found.strip())}
        )
    except Refused as refusal:
        return _back(request, "/pick", ok=False, msg=str(refusal.problem.get("error", "")))
    if answer["next"]["action"] != "pick":
        then = answer["next"]["action"]
        return _back(request, "/pick", ok=True, msg="short", finished=task_no, then=then)
    return _back(request, "/pick", ok=True, msg="short")


# --- moving stock between locations (移库) -------------------------------------------------


@router.get("/move", response_class=HTMLResponse)
async def move_page(
    request: Request, api: DeviceApi, msg: str | None = None, ok: bool | None = None
) -> Response:
    """Scan the location the units are at, the SKU, type the quantity, scan where they go."""
    me = await whoami(api)
    result = None if ok is None else ("ok" if ok else "error")
    return page(request, "pda/move.html", device=me, result=result, msg=msg)


async def _scanned_location(api: ApiClient, warehouse_id: int, code: str) -> int | None:
    path = f"/v1/warehouses/{warehouse_id}/locations"
    found = (await api.get(path, {"barcode": code, "limit": 1}))["data"] if code else []
    return int(found[0]["id"]) if found else None


async def _batch_no(api: ApiClient, sku_id: int, location_id: int, batch_no: str) -> str | None:
    """The batch to move: the one scanned, else the only movable one at the location."""
    where = {"sku_id": sku_id, "location_id": location_id, "limit": 50}
    batches = (await api.get("/v1/stock/batches", where))["data"]
    movable = [b["batch_no"] for b in batches if not b["disabled"] and b["quantity"] > 0]
    if batch_no:
        return batch_no if batch_no in movable else None
    return movable[0] if len(movable) == 1 else None


@router.post("/move")
async def move(
    request: Request,
    api: DeviceApi,
    scan_id: ScanIdField,
    csrf: Csrf = "",
    source: Annotated[str, Form()] = "",
    sku: Annotated[str, Form()] = "",
    quantity: Annotated[str, Form()] = "",
    target: Annotated[str, Form()] = "",
    batch_no: Annotated[str, Form()] = "",
) -> Response:
    """The move, by the screen's id: sent twice (a lost answer), the units move once."""
    check_csrf(request, csrf)
    me = await whoami(api)
    warehouse_id = int(me["warehouse_id"])
    from_id = await _scanned_location(api, warehouse_id, source.strip())
    to_id = await _scanned_location(api, warehouse_id, target.strip())
    if from_id is None or to_id is None:
        return _back(request, "/move", ok=False, msg="move_location")
    code = sku.strip()
    skus = (await api.get("/v1/skus", {"barcode": code, "limit": 1}))["data"] if code else []
    if not skus:
        return _back(request, "/move", ok=False, msg="move_sku")
    if not (quantity.strip().isdigit() and 0 < int(quantity.strip()) <= 10**9):
        return _back(request, "/move", ok=False, msg="move_quantity")
    batch = await _batch_no(api, int(skus[0]["id"]), from_id, batch_no.strip())
    if batch is None:
        return _back(request, "/move", ok=False, msg="move_batch")
    body = {
        "move_id": scan_id,
        "sku_id": int(skus[0]["id"]),
        "warehouse_id": warehouse_id,
        "from_location_id": from_id,
        "to_location_id": to_id,
        "quantity": int(quantity.strip()),
        "batch_no": batch,
    }
    try:
        await api.post("/v1/stock/moves", body)
    except Refused:
        return _back(request, "/move", ok=False, msg="move_refused")
    return _back(request, "/move", ok=True, msg="moved")


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
        return _back(request, "/pack", msg="no_package")
    return _back(request, f"/pack/{number}")


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
        return _back(request, "/pack", msg="no_package")
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
    await whoami(api)
    body = {"scan_id": scan_id, "sku_barcode": code.strip() or "-"}
    try:
        await api.post(f"/v1/packages/{package_no}/check/scans", body)
    except Refused as refusal:
        error = str(refusal.problem.get("error") or "refused")
        return _back(request, f"/pack/{package_no}", ok=False, msg=error)
    return _back(request, f"/pack/{package_no}", ok=True)


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
    await whoami(api)
    grams = weight.strip()
    if not grams.isdigit() or not 0 < int(grams) <= 1_000_000:
        return _back(request, f"/pack/{package_no}", ok=False, msg="weight")
    body = {"scan_id": scan_id, "measured_weight_g": int(grams)}
    try:
        packed = await api.post(f"/v1/packages/{package_no}/verified-pack", body)
    except Refused as refusal:
        error = str(refusal.problem.get("error") or "refused")
        return _back(request, f"/pack/{package_no}", ok=False, msg=error)
    held = packed.get("status") == "weight_hold"
    return _back(request, f"/pack/{package_no}", ok=not held, msg="held" if held else "packed")


@router.get("/pack/{package_no}/label.pdf")
async def label(package_no: str, api: DeviceApi) -> Response:
    """The shipping label, for the browser's print."""
    await whoami(api)
    content, kind = await api.get_bytes(f"/v1/packages/{package_no}/label.pdf")
    return Response(content, media_type=kind or "application/pdf")


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
        return _back(request, "/receive", msg="no_po")
    return _back(request, f"/receive/{number}")


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
        return _back(request, "/receive", msg="no_po")
    lines = await _open_lines(api, po, int(me["warehouse_id"]))
    if not lines:
        return _back(request, "/receive", msg="no_po")
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
        return _back(request, "/receive", msg="no_po")
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
        return _back(request, here, ok=False, msg=entered, sku=keep, at=form.location or None)
    body = {
        "receipt_key": scan_id,
        "warehouse_id": warehouse_id,
        "location_id": entered["location_id"],
        "lines": [entered["line"]],
    }
    try:
        answer = await api.post(f"/v1/purchase-orders/{po_no}/receipts", body)
    except Refused:
        return _back(request, here, ok=False, msg="refused")
    shown = answer["receipt_no"]
    return _back(request, here, ok=True, msg="received", receipt=shown, at=form.location)
