"""What every handheld screen shares: the device's API client (its key in an HttpOnly cookie),
who is signed in on it, the page renderer (colour and sound for right and wrong), the answers
to API refusals, and redirects within /pda."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import quote, unquote, urlencode

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from console.client import ApiClient, Forbidden, Json, Refused, SignedOut, connect
from console.pages import client_address, console_state, render, translator
from console.security import CSRF_FIELD, cookie_path

DEVICE_COOKIE: Final = "houtai_device"
LABEL_COOKIE: Final = "houtai_pda_who"  # display only: the header's device and worker names
NEXT_STEPS: Final = frozenset(
    {"pack", "put_wall", "transfer", "done"}
)  # after a task: its units go there
STATIC = Path(__file__).parent.parent / "static"
Csrf = Annotated[str, Form(alias=CSRF_FIELD)]
ScanIdField = Annotated[str, Form()]


class NotPaired(Exception):
    """No device key in this browser, or the API no longer accepts it (revoked)."""


class NoWorker(Exception):
    """The device is paired but nobody has signed in on it."""


def root(request: Request) -> str:
    return str(request.scope.get("root_path", ""))


async def not_paired(request: Request, exc: Exception) -> Response:
    response = RedirectResponse(f"{root(request)}/pair", 303)
    if request.cookies.get(DEVICE_COOKIE):
        response = RedirectResponse(f"{root(request)}/pair?{urlencode({'msg': 'unpaired'})}", 303)
        response.delete_cookie(DEVICE_COOKIE, path=cookie_path(request))
    return response


async def no_worker(request: Request, exc: Exception) -> Response:
    return RedirectResponse(f"{root(request)}/sign-in", 303)


async def csrf_failed(request: Request, exc: Exception) -> Response:
    return page(
        request, "pda/message.html", status=403, result="error", message="pda.csrf", detail=""
    )


async def refused(request: Request, exc: Exception) -> Response:
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


async def http_error(request: Request, exc: Exception) -> Response:
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
    shown = render(request, template, status=status, action_id=new_action_id(), **context)
    device = context["device"]
    if isinstance(device, dict) and device.get("name") and device.get("worker"):
        label = {k: device.get(k) for k in ("name", "worker", "worker_name")}
        if request.cookies.get(LABEL_COOKIE) != (kept := quote(json.dumps(label))):
            shown.set_cookie(
                LABEL_COOKIE, kept, path=cookie_path(request), httponly=True, samesite="strict"
            )
    return shown


async def device_label(request: Request, api: ApiClient) -> Json:
    """Who the screen's header names (device, worker): as the last screen that asked the API
    showed it (a display-only cookie, so a scan's answer needs no second call), else asked."""
    kept = request.cookies.get(LABEL_COOKIE)
    if kept:
        try:
            label = json.loads(unquote(kept))
        except ValueError:
            label = None
        if isinstance(label, dict) and label.get("worker"):
            return label
    return await whoami(api)


def new_action_id() -> str:
    return "pda-" + secrets.token_hex(12)


async def device_api(request: Request) -> AsyncIterator[ApiClient]:
    key = request.cookies.get(DEVICE_COOKIE)
    if not key:
        raise NotPaired
    words = translator(request)
    async with connect(console_state(request).api, key, client_address(request), words) as api:
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


def back(request: Request, path: str, **query: Any) -> RedirectResponse:
    shown = {k: int(v) if isinstance(v, bool) else v for k, v in query.items() if v is not None}
    suffix = f"?{urlencode(shown)}" if shown else ""
    return RedirectResponse(f"{root(request)}{path}{suffix}", 303)


async def scanned_location(api: ApiClient, warehouse_id: int, code: str) -> int | None:
    """The location of the warehouse with this barcode, if any."""
    path = f"/v1/warehouses/{warehouse_id}/locations"
    found = (await api.get(path, {"barcode": code, "limit": 1}))["data"] if code else []
    return int(found[0]["id"]) if found else None
