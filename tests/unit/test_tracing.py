"""Tracing's pieces in process (core/tracing.py): off by default, a request's server span
named by its route template with its request id, log lines carrying the trace id.
The whole path across processes is tested on a running stack (tests/e2e/test_observability.py)."""

from __future__ import annotations

import json
import logging

import httpx
from fastapi import FastAPI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from api import observability
from core import logging as houtai_logging
from core import tracing
from core.settings import Settings


def test_tracing_is_off_unless_an_exporter_is_chosen() -> None:
    assert tracing.tracing_for(Settings(), "api") is tracing.OFF
    assert tracing.temporal_interceptors(tracing.OFF) == []
    app = FastAPI()
    before = list(app.user_middleware)
    tracing.add_asgi_middleware(app, tracing.OFF)
    assert app.user_middleware == before
    on = Settings(tracing={"exporter": "console"})  # type: ignore[arg-type]
    assert tracing.tracing_for(on, "worker").on


async def test_a_request_span_is_named_by_its_route_and_carries_its_request_id() -> None:
    exported = InMemorySpanExporter()
    traced = tracing.tracing_for(Settings(), "api", exporter=exported)
    app = FastAPI()
    seen: list[str] = []

    @app.get("/v1/things/{thing_no}")
    async def thing(thing_no: str) -> dict[str, str]:
        logging.getLogger("houtai.test").info("looked up")
        seen.append(thing_no)
        return {"thing_no": thing_no}

    observability.install(app)
    tracing.add_asgi_middleware(app, traced)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        answer = await client.get("/v1/things/TH001", headers={"X-Request-Id": "rid-42"})
    assert answer.json() == {"thing_no": "TH001"} and seen == ["TH001"]
    assert traced.provider is not None
    traced.provider.force_flush()
    [span] = exported.get_finished_spans()  # no per-chunk send/receive spans
    assert span.name == "GET /v1/things/{thing_no}"
    assert span.attributes is not None
    assert span.attributes["http.route"] == "/v1/things/{thing_no}"
    assert span.attributes["houtai.request_id"] == "rid-42"
    traced.shutdown()


def test_log_lines_in_a_span_carry_its_trace_id() -> None:
    exported = InMemorySpanExporter()
    traced = tracing.tracing_for(Settings(), "worker", exporter=exported)
    assert traced.provider is not None
    record = logging.makeLogRecord({"msg": "outside"})
    houtai_logging.ContextFilter().filter(record)
    assert not hasattr(record, "trace_id")
    with traced.provider.get_tracer("t").start_as_current_span("work") as span:
        inside = logging.makeLogRecord({"msg": "inside"})
        houtai_logging.ContextFilter().filter(inside)
    line = json.loads(houtai_logging.JsonFormatter().format(inside))
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")
    traced.shutdown()
