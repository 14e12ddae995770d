"""Enrolling the TOTP second factor that admin and finance must hold (mirrors the enrolment
routes of api/routes/auth.py): a person signed in with a token good only for enrolling sees the
QR code and the secret, types the app's code, and carries on with a full session."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.auth import safe_next, seconds_left
from console.client import ApiClient, Refused, SignedOut, connect
from console.pages import client_address, console_state, render, translator
from console.security import CSRF_FIELD, check_csrf, session_token, set_session

router = APIRouter()
_CODE = re.compile(r"^\d{6}$")
_SECRET = re.compile(r"^[A-Z2-7]{16,128}$")  # base32, as the API makes it


async def enrolling(request: Request) -> AsyncIterator[ApiClient | None]:
    """A client of /v1 with the enrol-only token; None when the session is already full."""
    token, enrol_only = session_token(request)
    if not token:
        raise SignedOut
    if not enrol_only:
        yield None
        return
    words = translator(request)
    async with connect(console_state(request).api, token, client_address(request), words) as api:
        yield api


Enrolling = Annotated[ApiClient | None, Depends(enrolling)]


def _page(
    request: Request,
    target: str,
    secret: str,
    *,
    refusal: str | None = None,
    message: str | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "enrol.html",
        status=status,
        next=target,
        secret=secret,
        refusal=refusal,
        message=message,
    )


@router.get("/totp", response_class=HTMLResponse)
async def enrol_page(request: Request, api: Enrolling, next: str | None = None) -> Response:
    """Starts (or restarts) the enrolment: a new secret each time the page is opened."""
    target = safe_next(request, next)
    if api is None:
        return RedirectResponse(target, status_code=303)
    enrolment = await api.post("/v1/auth/totp/enrol")
    return _page(request, target, str(enrolment["secret"]))


@router.get("/totp/qr.png")
async def enrol_qr(api: Enrolling) -> Response:
    """The pending enrolment's QR code, fetched with the person's token (CSP img-src 'self')."""
    if api is None:
        return Response(status_code=404)
    png, kind = await api.get_bytes("/v1/auth/totp/qr.png")
    if kind != "image/png":
        return Response(status_code=502)
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.post("/totp", response_class=HTMLResponse)
async def confirm(
    request: Request,
    api: Enrolling,
    code: Annotated[str, Form()] = "",
    secret: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    check_csrf(request, csrf)
    target = safe_next(request, next)
    if api is None:
        return RedirectResponse(target, status_code=303)
    shown = secret if _SECRET.match(secret) else ""  # only echoed back to the page
    code = code.strip()
    if not _CODE.match(code):
        return _page(request, target, shown, message="login.totp_invalid", status=422)
    try:
        token = await api.post("/v1/auth/totp/confirm", {"code": code})
    except Refused as refusal:
        return _page(request, target, shown, refusal=refusal.detail, status=refusal.status)
    response = RedirectResponse(target, status_code=303)
    set_session(request, response, token["access_token"], seconds_left(token))
    return response
