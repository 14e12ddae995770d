"""The audit middleware: every state-changing request leaves an audit row.

Successful writes record theirs inside their own transaction (Writer.commit). Everything else —
rejected, failed or unauthenticated attempts — is recorded here after the response, in a
transaction of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

from api.deps import AppDeps, Principal, audit_entry

log = logging.getLogger(__name__)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def route_action(request: Request) -> str:
    route = request.scope.get("route")
    template = getattr(route, "path", request.url.path)
    return f"{request.method} {template}"


def install(app: FastAPI) -> None:
    @app.middleware("http")
    async def audit_writes(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        try:
            response = await call_next(request)
        except Exception:  # a bug (500): record the attempt, then let the error handler answer
            if request.method in WRITE_METHODS:
                await _record(request, 500)
            raise
        if request.method not in WRITE_METHODS or getattr(request.state, "audited", False):
            return response
        await _record(request, response.status_code)
        return response


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
