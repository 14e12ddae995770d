"""/metrics on the API: route templates, request ids, who may scrape, business gauges."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from api import observability
from api.deps import AppDeps
from api.main import create_app
from api.observability import HttpMetrics, ObservabilityMiddleware
from core.db import SessionFactory
from core.logging import ContextFilter, request_id
from models.db import PurchaseOrder, PurchaseOrderEvent, Supplier
from tests.api.conftest import Ref
from tests.support.api import CLIENT_IP, MakeHeaders, asgi_client


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return found[(name, frozenset(labels.items()))]


async def test_metrics_are_refused_to_addresses_outside_the_allowlist(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/metrics")  # CLIENT_IP is not loopback
    assert answer.status_code == 404
    assert "houtai_http" not in answer.text


async def test_requests_are_counted_by_route_template_never_the_raw_url(
    deps: AppDeps, ref: Ref, user_headers: MakeHeaders
) -> None:
    deps.metrics_allowlist = [f"{CLIENT_IP}/32"]
    async with asgi_client(deps, (CLIENT_IP, 5555)) as http:
        headers = await user_headers("admin")
        for _ in range(2):
            assert (await http.get(f"/v1/skus/{ref.sku_id}", headers=headers)).status_code == 200
        assert (await http.get("/v1/skus/999999", headers=headers)).status_code == 404
        for junk in ("/wp-login.php", "/v1/nope/1", "/v1/nope/2"):
            assert (await http.get(junk)).status_code == 404
        await http.request("BREW", f"/v1/skus/{ref.sku_id}")
        answer = await http.get("/metrics")
    assert answer.status_code == 200, answer.text
    found = samples(answer.text)
    route = "/v1/skus/{sku_id}"
    assert value(found, "houtai_http_requests_total", method="GET", route=route, status="200") == 2
    assert value(found, "houtai_http_requests_total", method="GET", route=route, status="404") == 1
    assert (
        value(
            found,
            "houtai_http_request_duration_seconds_count",
            method="GET",
            route=route,
            status="200",
        )
        == 2
    )
    assert str(ref.sku_id) not in {dict(labels).get("route") for _, labels in found}
    assert (
        value(found, "houtai_http_requests_total", method="GET", route="unmatched", status="404")
        == 3
    )
    methods = {dict(labels).get("method") for _, labels in found} - {None}
    assert "BREW" not in methods and "OTHER" in methods
    assert "/v1/skus/999999" not in answer.text


async def test_console_and_handheld_pages_count_under_their_full_template(deps: AppDeps) -> None:
    """A page is labelled with its mount's prefix: the console's /orders/{order_no} and the
    handhelds' /login are not the API's, nor each other's."""
    deps.metrics_allowlist = [f"{CLIENT_IP}/32"]
    async with asgi_client(deps, (CLIENT_IP, 5555)) as http:
        for page in ("/console/login", "/console/orders/SO5", "/console/", "/pda/sign-in", "/pda/"):
            await http.get(page)  # signed out: a page or a redirect to sign in, either will do
        await http.get("/console/no-such-page")
        assert (await http.get("/console/static/css/console.css")).status_code == 200
        answer = await http.get("/metrics")
    routes = {
        dict(labels)["route"]
        for name, labels in samples(answer.text)
        if name == "houtai_http_requests_total"
    }
    expected = {
        "/console/login",
        "/console/orders/{order_no}",
        "/console/",
        "/pda/sign-in",
        "/pda/",
        "/console",  # the console's own 404: its mount
        "/console/static",  # its files: their mount
    }
    assert expected <= routes, routes
    assert not routes & {"/login", "/sign-in", "/", "/orders/{order_no}"}, routes


