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
    return _etag(view.__pydantic_serializer__.to_json(view))


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


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
    """`read()` now, or once `key` changes if the client already has what it would answer.

    The answer is the view's JSON as the route's response model writes it (FastAPI's
    `serialize_json`: the same bytes), serialized once here for both its ETag and its body, not
    again (validated and serialized) by FastAPI."""
    known = request.headers.get("if-none-match")
    wait_s = wait_asked(request) if changes is not None else 0.0
    if not known or not wait_s or changes is None:
        return _tagged(await read(), known)
    await changes.listen()
    with changes.subscription(key) as changed:  # before the read: no change goes unseen
        body = _json(await read())
        if _etag(body) == known:
            await session.commit()  # the connection goes back to the pool while waiting
            with suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), wait_s)
            body = _json(await read())
    return _answer(body, known)


def _json(view: BaseModel) -> bytes:
    return view.__pydantic_serializer__.to_json(view)


def _tagged(view: BaseModel, known: str | None) -> Response:
    return _answer(_json(view), known)


def _answer(body: bytes, known: str | None) -> Response:
    tag = _etag(body)
    if known == tag:
        return Response(status_code=304, headers={"ETag": tag})
    return Response(body, media_type="application/json", headers={"ETag": tag})
