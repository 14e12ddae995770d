"""Reads a client may wait on (a long poll), instead of asking again and again.

Every such answer carries an `ETag` (a hash of its body). A client that sends the last one back
in `If-None-Match` together with `Prefer: wait=N` (RFC 7240; at most 30 s) is answered as soon
as the object changes, or with `304 Not Modified` when N seconds pass without a change. Without
those headers a read answers at once, as any read. The database connection is given back while
waiting: waiters cost a task each, not a connection."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import TypeVar

from fastapi import Request, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from core.changes import ChangeFeed

MAX_WAIT_S = 30.0
WATCHABLE: dict[int | str, dict[str, str]] = {
    304: {"description": "Not modified: nothing changed within the wait (`Prefer: wait=N`)"}
}
_WAIT = re.compile(r"(?:^|[,;\s])wait=(\d+(?:\.\d+)?)")

V = TypeVar("V", bound=BaseModel)


def etag_of(view: BaseModel) -> str:
    return '"' + hashlib.sha256(view.model_dump_json().encode()).hexdigest()[:32] + '"'


def wait_asked(request: Request) -> float:
    """Seconds the client is ready to wait (its `Prefer: wait=N`), capped."""
    found = _WAIT.search(request.headers.get("prefer", ""))
    return min(float(found.group(1)), MAX_WAIT_S) if found else 0.0


async def watched(
    request: Request,
    response: Response,
    session: AsyncSession,
    changes: ChangeFeed | None,
    key: str,
    read: Callable[[], Awaitable[V]],
) -> V | Response:
    """`read()` now, or once `key` changes if the client already has what it would answer."""
    known = request.headers.get("if-none-match")
    wait_s = wait_asked(request) if changes is not None else 0.0
    if not known or not wait_s or changes is None:
        return _tagged(await read(), response, known)
    await changes.listen()
    with changes.subscription(key) as changed:  # before the read: no change goes unseen
        view = await read()
        if etag_of(view) == known:
            await session.commit()  # the connection goes back to the pool while waiting
            with suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), wait_s)
            view = await read()
    return _tagged(view, response, known)


def _tagged(view: V, response: Response, known: str | None) -> V | Response:
    tag = etag_of(view)
    if known == tag:
        return Response(status_code=304, headers={"ETag": tag})
    response.headers["ETag"] = tag
    return view
