"""Change notices over PostgreSQL LISTEN/NOTIFY: the projections tell readers that an order or
a package changed, so a reader can wait for the change (a long poll) instead of asking again
and again.

Writers call `notify_sql(key)` inside the transaction that changes the projection: PostgreSQL
delivers the notice at commit, never for a rolled-back write. `ChangeFeed` holds one listening
connection per process, opened on first use, and wakes the waiters of a key. A notice can be
lost (the listener reconnecting): waiters then simply time out and read again, so a notice is
a hint to read sooner, never the only way to see a change."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import asyncpg
from sqlalchemy import ColumnElement, TextClause, func, text

CHANNEL = "houtai_changes"


def notify_sql(key: str) -> tuple[TextClause, dict[str, str]]:
    """The statement (and its parameters) announcing that `key` changed, at commit."""
    return text("SELECT pg_notify(:channel, :key)"), {"channel": CHANNEL, "key": key}


def notify(key: str) -> ColumnElement[Any]:
    """The same announcement as a column, to select in a statement that does more."""
    return func.pg_notify(CHANNEL, key)


class ChangeFeed:
    def __init__(self, dsn: str, *, connect_timeout_s: float = 10.0) -> None:
        self._dsn = dsn
        self._timeout = connect_timeout_s
        self._conn: Any = None  # asyncpg.Connection (untyped)
        self._lock = asyncio.Lock()
        self._waiters: dict[str, set[asyncio.Event]] = {}

    async def listen(self) -> None:
        """Open the listening connection if it is not open (again, after a drop)."""
        async with self._lock:
            if self._conn is not None and not self._conn.is_closed():
                return
            self._conn = await asyncpg.connect(self._dsn, timeout=self._timeout)
            await self._conn.add_listener(CHANNEL, self._notified)

    def _notified(self, _conn: object, _pid: int, _channel: str, key: str) -> None:
        for event in self._waiters.get(key, ()):
            event.set()

    @contextlib.contextmanager
    def subscription(self, key: str) -> Iterator[asyncio.Event]:
        """An event set when `key` changes; register before reading, so no change between the
        read and the wait goes unseen."""
        event = asyncio.Event()
        self._waiters.setdefault(key, set()).add(event)
        try:
            yield event
        finally:
            waiting = self._waiters.get(key)
            if waiting is not None:
                waiting.discard(event)
                if not waiting:
                    del self._waiters[key]

    @property
    def waiting(self) -> int:
        return sum(len(events) for events in self._waiters.values())

    async def close(self) -> None:
        async with self._lock:
            if self._conn is not None and not self._conn.is_closed():
                await self._conn.close()
            self._conn = None
