"""create_console: the console's ASGI app, mounted by the API's composition root under /console.

It is handed the API's ASGI app to call /v1 on in process; it imports nothing of the API."""

from __future__ import annotations

from pathlib import Path
from typing import Final
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from console import (
    admin,
    after_sales,
    auth,
    catalog,
    dashboard,
    devices,
    enrolment,
    finance,
    flash_sales,
    group_buys,
    inbox,
    loyalty,
    manifests,
    marketing,
    members,
    notifications,
    orders,
    presales,
    purchasing,
    putaway,
    reports_buy,
    reports_orders,
    reports_sales,
    reports_stock,
    search,
    stock_value,
    transfers,
    warehouse,
)
from console.client import EnrolmentRequired, Forbidden, NotFound, Refused, SignedOut
from console.pages import ConsoleConfig, ConsoleState, MenuGroup, here, render
from console.security import SESSION_COOKIE, CsrfFailed, SecurityHeaders, clear_session

STATIC = Path(__file__).parent / "static"

# The console's parts: each has a `router` and may have a `MENU` (its entries in the side
# menu). A part with a menu is listed under its group here (in menu order); one without, in
# QUIET. A new part is one module and one line here.
GROUPS: Final = (
    ("", (dashboard, inbox, notifications)),
    ("nav.group.sales", (orders, after_sales)),
    ("nav.group.members", (members, loyalty)),
    ("nav.group.purchasing", (purchasing,)),
    ("nav.group.finance", (finance, stock_value)),
    ("nav.group.reports", (reports_sales, reports_orders, reports_stock, reports_buy)),
    ("nav.group.warehouse", (warehouse, putaway, transfers, manifests, devices)),
    ("nav.group.catalog", (catalog, marketing, flash_sales, group_buys, presales)),
    ("nav.group.system", (admin,)),
)
QUIET: Final = (auth, search, enrolment)
PARTS: Final = (*(part for _, parts in GROUPS for part in parts), *QUIET)


def create_console(api: ASGIApp, config: ConsoleConfig | None = None) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    menu = tuple(
        MenuGroup(title, tuple(item for part in parts for item in getattr(part, "MENU", ())))
        for title, parts in GROUPS
    )
    app.state.console = ConsoleState(api=api, config=config or ConsoleConfig(), menu=menu)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for part in PARTS:
        app.include_router(part.router)
    app.add_exception_handler(SignedOut, _signed_out)
    app.add_exception_handler(EnrolmentRequired, _enrolment_required)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(CsrfFailed, _csrf_failed)
    app.add_exception_handler(Refused, _refused)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    return app


async def _signed_out(request: Request, exc: Exception) -> Response:
    """Back to the login page, remembering the page (a form post comes back to the page the
    form was on)."""
    root = str(request.scope.get("root_path", ""))
    target = here(request) if request.method == "GET" else _referring_page(request, root)
    expired = "expired=true&" if request.cookies.get(SESSION_COOKIE) else ""
    response = RedirectResponse(f"{root}/login?{expired}{urlencode({'next': target})}", 303)
    clear_session(request, response)
    return response


async def _enrolment_required(request: Request, exc: Exception) -> Response:
    """A person who must enrol a second factor first: to the enrolment page, remembering the
    page."""
    root = str(request.scope.get("root_path", ""))
    target = here(request) if request.method == "GET" else _referring_page(request, root)
    return RedirectResponse(f"{root}/totp?{urlencode({'next': target})}", 303)


def _referring_page(request: Request, root: str) -> str:
    referer = request.headers.get("referer", "")
    origin = f"{request.url.scheme}://{request.url.netloc}"
    if referer.startswith(f"{origin}{root}/"):
        return referer.removeprefix(origin)
    return f"{root}/"


async def _forbidden(request: Request, exc: Exception) -> Response:
    return render(request, "error.html", status=403, problem="error.forbidden")


async def _not_found(request: Request, exc: Exception) -> Response:
    return render(request, "error.html", status=404, problem="error.not_found")


async def _csrf_failed(request: Request, exc: Exception) -> Response:
    return render(request, "error.html", status=403, problem="error.csrf")


async def _refused(request: Request, exc: Exception) -> Response:
    """A page whose API call was refused (a filter the API rejects, the API failing): the
    API's words in the page, with its status."""
    assert isinstance(exc, Refused)
    return render(
        request, "error.html", status=exc.status, problem="error.refused", detail=exc.detail
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    """No such console page (or method): the friendly page, not the API's JSON."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return await _not_found(request, exc)
    return render(
        request, "error.html", status=exc.status_code, problem="error.refused", detail=exc.detail
    )
