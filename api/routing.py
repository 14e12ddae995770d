"""The API's routers: each refuses at once an address none of its routes can match.

FastAPI matches a request against every route of every included router in turn, with
bookkeeping for each; with some thirty routers of /v1 that is about a millisecond before a late
router's route is even tried, and the handhelds' and console's pages call /v1 in process, so
they pay it twice. A route can only match an address that starts with the literal part of its
path (everything before its first parameter), so a router whose routes' literal parts none
begin the address is passed over with one `str.startswith`."""

from __future__ import annotations

from fastapi import APIRouter
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Scope


class Routes(APIRouter):
    """An APIRouter passed over at once by addresses none of its routes can match."""

    _starts: tuple[str, ...] = ("",)
    _starts_of: int = -1  # how many routes `_starts` was computed from

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if len(self.routes) != self._starts_of:
            self._starts = literal_starts(self)
            self._starts_of = len(self.routes)
        if scope.get("type") == "http" and not get_route_path(scope).startswith(self._starts):
            return Match.NONE, {}
        return super().matches(scope)


def literal_starts(router: APIRouter) -> tuple[str, ...]:
    """The literal beginnings of the router's routes' paths ("" for a route without a plain
    path: then every address may match)."""
    starts = set()
    for route in router.routes:
        path = getattr(route, "path", None)
        starts.add(path.split("{", 1)[0] if isinstance(path, str) else "")
    return tuple(sorted(starts)) if "" not in starts else ("",)
