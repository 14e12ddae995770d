"""What every page shares: the console's wiring, the signed-in person (from /v1/auth/me), the
menu their permissions allow, and rendering a template with the catalogue's words."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from starlette.types import ASGIApp

from console.client import ApiClient, EnrolmentRequired, Forbidden, SignedOut, connect
from console.i18n import LANG_COOKIE, Translator, format_time, language
from console.money import format_fen
from console.security import csrf_token, remember_csrf, session_token

_TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class ConsoleConfig:
    """The console's slice of the settings, given by the composition root."""

    temporal_ui_url: str = "http://127.0.0.1:8233"
    temporal_namespace: str = "default"

    def workflow_url(self, workflow_id: str) -> str:
        base = self.temporal_ui_url.rstrip("/")
        return f"{base}/namespaces/{self.temporal_namespace}/workflows/{workflow_id}"


@dataclass(frozen=True)
class MenuItem:
    label: str  # catalogue key
    path: str  # under the console's root
    permission: str


@dataclass(frozen=True)
class MenuGroup:
    title: str  # catalogue key ("": the entries at the top, without a title)
    items: tuple[MenuItem, ...]


@dataclass
class ConsoleState:
    api: ASGIApp
    config: ConsoleConfig
    menu: tuple[MenuGroup, ...] = ()  # every part's MENU, grouped as the app lists them
    templates: jinja2.Environment = field(
        default_factory=lambda: jinja2.Environment(
            loader=jinja2.FileSystemLoader(_TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            auto_reload=False,  # templates ship with the code: no stat of each file per page
        )
    )


def console_state(request: Request) -> ConsoleState:
    state: ConsoleState = request.app.state.console
    return state


def client_address(request: Request) -> tuple[str, int]:
    """The browser's address as this server sees it (uvicorn's proxy headers, when configured,
    already put the real one here)."""
    return (request.client.host, request.client.port) if request.client else ("", 0)


@dataclass(frozen=True)
class Me:
    name: str
    roles: list[str]
    permissions: frozenset[str]


@dataclass
class Viewer:
    """The signed-in person and their client of /v1."""

    api: ApiClient
    me: Me

    def can(self, permission: str) -> bool:
        return permission in self.me.permissions

    def require(self, permission: str) -> None:
        if not self.can(permission):
            raise Forbidden


async def who_is_signed_in(api: ApiClient) -> Me:
    """The person (/v1/auth/me) and what their roles allow, composed roles included
    (/v1/auth/grants)."""
    me = await api.get("/v1/auth/me")
    if me.get("kind") != "user":
        raise SignedOut
    permissions = (await api.get("/v1/auth/grants"))["permissions"]
    return Me(me["name"], me["roles"], frozenset(permissions))


async def signed_in(request: Request) -> AsyncIterator[Viewer]:
    token, enrolling = session_token(request)
    if not token:
        raise SignedOut
    if enrolling:
        raise EnrolmentRequired
    words = translator(request)
    async with connect(console_state(request).api, token, client_address(request), words) as api:
        yield Viewer(api, await who_is_signed_in(api))


SignedIn = Annotated[Viewer, Depends(signed_in)]


def translator(request: Request) -> Translator:
    return Translator(language(request.cookies.get(LANG_COOKIE)))


def here(request: Request) -> str:
    """This page's path and query, for coming back to it (login, language switch)."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def render(
    request: Request,
    template: str,
    *,
    viewer: Viewer | None = None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    t = translator(request)

    page = console_state(request).templates.get_template(template)
    html = page.render(
        t=t,
        label=t.label,
        fen=format_fen,
        time=format_time,
        lang=t.lang,
        base=str(request.scope.get("root_path", "")),
        here=here(request),
        csrf=csrf_token(request),
        me=viewer.me if viewer else None,
        roles_text=", ".join(t.label("role", r) for r in viewer.me.roles) if viewer else "",
        menu=_menu_of(request, viewer),
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    response.headers["Vary"] = "Cookie, HX-Request"
    remember_csrf(request, response)
    return response


def _menu_of(request: Request, viewer: Viewer | None) -> list[MenuGroup]:
    """The menu's groups with the entries this person may open (groups left empty dropped)."""
    if viewer is None:
        return []
    groups = (
        MenuGroup(g.title, tuple(m for m in g.items if viewer.can(m.permission)))
        for g in console_state(request).menu
    )
    return [g for g in groups if g.items]


def is_fragment_request(request: Request) -> bool:
    """htmx asking for the part of the page it swaps (not a history restore, which needs the
    whole page)."""
    return (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-history-restore-request") != "true"
    )
