"""Pairing a handheld with its one-time code, a worker signing in by badge, the home screen."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from console.client import Forbidden, NotFound, Refused, connect
from console.pages import client_address, console_state
from console.pda.common import DEVICE_COOKIE, Csrf, DeviceApi, back, page, whoami
from console.security import check_csrf, cookie_path

router = APIRouter()
_YEAR: Final = 365 * 24 * 3600  # the device stays paired until revoked


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
            return back(request, "/pair", msg="wrong")
    response = back(request, "/sign-in", msg="paired")
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
        return back(request, "/sign-in", msg="wrong")
    return back(request, "/", msg="hello")


@router.post("/sign-out")
async def sign_out(request: Request, api: DeviceApi, csrf: Csrf = "") -> Response:
    check_csrf(request, csrf)
    await whoami(api, need_worker=False)
    await api.post("/v1/devices/me/sign-out")
    return back(request, "/sign-in", msg="out")


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, api: DeviceApi, msg: str | None = None) -> Response:
    me = await whoami(api)
    result = "ok" if msg == "hello" else None
    return page(request, "pda/home.html", device=me, result=result)
