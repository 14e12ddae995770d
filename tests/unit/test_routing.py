"""The routers' quick refusal (api/routing.py) is for speed only: every address reaches the same
route with it as without it, and every route module uses it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Match

from api.main import create_app
from api.routing import Routes, literal_starts


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app()


def _routers(app: FastAPI) -> Iterator[APIRouter]:
    for route in app.router.routes:
        router = getattr(route, "original_router", None)
        if isinstance(router, APIRouter):
            yield router


def _address(path: str) -> str:
    """An address the route's own pattern matches: each parameter given a plausible value."""
    return re.sub(r"\{[^}:]+(:path)?\}", lambda m: "a/b" if m.group(1) else "1", path)


def _resolve(app: FastAPI, path: str, method: str, quick: bool) -> str | None:
    """The path template of the route the app's router picks for (method, path)."""
    scope: dict[str, Any] = {
        "type": "http",
        "path": path,
        "root_path": "",
        "method": method,
        "headers": [],
        "query_string": b"",
        "app": app,
    }
    saved = Routes.matches
    if not quick:
        Routes.matches = APIRouter.matches  # type: ignore[method-assign]
    try:
        for route in app.router.routes:
            match, child = route.matches(scope)
            if match == Match.FULL:
                scope.update(child)
                found = getattr(route, "original_router", None)
                if isinstance(found, APIRouter):
                    picked = [
                        r
                        for r in found.routes
                        if isinstance(r, APIRoute) and r.matches(scope)[0] == Match.FULL
                    ]
                    return picked[0].path if picked else None
                return getattr(route, "path", None)
    finally:
        Routes.matches = saved  # type: ignore[method-assign]
    return None


def test_every_route_module_refuses_foreign_addresses_quickly(app: FastAPI) -> None:
    routers = list(_routers(app))
    assert len(routers) >= 30
    slow = [r for r in routers if not isinstance(r, Routes)]
    assert not slow, f"routers not made with api.routing.Routes: {slow}"


def test_every_address_reaches_the_same_route_with_the_quick_refusal(app: FastAPI) -> None:
    checked = 0
    for router in _routers(app):
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            for method in sorted(route.methods):
                address = _address(route.path)
                slow = _resolve(app, address, method, quick=False)
                assert slow is not None, (method, route.path)
                assert _resolve(app, address, method, quick=True) == slow, (method, route.path)
                checked += 1
    assert checked >= 150


def test_a_routers_literal_starts_are_its_paths_up_to_their_first_parameter() -> None:
    router = Routes(prefix="/v1/things")

    @router.get("/{thing_id}/parts")
    def parts(thing_id: int) -> None: ...

    @router.get("")
    def things() -> None: ...

    assert literal_starts(router) == ("/v1/things", "/v1/things/")
