"""Session cookie, CSRF and response headers of the console (DESIGN §3a, §9)."""

from __future__ import annotations

import hmac
import secrets
from typing import Final

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE: Final = "houtai_session"
CSRF_COOKIE: Final = "houtai_csrf"
CSRF_FIELD: Final = "csrf"
ENROL_PREFIX: Final = "enrol."
"""Marks a session cookie holding a token good only for enrolling a second factor (`scope`
totp_enrol): every page but the enrolment page sends its holder there. A JWT never starts so."""
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class CsrfFailed(Exception):
    """A form post without the page's CSRF token, with a wrong one, or from another origin."""


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def cookie_path(request: Request) -> str:
    return str(request.scope.get("root_path") or "/")


def set_session(request: Request, response: Response, token: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max(max_age, 0),
        path=cookie_path(request),
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )


def set_enrol_session(request: Request, response: Response, token: str, max_age: int) -> None:
    set_session(request, response, ENROL_PREFIX + token, max_age)


def session_token(request: Request) -> tuple[str | None, bool]:
    """The session's bearer token, and whether it is good only for enrolling."""
    value = request.cookies.get(SESSION_COOKIE)
    if value and value.startswith(ENROL_PREFIX):
        return value.removeprefix(ENROL_PREFIX), True
    return value or None, False


def clear_session(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path=cookie_path(request),
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )


def csrf_token(request: Request) -> str:
    """The token this browser's forms carry: the value of its CSRF cookie (a new one when it has
    none yet; `remember_csrf` sets it on the response)."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing and len(existing) >= 32:
        return existing
    fresh: str | None = getattr(request.state, "new_csrf", None)
    if fresh is None:
        fresh = secrets.token_urlsafe(32)
        request.state.new_csrf = fresh
    return fresh


def remember_csrf(request: Request, response: Response) -> None:
    fresh = getattr(request.state, "new_csrf", None)
    if fresh is not None:
        response.set_cookie(
            CSRF_COOKIE,
            fresh,
            path=cookie_path(request),
            httponly=True,
            samesite="strict",
            secure=is_https(request),
        )


def check_csrf(request: Request, submitted: str | None) -> None:
    """Double submit: the form's token must equal the cookie's, and a browser's Origin (when
    sent) must be this site."""
    cookie = request.cookies.get(CSRF_COOKIE) or ""
    if not submitted or not cookie or not hmac.compare_digest(submitted, cookie):
        raise CsrfFailed
    origin = request.headers.get("origin")
    if origin and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise CsrfFailed


class SecurityHeaders:
    """Strict CSP and friends on every console response; pages are never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "same-origin"
                if headers.get("content-type", "").startswith("text/html"):
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, with_headers)
