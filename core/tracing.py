"""OpenTelemetry tracing (README "Observability"): one trace from an HTTP request through the
workflow it starts or updates, the activities that workflow runs, and their PostgreSQL
statements and outside HTTP calls.

Off by default (`HOUTAI_TRACING__EXPORTER=off`): nothing is instrumented and nothing is
exported, so tracing costs nothing unless asked for. With `otlp`, spans go in batches to an
OpenTelemetry collector over OTLP/HTTP (`HOUTAI_TRACING__OTLP_ENDPOINT`, e.g. Jaeger or Tempo
behind a collector); with `console`, they are printed (for a look on a laptop).

The pieces, each handed the process's one provider (never the global one, so a test can trace
into its own exporter):
- the API: an ASGI middleware making a server span per request (`asgi_middleware`);
- Temporal: the SDK's `TracingInterceptor` on the client (`temporal_interceptors`). It carries
  the span context in workflow and activity headers, so the workflow's spans (RunWorkflow,
  StartActivity, StartChildWorkflow, HandleUpdate, ...) and the activity's (RunActivity) join
  the request's trace. A worker gets it from its client;
- PostgreSQL: SQLAlchemy's engine events (`instrument_engine`), a span per statement; a
  statement run at the driver's level (core.db.Alone) gets the same span (core/sql_spans.py);
- HTTP to providers: httpx clients (`instrument_httpx`), a client span per call, the trace
  context passed on in `traceparent`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from core import logging as houtai_logging
from core import sql_spans
from core.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass(frozen=True)
class Tracing:
    """A process's tracer provider, or none when tracing is off."""

    provider: TracerProvider | None = None

    @property
    def on(self) -> bool:
        return self.provider is not None

    def shutdown(self) -> None:
        """Exports what is still batched (bounded by the exporter's timeout)."""
        if self.provider is not None:
            self.provider.shutdown()


OFF = Tracing()


def exporter_for(settings: Settings) -> SpanExporter | None:
    kind = settings.tracing.exporter
    if kind == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(
            endpoint=settings.tracing.otlp_endpoint,
            timeout=settings.tracing.export_timeout_s,
        )
    if kind == "console":
        return ConsoleSpanExporter()
    return None


def tracing_for(settings: Settings, process: str, exporter: SpanExporter | None = None) -> Tracing:
    """The provider of one process (`api` or `worker`), named `<service_name>-<process>` in
    the spans' resource; OFF when tracing is off and no exporter is given."""
    exporter = exporter or exporter_for(settings)
    if exporter is None:
        return OFF
    install_log_context()
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"{settings.tracing.service_name}-{process}"}),
        # A request's decision is its trace's: a worker follows the caller's sampled flag.
        sampler=ParentBased(TraceIdRatioBased(settings.tracing.sample_ratio)),
    )
    provider.add_span_processor(
        BatchSpanProcessor(
            exporter, schedule_delay_millis=int(settings.tracing.export_every_s * 1000)
        )
    )
    return Tracing(provider)


def log_context() -> dict[str, str]:
    """trace_id of the span current, for every log line written in it (core.logging)."""
    context = trace.get_current_span().get_span_context()
    return {"trace_id": format(context.trace_id, "032x")} if context.is_valid else {}


def install_log_context() -> None:
    if log_context not in houtai_logging.context_providers:
        houtai_logging.context_providers.append(log_context)


def temporal_interceptors(tracing: Tracing) -> list[Any]:
    """The Temporal client's interceptors: the SDK's tracing interceptor when tracing is on.
    Workers made from the client use it too (workflow, activity and child-workflow spans)."""
    if tracing.provider is None:
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor(tracing.provider.get_tracer("houtai.temporal"))]


def add_asgi_middleware(app: FastAPI, tracing: Tracing) -> None:
    """A server span per request, outermost: also around the console's and handhelds'
    in-process calls to /v1, so a page's trace shows each API call it made. The span is named
    by method and route template once the route is known (api/observability.py)."""
    if tracing.provider is None:
        return
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    app.add_middleware(
        OpenTelemetryMiddleware,
        tracer_provider=tracing.provider,
        exclude_spans=["receive", "send"],  # a span per body chunk says nothing
    )


def instrument_engine(engine: AsyncEngine, tracing: Tracing) -> None:
    """A client span per SQL statement the engine runs, a child of the span current then
    (SQLAlchemy's cursor events; the contrib instrumentor refuses SQLAlchemy 2.1). Named by
    the statement's first word; the statement itself (no parameters) is an attribute."""
    if tracing.provider is None:
        return
    from sqlalchemy import event

    tracer = tracing.provider.get_tracer("houtai.sql")
    database = engine.url.database or ""

    def before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        name, attributes = sql_spans.span_of(statement, database)
        span = tracer.start_span(name, kind=trace.SpanKind.CLIENT, attributes=attributes)
        conn.info.setdefault(_SPANS, []).append(span)

    def after(conn: Any, *_: Any) -> None:
        spans = conn.info.get(_SPANS)
        if spans:
            spans.pop().end()

    def failed(context: Any) -> None:
        spans = context.connection.info.get(_SPANS) if context.connection is not None else None
        if spans:
            span = spans.pop()
            span.set_status(
                trace.Status(trace.StatusCode.ERROR, type(context.original_exception).__name__)
            )
            span.end()

    sql_spans.traced(engine, tracer, database)
    event.listen(engine.sync_engine, "before_cursor_execute", before)
    event.listen(engine.sync_engine, "after_cursor_execute", after)
    event.listen(engine.sync_engine, "handle_error", failed)


_SPANS = "houtai_trace_spans"


def instrument_httpx(tracing: Tracing) -> None:
    """A client span per outside HTTP call (payments, carrier, supplier, robots), with the
    trace context in its `traceparent` header. Applies to httpx clients made afterwards."""
    if tracing.provider is None:
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor().instrument(tracer_provider=tracing.provider)
