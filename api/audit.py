"""The audit middleware: every state-changing request leaves an audit row.

Successful writes record theirs inside their own transaction (Writer.commit). Everything else —
rejected, failed or unauthenticated attempts — is recorded here after the response, in a
transaction of its own.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import AppDeps, Principal, audit_entry

log = logging.getLogger(__name__)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The console's (and the handheld pages') own form posts are not API calls: the /v1 call each
# one makes is audited, with the person and their address (console/client.py).
UNAUDITED_PREFIX = ("/console/", "/pda/")


def route_action(request: Request) -> str:
    route = request.scope.get("route")
    template = getattr(route, "path", request.url.path)
    return f"{request.method} {template}"


def install(app: FastAPI) -> None:
    app.add_middleware(AuditMiddleware)


class AuditMiddleware:
    """Plain ASGI (no BaseHTTPMiddleware: it copies every request through a task and a stream).
    The row is written before the response starts, so a client that sees the answer can already
    see its audit row."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in WRITE_METHODS
            or scope["path"].startswith(UNAUDITED_PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope)  # shares scope["state"] with the route's request

        async def send_after_audit(message: Message) -> None:
            if message["type"] == "http.response.start" and not getattr(
                request.state, "audited", False
            ):
                request.state.audited = True
                await _record(request, int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, send_after_audit)
        except Exception:  # a bug (500): record the attempt, then let the error handler answer
            if not getattr(request.state, "audited", False):
                request.state.audited = True
                await _record(request, 500)
            raise


async def _record(request: Request, status_code: int) -> None:
    deps: AppDeps = request.app.state.deps
    principal: Principal | None = getattr(request.state, "principal", None)
    try:
        async with deps.session_factory() as session:
            session.add(
                audit_entry(
                    request,
                    principal,
                    action=route_action(request),
                    status_code=status_code,
                    detail=getattr(request.state, "audit_detail", {}),
                )
            )
            await session.commit()
    except Exception:  # the response stands; a lost audit row must be visible in the logs
        log.exception("audit row not written", extra={"path": request.url.path})
