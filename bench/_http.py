"""The benchmarks' HTTP side: clients for the API and the sandboxes (counting API calls by route)
and `watch`, which waits on an order or package the way a client of houtai can (ETag with
`Prefer: wait=N`) instead of polling it."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from _stack import Stack, ok


@dataclass
class Http:
    api: httpx.AsyncClient
    payments: httpx.AsyncClient
    carrier: httpx.AsyncClient
    calls: Counter[str]  # API requests by route, e.g. "GET /v1/orders/{}"


@asynccontextmanager
async def http_clients(stack: Stack, connections: int = 500) -> AsyncIterator[Http]:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    calls: Counter[str] = Counter()

    async def count(request: httpx.Request) -> None:
        route = "/".join(
            "{}" if any(c.isdigit() for c in part) else part for part in request.url.path.split("/")
        )
        calls[f"{request.method} {route}"] += 1

    hooks = {"request": [count]}
    async with (
        httpx.AsyncClient(base_url=stack.api, timeout=120, limits=limits, event_hooks=hooks) as api,
        httpx.AsyncClient(base_url=stack.payments, timeout=60, limits=limits) as pay,
        httpx.AsyncClient(base_url=stack.carrier, timeout=60, limits=limits) as carrier,
    ):
        yield Http(api, pay, carrier, calls)


async def watch(
    api: httpx.AsyncClient,
    path: str,
    headers: dict[str, str],
    ready: Callable[[dict[str, Any]], bool],
    what: str,
    *,
    within: float,
) -> dict[str, Any]:
    """GET `path` until `ready`, each time waiting for the object to change (ETag with
    `Prefer: wait=N`, answered at the change or 304) rather than polling on a timer."""
    deadline = time.monotonic() + within
    answer = await api.get(path, headers=headers)
    found: dict[str, Any] = ok(answer, 200)
    while not ready(found):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no {what} within {within:.0f} s; last seen {str(found)[:500]}")
        tag = {"If-None-Match": answer.headers["etag"], "Prefer": f"wait={min(left, 20):.1f}"}
        again = await api.get(path, headers={**headers, **tag})
        if again.status_code != 304:
            answer, found = again, ok(again, 200)
    return found
