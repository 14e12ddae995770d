"""Signing in and out, and the language switch (mirrors api/routes/auth.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.client import Refused, SignedOut, connect
from console.i18n import LANG_COOKIE, LANGUAGES
from console.pages import client_address, console_state, render
from console.security import (
    CSRF_FIELD,
    check_csrf,
    clear_session,
    cookie_path,
    set_enrol_session,
    set_session,
)

router = APIRouter()
_TOTP = re.compile(r"^\d{6}$")


def safe_next(request: Request, target: str | None) -> str:
    """Only a path inside the console: never another site (`//evil`, `https://…`)."""
    root = str(request.scope.get("root_path", ""))
    if target and target.startswith(f"{root}/") and not target.startswith("//"):
        return target
    return f"{root}/"


def login_body(username: str, password: str, totp_code: str) -> dict[str, Any]:
    """The body of POST /v1/auth/login. The second factor (TOTP, required for admin and finance)
    is sent only when typed, as `totp_code`: the one place to adapt if the API names it
    otherwise."""
    body: dict[str, Any] = {"username": username, "password": password}
    if totp_code:
        body["totp_code"] = totp_code
    return body


def refusal_message(refusal: Refused) -> str:
    """The login page's words for a refused sign-in (the second factor's problem types are
    /problems/totp-required and /problems/totp-invalid; 429 is a lockout)."""
    if refusal.status == 429:
        return "login.locked"
    kind = str(refusal.problem.get("type", ""))
    if kind.endswith("totp-invalid"):
        return "login.totp_wrong"
    if "totp" in kind or "totp" in str(refusal.problem.get("detail", "")).lower():
        return "login.totp_required"
    return "login.failed"


@router.get("/login", response_class=HTMLResponse)
async def login_page(
    request: Request, next: str | None = None, expired: bool = False, signed_out: bool = False
) -> Response:
    message = "login.expired" if expired else ("login.signed_out" if signed_out else None)
    return render(request, "login.html", next=safe_next(request, next), message=message)


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    totp_code: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    check_csrf(request, csrf)
    target = safe_next(request, next)
    code = totp_code.strip()
    if code and not _TOTP.match(code):
        return render(request, "login.html", next=target, message="login.totp_invalid", status=422)
    async with connect(console_state(request).api, None, client_address(request)) as api:
        try:
            token = await api.post("/v1/auth/login", login_body(username, password, code))
        except SignedOut:
            return render(request, "login.html", next=target, message="login.failed", status=401)
        except Refused as refusal:
            message = refusal_message(refusal)
            return render(request, "login.html", next=target, message=message, status=401)
    if token.get("scope") == "totp_enrol":
        # Admin and finance without a second factor yet: enrol one first, then the page.
        root = str(request.scope.get("root_path", ""))
        response = RedirectResponse(f"{root}/totp?{urlencode({'next': target})}", 303)
        set_enrol_session(request, response, token["access_token"], seconds_left(token))
        return response
    response = RedirectResponse(target, status_code=303)
    set_session(request, response, token["access_token"], seconds_left(token))
    return response


def seconds_left(token: dict[str, Any]) -> int:
    """How long the API's token is good for (the session cookie lives as long)."""
    expires_at = datetime.fromisoformat(token["expires_at"])
    return int((expires_at - datetime.now(UTC)).total_seconds())


@router.post("/logout")
async def logout(request: Request, csrf: Annotated[str, Form(alias=CSRF_FIELD)] = "") -> Response:
    check_csrf(request, csrf)
    root = str(request.scope.get("root_path", ""))
    response = RedirectResponse(f"{root}/login?signed_out=true", status_code=303)
    clear_session(request, response)
    return response


@router.get("/lang/{lang}")
async def switch_language(request: Request, lang: str, next: str | None = None) -> Response:
    response = RedirectResponse(safe_next(request, next), status_code=303)
    if lang in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE,
            lang,
            max_age=365 * 24 * 3600,
            path=cookie_path(request),
            samesite="strict",
            secure=request.url.scheme == "https",
        )
    return response
