"""The benchmarks' HTTP side: clients for the API and the sandboxes (counting API calls by route),
optionally retrying while the API is away (`Retrying`), and `watch`, which waits on an order or
package the way a client of houtai can (ETag with `Prefer: wait=N`) instead of polling it."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from _stack import Stack, ok


class Retrying(httpx.AsyncBaseTransport):
    """A client that rides out an API restart, as a storefront or handheld does: a request that
    could not be sent or got no answer (the process died under it), or was answered 503 (no
    worker answered in time), is sent again, with backoff, for up to `within` seconds. A command
    whose first attempt did take effect answers its repeat with a refusal (409): the caller
    then looks at where the object is (bench/chaos.py drives orders that way)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, within: float) -> None:
        self.inner = inner
        self.within = within
        self.retries = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        deadline = time.monotonic() + self.within
        delay = 0.2
        while True:
            try:
                response = await self.inner.handle_async_request(request)
                await response.aread()  # a body cut off by the API's death is retried too
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            else:
                if response.status_code != 503 or time.monotonic() > deadline:
                    return response
                await response.aclose()
            self.retries += 1
            await asyncio.sleep(delay)
            delay = min(2 * delay, 2.0)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class Http:
    api: httpx.AsyncClient
    payments: httpx.AsyncClient
    carrier: httpx.AsyncClient
    calls: Counter[str]  # API requests by route, e.g. "GET /v1/orders/{}"
    retrying: Retrying | None = None  # the API client's, when it retries


@asynccontextmanager
async def http_clients(
    stack: Stack, connections: int = 500, *, retry_within: float | None = None
) -> AsyncIterator[Http]:
    """Clients of the API and both sandboxes; with `retry_within`, the API client retries (see
    `Retrying`) for that many seconds."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    inner = httpx.AsyncHTTPTransport(limits=limits)
    retrying = None if retry_within is None else Retrying(inner, retry_within)
    calls: Counter[str] = Counter()

    async def count(request: httpx.Request) -> None:
        route = "/".join(
            "{}" if any(c.isdigit() for c in part) else part for part in request.url.path.split("/")
        )
        calls[f"{request.method} {route}"] += 1

    hooks = {"request": [count]}
    async with (
        httpx.AsyncClient(
            base_url=stack.api, timeout=120, event_hooks=hooks, transport=retrying or inner
        ) as api,
        httpx.AsyncClient(base_url=stack.payments, timeout=60, limits=limits) as pay,
        httpx.AsyncClient(base_url=stack.carrier, timeout=60, limits=limits) as carrier,
    ):
        yield Http(api, pay, carrier, calls, retrying)


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