async def test_a_request_id_is_taken_from_the_caller_or_made(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = await client.get("/healthz")
    assert len(made.headers["x-request-id"]) == 32
    assert made.headers["x-request-id"] != "abc-123"
    hostile = await client.get("/healthz", headers={"X-Request-Id": 'a"b c'})
    assert hostile.headers["x-request-id"] != 'a"b c'


async def test_business_gauges_are_computed_at_scrape_time(
    deps: AppDeps, ref: Ref, session_factory: SessionFactory
) -> None:
    deps.metrics_allowlist = [f"{CLIENT_IP}/32"]
    now = datetime.now(UTC)
    async with session_factory() as session:
        supplier = Supplier(code="S-metrics", name="供应商")
        session.add(supplier)
        await session.flush()
        # (po_no, status, created, submitted): a PO waits from its submission, as the inbox
        # shows it; a draft can sit for days before that.
        for po_no, status, created, submitted in (
            ("PO-M-1", "pending_approval", timedelta(days=9), timedelta(hours=3)),
            ("PO-M-2", "pending_approval", timedelta(hours=1), timedelta(hours=1)),
            ("PO-M-3", "draft", timedelta(days=12), None),  # not awaiting approval: not counted
        ):
            session.add(
                PurchaseOrder(
                    po_no=po_no,
                    supplier_id=supplier.id,
                    status=status,
                    amount_fen=100,
                    created_at=now - created,
                    updated_at=now - (submitted or created),
                )
            )
            if submitted is not None:
                session.add(
                    PurchaseOrderEvent(
                        po_no=po_no,
                        at=now - submitted,
                        step="submitted",
                        actor="user:buyer",
                        idempotency_key=f"0001-submitted-{po_no}",
                    )
                )
        await session.commit()
    async with asgi_client(deps, (CLIENT_IP, 5555)) as http:
        answer = await http.get("/metrics")
    found = samples(answer.text)
    oldest = value(found, "houtai_purchase_order_oldest_unapproved_seconds")
    assert 3 * 3600 <= oldest < 3 * 3600 + 120
    assert value(found, "houtai_packages_waiting", warehouse="SH01") == 0
    assert value(found, "houtai_packages_waiting", warehouse="GZ01") == 0
    assert value(found, "houtai_waves_escalated") == 0
    assert value(found, "houtai_after_sales_past_sla") == 0


async def test_a_failing_gauge_query_leaves_the_rest_of_the_scrape(
    deps: AppDeps, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The database unwell is when the HTTP figures matter most: a failed gauge query leaves the
    business gauges out, says so in houtai_business_gauges_up, and logs why."""
    deps.metrics_allowlist = [f"{CLIENT_IP}/32"]

    async def broken(session: Any, now: datetime) -> list[Any]:
        await session.execute(text("SELECT * FROM no_such_table"))
        return []

    async with asgi_client(deps, (CLIENT_IP, 5555)) as http:
        assert (await http.get("/healthz")).status_code == 200
        healthy = samples((await http.get("/metrics")).text)
        monkeypatch.setattr(observability, "business_gauges", broken)
        with caplog.at_level(logging.ERROR):
            answer = await http.get("/metrics")
    assert value(healthy, "houtai_business_gauges_up") == 1
    assert answer.status_code == 200, answer.text
    found = samples(answer.text)
    assert value(found, "houtai_business_gauges_up") == 0
    assert (
        value(found, "houtai_http_requests_total", method="GET", route="/healthz", status="200")
        == 1
    )
    assert any(name == "houtai_http_request_duration_seconds_count" for name, _ in found)
    assert not any(name.startswith("houtai_orders") for name, _ in found)
    assert any("business gauges failed" in r.getMessage() and r.exc_info for r in caplog.records)


async def test_a_scraper_elsewhere_needs_the_metrics_token(deps: AppDeps) -> None:
    deps.metrics_token = "t" * 40
    async with asgi_client(deps, (CLIENT_IP, 5555)) as http:
        assert (await http.get("/metrics")).status_code == 404
        wrong = {"Authorization": "Bearer " + "u" * 40}
        assert (await http.get("/metrics", headers=wrong)).status_code == 404
        right = await http.get("/metrics", headers={"Authorization": "Bearer " + "t" * 40})
    assert right.status_code == 200
    assert "houtai_orders" in right.text


async def test_in_process_calls_keep_the_page_requests_id() -> None:
    """The console calls /v1 in process from inside a page request: one id for both."""
    seen: list[str | None] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(request_id.get())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = ObservabilityMiddleware(inner, HttpMetrics())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        token = request_id.set("page-7")
        try:
            nested = await http.get("/v1/orders")
        finally:
            request_id.reset(token)
        alone = await http.get("/v1/orders")
    assert nested.headers["x-request-id"] == "page-7"
    assert alone.headers["x-request-id"] != "page-7"
    assert seen == ["page-7", alone.headers["x-request-id"]]


async def test_an_unhandled_error_is_answered_inside_the_request(
    deps: AppDeps, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug's 500 carries the request id (answer and log line), is counted, and is logged once:
    before, Starlette's outermost handler answered it after the id was gone and re-raised."""
    deps.metrics_allowlist = [f"{CLIENT_IP}/32"]
    app: FastAPI = create_app(deps)

    @app.get("/v1/broken/{n}")
    async def broken(n: int) -> None:
        raise RuntimeError("a bug")

    caplog.handler.addFilter(ContextFilter())  # what every handler of the API's logging has
    transport = httpx.ASGITransport(app=app, client=(CLIENT_IP, 5555))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        with caplog.at_level(logging.ERROR):
            answer = await http.get("/v1/broken/7", headers={"X-Request-Id": "bug-42"})
        scraped = await http.get("/metrics")
    assert answer.status_code == 500
    assert answer.headers["x-request-id"] == "bug-42"
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"] == "internal error; it has been logged"
    logged = [r for r in caplog.records if r.exc_info]
    assert [r.getMessage() for r in logged] == ["unhandled error"]
    assert getattr(logged[0], "request_id", None) == "bug-42"
    found = samples(scraped.text)
    assert (
        value(
            found, "houtai_http_requests_total", method="GET", route="/v1/broken/{n}", status="500"
        )
        == 1
    )


async def test_an_error_after_the_answer_began_is_logged_once_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Too late for a 500: the line is logged with the request id, the request counted as 500,
    and nothing re-raised for the server to log again (it closes the unfinished answer)."""

    async def streaming(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"[1,", "more_body": True})
        raise RuntimeError("a bug mid-stream")

    metrics = HttpMetrics()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/v1/export",
        "headers": [(b"x-request-id", b"mid-1")],
    }
    caplog.handler.addFilter(ContextFilter())
    with caplog.at_level(logging.ERROR):
        await ObservabilityMiddleware(streaming, metrics)(scope, receive, send)  # no raise
    assert (b"x-request-id", b"mid-1") in sent[0]["headers"]
    assert [m.get("more_body") for m in sent[1:]] == [True]  # nothing sent after the failure
    logged = [r for r in caplog.records if r.exc_info]
    assert [getattr(r, "request_id", None) for r in logged] == ["mid-1"]
    assert metrics.requests.labels("GET", "unmatched", "500")._value.get() == 1
