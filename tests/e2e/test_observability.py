"""Metrics of a real `houtai up`: the API's /metrics and the worker's port, scraped after an
order is placed, and the provisioned Grafana dashboard asks only for names they export."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import otlp
from tests.support.orders import known_customer_now
from tests.support.up import Up
from workers.seed import DEMO_STOREFRONT_KEY

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"

SERVER, CLIENT = 2, 3  # span kinds in OTLP

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def raw_names(text: str) -> set[str]:
    """Sample names as Prometheus stores them (the parser above adds _total to counters the
    Temporal SDK exports without it; a query must use the name as written)."""
    return {
        re.split(r"[{ ]", line, maxsplit=1)[0]
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def matching(found: Samples, name: str, **labels: str) -> list[float]:
    want = set(labels.items())
    return [v for (n, ls), v in found.items() if n == name and want <= ls]


def place_order(http: httpx.Client) -> str:
    shop = {"X-API-Key": DEMO_STOREFRONT_KEY}
    sku = next(
        row["sku_id"]
        for row in http.get("/v1/stock", headers=shop, params={"limit": 500}).json()["data"]
        if row["sellable"] > 0
    )
    known_customer_now(http, 7, shop)
    placed = http.post(
        "/v1/orders",
        headers={**shop, "X-Request-Id": "e2e-metrics-1"},
        json={
            "client_order_key": "e2e-metrics",
            "customer_id": 7,
            "lines": [{"sku_id": sku, "quantity": 1}],
            "address": {
                "name": "李四",
                "phone": "13900000000",
                "region_code": "310104",
                "detail": "徐汇区漕溪北路 1 号",
            },
        },
    )
    assert placed.status_code == 201, placed.text
    assert placed.headers["x-request-id"] == "e2e-metrics-1"
    order_no: str = placed.json()["order_no"]
    deadline = time.monotonic() + 60
    status = ""
    while time.monotonic() < deadline:
        status = http.get(f"/v1/orders/{order_no}", headers=shop).json()["status"]
        if status == "awaiting_payment":
            return order_no
        time.sleep(0.3)
    raise AssertionError(f"order {order_no} stuck in {status}")


def dashboard_metric_names() -> set[str]:
    """Every metric name the provisioned dashboards' queries use."""
    found: set[str] = set()
    functions = {"sum", "rate", "increase", "histogram_quantile", "by", "max", "min", "avg",
                 "count", "topk", "le", "without", "irate", "clamp_min", "vector"}  # fmt: skip
    for path in DASHBOARDS.glob("*.json"):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                expr = re.sub(r"\{[^}]*\}", "", target["expr"])  # label matchers
                expr = re.sub(r"\[[^\]]*\]", "", expr)  # range windows
                expr = re.sub(r"\b(by|without)\s*\([^)]*\)", "", expr)  # grouping labels
                for word in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
                    if word not in functions:
                        found.add(word)
    return found


def test_api_and_worker_metrics_and_traces_of_a_running_stack(up: Up) -> None:
    with otlp.collector() as collector:
        up.env["HOUTAI_TRACING__EXPORTER"] = "otlp"
        up.env["HOUTAI_TRACING__OTLP_ENDPOINT"] = collector.endpoint
        up.env["HOUTAI_TRACING__EXPORT_EVERY_S"] = "0.2"
        metrics_of_a_running_stack(up, collector)


def metrics_of_a_running_stack(up: Up, collector: otlp.Collector) -> None:
    up.start()
    worker_port = up.ports["HOUTAI_METRICS__WORKER_PORT"]
    assert f"http://127.0.0.1:{worker_port}/metrics" in up.text
    with httpx.Client(base_url=up.base, timeout=30) as http:
        order_no = place_order(http)
        api_text = http.get("/metrics").text
        payment = http.post(
            f"/v1/orders/{order_no}/payments",
            headers={"X-API-Key": DEMO_STOREFRONT_KEY, "X-Request-Id": "e2e-pay-1"},
        )
        assert payment.status_code == 201, payment.text
    api = parse(api_text)
    deadline = time.monotonic() + 30
    while True:  # the SDK exports on its own schedule; the order's activities have run
        worker_text = httpx.get(f"http://127.0.0.1:{worker_port}/metrics", timeout=10).text
        worker = parse(worker_text)
        recorded = matching(
            worker,
            "houtai_activity_outcomes_total",
            activity_type="record_order",
            outcome="completed",
        )
        if recorded or time.monotonic() > deadline:
            break
        time.sleep(0.5)

    # the API: the route histogram by template and status, and the business gauges
    post = {"method": "POST", "route": "/v1/orders", "status": "201"}
    assert matching(api, "houtai_http_request_duration_seconds_count", **post) == [1.0]
    assert matching(api, "houtai_http_request_duration_seconds_bucket", le="+Inf", **post) == [1.0]
    assert matching(api, "houtai_http_requests_total", **post) == [1.0]
    detail = {"method": "GET", "route": "/v1/orders/{order_no}"}
    assert sum(matching(api, "houtai_http_requests_total", **detail)) >= 1
    assert not any(order_no in dict(labels).get("route", "") for _, labels in api)
    assert matching(api, "houtai_orders", status="awaiting_payment") == [1.0]
    assert sum(matching(api, "houtai_orders")) == 1.0
    waiting = matching(api, "houtai_packages_waiting")
    assert waiting and set(waiting) == {0.0}  # demo warehouses, nothing released yet
    assert matching(api, "houtai_waves_escalated") == [0.0]
    assert matching(api, "houtai_after_sales_past_sla") == [0.0]
    assert matching(api, "houtai_purchase_order_oldest_unapproved_seconds") == [0.0]

    # the worker: the SDK's own metrics and our activity outcomes, on one port
    exported_by_worker = raw_names(worker_text)
    assert recorded and recorded[0] >= 1, sorted(exported_by_worker)
    assert "temporal_workflow_task_execution_latency_bucket" in exported_by_worker
    assert "temporal_request" in exported_by_worker, sorted(exported_by_worker)
    assert not matching(worker, "houtai_activity_outcomes_total", outcome="failed")

    # the Grafana dashboard asks only for what these two export
    asked = dashboard_metric_names()
    assert len(asked) >= 8, asked
    exported = raw_names(api_text) | exported_by_worker
    assert asked <= exported, sorted(asked - exported)
    traces_of_the_order(collector, order_no)
    assert up.stop() == 0
    request_id_in_the_workers_lines(up)


