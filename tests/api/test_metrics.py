"""/metrics on the API: route templates, request ids, who may scrape, business gauges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from api.deps import AppDeps
from api.observability import HttpMetrics, ObservabilityMiddleware
from core.db import SessionFactory
from core.logging import request_id
from models.db import PurchaseOrder, Supplier
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
        for po_no, status, age in (
            ("PO-M-1", "pending_approval", timedelta(hours=3)),
            ("PO-M-2", "pending_approval", timedelta(hours=1)),
            ("PO-M-3", "draft", timedelta(days=9)),  # not awaiting approval: not counted
        ):
            session.add(
                PurchaseOrder(
                    po_no=po_no,
                    supplier_id=supplier.id,
                    status=status,
                    amount_fen=100,
                    created_at=now - age,
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
