"""Database engine and sessions (SQLAlchemy 2 async + asyncpg)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg.exceptions
import asyncpg.exceptions._base
from sqlalchemy import String, Table, TextClause, bindparam, cast, column, func, select
from sqlalchemy.dialects.postgresql import JSONB, Insert, insert
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import greenlet_spawn

from core.fair_pool import FairAsyncPool
from core.settings import WORKER_CONNECTIONS
from core.sql_spans import statement_span

SessionFactory = async_sessionmaker[AsyncSession]


def async_url(url: str) -> str:
    """Accept plain `postgresql://` URLs and use the asyncpg driver for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def make_engine(
    url: str, *, pool_size: int = WORKER_CONNECTIONS // 2, connections: int | None = None
) -> AsyncEngine:
    """At most `connections` (default 2 × `pool_size`) connections, and every one opened is kept
    for the next request.
    (It was `pool_size` kept plus as many again opened for a burst and closed when given back:
    under 50 concurrent clients the API opened and closed a PostgreSQL connection — a backend
    process started each time — for most requests; py-spy showed connecting as 40% of the API's
    authentication step.) No ping on every checkout (it was a sixth of the API's CPU): a
    connection found dead fails its one request and invalidates the pool (SQLAlchemy's
    disconnect handling), so after a database restart each process errs once, then reconnects;
    activities retry anyway."""
    return create_async_engine(
        async_url(url),
        poolclass=FairAsyncPool,  # waiters served in the order they came (core/fair_pool.py)
        pool_size=connections or 2 * pool_size,
        max_overflow=0,
        pool_recycle=1800,
        connect_args={"timeout": 10, "command_timeout": 60},
    )


def make_session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False)


class Alone:
    """A statement run alone: its own (implicit) transaction, one round trip, on a connection of
    the engine's pool, at the driver's level (asyncpg, its prepared statement cached per
    connection). SQLAlchemy's asyncpg connection sends BEGIN before a statement and COMMIT
    after it, two more round trips and a good part of the API's and PostgreSQL's CPU for a
    request answered by one statement (a flash sale's refusal). For a statement that is a whole
    transaction by itself; its text is compiled once, its named parameters passed by name."""

    def __init__(self, statement: TextClause) -> None:
        compiled = statement.compile(dialect=asyncpg_dialect())  # type: ignore[no-untyped-call]
        self.sql = compiled.string
        self.names = tuple(compiled.positiontup or ())

    async def one(self, engine: AsyncEngine, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """The statement's one row (a mapping by column name)."""
        args = [params[name] for name in self.names]
        pooled = await engine.raw_connection()
        try:
            driver = pooled.driver_connection
            assert driver is not None
            with statement_span(engine, self.sql):
                row: Mapping[str, Any] | None = await driver.fetchrow(self.sql, *args)
        except BaseException as exc:
            # The server refused the statement (rolled back with it): the connection is fine.
            # Anything else (a connection that died, a timeout, a cancellation mid-statement)
            # leaves it in a state nobody should inherit: closed, the pool opens a new one.
            if not isinstance(exc, asyncpg.PostgresError) or isinstance(
                exc, asyncpg.PostgresConnectionError
            ):
                await greenlet_spawn(pooled.invalidate)
            raise
        finally:
            await greenlet_spawn(pooled.close)  # back to the pool (nothing to roll back)
        if row is None:
            raise LookupError("the statement answered no row")
        return row


def insert_rows(table: Table, columns: Sequence[str], param: str) -> Insert:
    """An INSERT of any number of rows given as one JSON parameter `param` (`json_rows`): the
    statement's text is the same whatever the number of rows, so SQLAlchemy compiles it once.
    A multi-row VALUES (`insert(...).values([row, row])`) gets no cache key in SQLAlchemy: it
    was compiled again on every call, and for the order's record (four inserts in one
    statement) that compile was the largest part of placing an order in the worker."""
    typed = [column(name, table.c[name].type) for name in columns]
    rows = (
        func.jsonb_to_recordset(cast(bindparam(param, type_=String()), JSONB))
        .table_valued(*typed)
        .render_derived(name=f"{param}_set", with_types=True)
    )
    return insert(table).from_select(list(columns), select(*(rows.c[name] for name in columns)))


def json_rows(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """Rows for `insert_rows` of these `columns`: JSON objects keyed by column (a timestamp as
    its ISO text). A row with another key set is refused: PostgreSQL would drop a key the
    statement does not name, and leave NULL in a column the row does not give."""
    named = set(columns)
    for row in rows:
        if set(row) != named:
            raise ValueError(f"row keys {sorted(row)} are not the columns {sorted(named)}")
    return json.dumps(list(rows), ensure_ascii=False, default=str)


def is_data_error(exc: BaseException) -> bool:
    """A value the database cannot take (SQLSTATE class 22: out of range, invalid text such as a
    NUL byte) or one the driver cannot encode (asyncpg: "value out of int64 range", a lone
    surrogate). The same statement with the same values fails every time: retrying cannot help.
    Looks through SQLAlchemy's wrapper and the exception's causes."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, asyncpg.exceptions.DataError | asyncpg.exceptions._base.DataError):
            return True
        if str(getattr(current, "sqlstate", "") or "").startswith("22"):
            return True
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return False
