"""The span of one PostgreSQL statement (core/tracing.py `instrument_engine`), shared with the
statements run at the driver's level, past SQLAlchemy's events (core.db.Alone), so a trace shows
those too. Apart from core/tracing.py, which imports the Temporal SDK's interceptor: the
database layer needs only OpenTelemetry's API."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from opentelemetry import trace

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

STATEMENT_MAX = 2000
_TRACED: WeakKeyDictionary[Any, tuple[trace.Tracer, str]] = WeakKeyDictionary()


def traced(engine: AsyncEngine, tracer: trace.Tracer, database: str) -> None:
    """The engine's statements run alone get spans from `tracer` too."""
    _TRACED[engine.sync_engine] = (tracer, database)


def span_of(statement: str, database: str) -> tuple[str, dict[str, str]]:
    """A statement's span name (its first word and the database) and attributes (the text with
    its placeholders, never the values)."""
    words = statement.split(None, 1)
    name = f"{words[0].upper() if words else 'SQL'} {database}".strip()
    return name, {
        "db.system": "postgresql",
        "db.name": database,
        "db.statement": statement[:STATEMENT_MAX],
    }


def statement_span(engine: AsyncEngine, statement: str) -> AbstractContextManager[Any]:
    """The span `instrument_engine` gives a statement, for one run at the driver's level:
    current while it runs, failed with its exception. Nothing when the engine is not traced."""
    found = _TRACED.get(engine.sync_engine)
    if found is None:
        return nullcontext()
    tracer, database = found
    name, attributes = span_of(statement, database)
    return tracer.start_as_current_span(name, kind=trace.SpanKind.CLIENT, attributes=attributes)