def request_id_in_the_workers_lines(up: Up) -> None:
    """The payment's request id, from the API's process to the worker's through Temporal's
    headers: on the line of the provider call its open_payment activity made."""
    records = [
        json.loads(line)
        for line in (up.data_dir / "logs" / "worker.log").read_text().splitlines()
        if line.startswith("{")
    ]
    calls = [r for r in records if r.get("activity_type") == "open_payment"
             and r["logger"] == "httpx"]  # fmt: skip
    assert calls, [r["message"] for r in records][-20:]
    assert {r.get("request_id") for r in calls} == {"e2e-pay-1"}, calls


def traces_of_the_order(collector: otlp.Collector, order_no: str) -> None:
    """The order's trace: from the API's request through the workflow and its activities down
    to SQL statements and, for the payment asked for later, the provider's HTTP call. (The
    SDK's interceptor keeps a workflow's spans in the trace that started it; a later update's
    request is linked from its HandleUpdate span.)"""

    def spans_of(route: str) -> list[otlp.Span]:
        for span in collector.snapshot():
            if span.service == "houtai-api" and span.name == route and span.kind == SERVER:
                return [s for s in collector.snapshot() if s.trace_id == span.trace_id]
        return []

    def path(spans: list[otlp.Span], leaf: otlp.Span) -> list[str]:
        """service:name from the trace's root down to `leaf`."""
        by_id = {s.span_id: s for s in spans}
        found = [leaf]
        while found[-1].parent_id in by_id:
            found.append(by_id[found[-1].parent_id])
        return [f"{s.service}:{s.name}" for s in reversed(found)]

    def where(spans: list[otlp.Span], name: str, **attributes: object) -> otlp.Span:
        matches = [
            s
            for s in spans
            if s.name.startswith(name)
            and all(s.attributes.get(k) == v for k, v in attributes.items())
        ]
        assert matches, (name, sorted({s.name for s in spans}))
        return matches[0]

    def outside_calls(spans: list[otlp.Span]) -> list[otlp.Span]:
        return [
            s
            for s in spans
            if s.service == "houtai-worker" and s.kind == CLIENT and s.name.startswith("POST")
        ]

    deadline = time.monotonic() + 30
    placed: list[otlp.Span] = []
    paying: list[otlp.Span] = []
    while time.monotonic() < deadline:  # batches arrive every 0.2 s from each process
        placed = spans_of("POST /v1/orders")
        paying = spans_of("POST /v1/orders/{order_no}/payments")
        names = {s.name for s in placed}
        if paying and "RunActivity:record_order" in names and outside_calls(placed):
            break
        time.sleep(0.3)

    # Placement: request → Update-with-Start → the workflow's activity → its SQL, one trace.
    request = where(placed, "POST /v1/orders", **{"http.route": "/v1/orders"})
    assert request.attributes["houtai.request_id"] == "e2e-metrics-1"
    insert = next(
        s
        for s in placed
        if s.service == "houtai-worker"
        and s.attributes.get("db.system") == "postgresql"
        and "RunActivity:record_order" in path(placed, s)[-2]
    )
    assert path(placed, insert)[:3] == [
        "houtai-api:POST /v1/orders",
        "houtai-api:StartUpdateWithStartWorkflow:OrderWorkflow",
        "houtai-worker:StartActivity:record_order",
    ], path(placed, insert)
    # statements are traced with their placeholders, never the values (a number, a phone)
    assert not any(order_no in str(s.attributes.get("db.statement", "")) for s in placed)
    api_sql = [s for s in placed if s.service == "houtai-api" and s.kind == CLIENT
               and s.attributes.get("db.system") == "postgresql"]  # fmt: skip
    assert api_sql and all(s.parent_id == request.span_id for s in api_sql)
    assert where(placed, "RunWorkflow:OrderWorkflow").service == "houtai-worker"

    # Payment: its request's trace holds the update call; the workflow's handling of it, in
    # the order's trace, links back to it and runs open_payment, which calls the provider.
    asked = where(paying, "StartWorkflowUpdate:request_payment")
    server = where(paying, "POST /v1/orders/{order_no}/payments")
    assert (asked.service, asked.parent_id) == ("houtai-api", server.span_id)
    handled = where(placed, "HandleUpdate:request_payment")
    assert (asked.trace_id, asked.span_id) in handled.links, handled.links
    calls = outside_calls(placed)
    assert calls, sorted(f"{s.service}:{s.name}" for s in placed)
    chain = path(placed, calls[0])
    assert chain[0] == "houtai-api:POST /v1/orders", chain
    assert "houtai-worker:RunActivity:open_payment" in chain, chain
