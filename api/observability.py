"""The API's metrics, request ids and /metrics (README "Observability").

One pure ASGI middleware does both per-request jobs, so a request pays one extra call frame:
it takes the caller's X-Request-Id (or makes one), echoes it on the answer and puts it on every
log line of the request; and it counts the request and its latency by method, route template and
status. The route template is the matched route's path from scope["route"], filled in by the
router on this very scope dict, never the raw URL (ids in paths would make endless series).
It also answers a request's unhandled exception (the problem+json 500 of api/errors.py), so that
answer, its log line and its count carry the request's id like any other.

/metrics answers only addresses in the metrics allowlist (loopback by default) or a scraper
bearing the metrics token (404 to anyone else, like a route that does not exist), and computes
the business gauges at scrape time with a handful of indexed counts.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import re
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from opentelemetry import trace
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import log_unexpected, unexpected_answer
from core.db import SessionFactory
from core.logging import request_id
from models.db import AfterSale, Order, Package, PurchaseOrder, Warehouse, Wave
from services.purchasing import awaiting_approval_since

log = logging.getLogger(__name__)
# Latency buckets (seconds): the create-order target is tens of milliseconds, reports up to 1 s.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# A caller's X-Request-Id is kept when it looks like an id (no log injection, bounded length).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# Packages in the warehouse, not yet handed to the carrier.
WAITING_PACKAGES = ("released", "picked", "weight_hold", "packed", "waybill_created")
# After-sales someone must still act on; past their sla_due_at they are late.
OPEN_AFTER_SALES = ("requested",)
UNMATCHED = "unmatched"
# Any token is a valid HTTP method: others count as OTHER, so a caller cannot mint series.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class HttpMetrics:
    """The request counter and latency histogram of one app (its own registry: tests build
    many apps in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "houtai_http_requests",
            "HTTP requests answered, by method, route template and status",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "houtai_http_request_duration_seconds",
            "HTTP request latency until the last body byte, by method, route template and status",
            ("method", "route", "status"),
            buckets=BUCKETS,
            registry=self.registry,
        )
        # (method, route, status) -> the two children: labels() costs a lock and a dict lookup
        # per call, this costs one lookup.
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, str(status))
        children = self._children.get(key)
        if children is None:
            children = (self.requests.labels(*key), self.latency.labels(*key))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


def route_template(scope: Scope, root_path: str = "", routes: Sequence[BaseRoute] = ()) -> str:
    """The matched route's path template (/v1/orders/{order_no}); UNMATCHED for a 404 of the
    router. Inside a mounted app (the console, the handheld pages) its router's template has the
    mount's before it (/console/orders/{order_no}, /pda/sign-in): the scope's route is then the
    inner route, and only what the mounts added to the app's own root_path tells which mounts.
    A mounted app that is no router counts under its mount (/console/static), as does an address
    the mounted router does not know (/console)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str) or not path or isinstance(route, Mount):
        path = None  # no route (FastAPI's router does not put a mount in the scope)
    mounted = scope.get("root_path", "")[len(root_path) :]
    if mounted:
        return _mount_template(mounted, routes) + (path or "")
    return path or UNMATCHED


def _mount_template(mounted: str, routes: Sequence[BaseRoute]) -> str:
    """The template of the mounts a request went through (a mount's parameter by its name,
    never its value), from the path they added to the root path; the mounts come first among
    an app's routes, so few are tried."""
    for route in routes:
        if isinstance(route, Mount):
            match = route.path_regex.match(mounted + "/")
            if match:
                rest = ("/" + match["path"])[:-1]  # what mounts inside this one added
                return route.path + (_mount_template(rest, route.routes) if rest else "")
    return mounted  # not a mount of these routes: cannot happen, but never raise here


class ObservabilityMiddleware:
    def __init__(
        self, app: ASGIApp, metrics: HttpMetrics, routes: Sequence[BaseRoute] = ()
    ) -> None:
        self.app = app
        self.metrics = metrics
        # The app's own routes (the live list: the mounts are added after the middleware).
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        root_path = scope.get("root_path", "")  # before the router's mounts add theirs
        # The console's and handhelds' in-process calls to /v1 run in the page request's task:
        # they keep its id, so one page's lines share one request_id.
        rid = _incoming_request_id(scope) or request_id.get() or uuid.uuid4().hex
        token = request_id.set(rid)
        status = 500
        started_answer = False
        header = (b"x-request-id", rid.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_answer
            if message["type"] == "http.response.start":
                status = message["status"]
                started_answer = True
                message["headers"] = [*message.get("headers", ()), header]
                # The route is known; the span ends with the body.
                _name_span(scope, rid, route_template(scope, root_path, self.routes))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # Answered here, not by Starlette's handler for Exception: that one runs outermost,
            # after this middleware has dropped the request id and counted the request, and
            # re-raises, so the server logs the same traceback a second time.
            trace.get_current_span().record_exception(exc)
            if started_answer:  # too late for a 500: log it, the server closes the connection
                log_unexpected(scope["path"], answer_begun=True)
                status = 500
            else:
                await unexpected_answer(scope["path"])(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            self.metrics.observe(
                method,
                route_template(scope, root_path, self.routes),
                status,
                time.perf_counter() - started,
            )


def _name_span(scope: Scope, rid: str, template: str) -> None:
    """The request's server span (core/tracing.py, when tracing is on) is named by the route
    template, known once routed, and carries the request id of the log lines."""
    span = trace.get_current_span()
    if span.is_recording():
        span.update_name(f"{scope['method']} {template}")
        span.set_attribute("http.route", template)
        span.set_attribute("houtai.request_id", rid)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _REQUEST_ID.fullmatch(text) else None
    return None


def _allowed(client: tuple[str, int] | None, allowlist: list[str]) -> bool:
    if client is None:
        return False
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in allowlist)


def _may_scrape(request: Request, allowlist: list[str], token: str | None) -> bool:
    if _allowed(request.scope.get("client"), allowlist):
        return True
    if token is None:
        return False
    given = request.headers.get("authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


async def business_gauges(session: AsyncSession, now: datetime) -> list[Metric]:
    """The figures an operator watches, each one indexed count (or min) at scrape time."""
    orders = GaugeMetricFamily(
        "houtai_orders", "Orders by status (every order, all time)", labels=("status",)
    )
    for status, count in await session.execute(
        select(Order.status, func.count()).group_by(Order.status)
    ):
        orders.add_metric((status,), count)
    packages = GaugeMetricFamily(
        "houtai_packages_waiting",
        "Packages in a warehouse not yet handed to the carrier",
        labels=("warehouse",),
    )
    waiting = (
        select(Warehouse.code, func.count(Package.package_no))
        .join(
            Package,
            (Package.warehouse_id == Warehouse.id) & Package.status.in_(WAITING_PACKAGES),
            isouter=True,
        )
        .group_by(Warehouse.code)
    )
    for code, count in await session.execute(waiting):
        packages.add_metric((code,), count)
    escalated = await session.scalar(
        select(func.count()).where(Wave.escalated, Wave.status == "picking")
    )
    late = await session.scalar(
        select(func.count()).where(
            AfterSale.status.in_(OPEN_AFTER_SALES), AfterSale.sla_due_at < now
        )
    )
    oldest = await session.scalar(  # waiting since it was submitted, as the inbox shows it
        select(func.min(awaiting_approval_since())).where(
            PurchaseOrder.status == "pending_approval"
        )
    )
    return [
        orders,
        packages,
        GaugeMetricFamily(
            "houtai_waves_escalated", "Waves still picking that were escalated", value=escalated
        ),
        GaugeMetricFamily(
            "houtai_after_sales_past_sla",
            "After-sales requests still awaiting a decision past their SLA",
            value=late,
        ),
        GaugeMetricFamily(
            "houtai_purchase_order_oldest_unapproved_seconds",
            "Time the longest-waiting purchase order has awaited approval since it was submitted"
            " (0 when none)",
            value=(now - oldest).total_seconds() if oldest is not None else 0.0,
        ),
    ]


async def _business_gauges_or_none(sessions: SessionFactory) -> list[Metric] | None:
    """The business gauges, or None when computing them failed: the database being unwell is
    when the HTTP figures matter most, so it must not turn the whole scrape into a 500."""
    try:
        async with sessions() as session:
            return await business_gauges(session, datetime.now(UTC))
    except Exception:
        log.exception("business gauges failed; /metrics answers without them")
        return None


class _Scrape:
    """One scrape: the app's registry plus this scrape's business gauges."""

    def __init__(self, registry: CollectorRegistry, extra: Iterable[Metric]) -> None:
        self.registry = registry
        self.extra = extra

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()
        yield from self.extra


def process_registry(own: CollectorRegistry) -> CollectorRegistry:
    """This process's registry, or, when the API runs as several uvicorn processes
    (PROMETHEUS_MULTIPROC_DIR set by `houtai api`), one that adds up every process's counts from
    their files: whichever process answers the scrape, the figures are the whole API's."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return own
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def install(app: FastAPI) -> HttpMetrics:
    metrics = HttpMetrics()
    app.state.http_metrics = metrics
    app.add_middleware(ObservabilityMiddleware, metrics=metrics, routes=app.router.routes)

    async def scrape(request: Request) -> Response:
        deps = request.app.state.deps
        if not _may_scrape(request, deps.metrics_allowlist, deps.metrics_token):
            return Response(status_code=404)
        gauges = await _business_gauges_or_none(deps.session_factory)
        up = GaugeMetricFamily(
            "houtai_business_gauges_up",
            "1 when this scrape computed the business gauges, 0 when their query failed"
            " (they are left out; the API's log says why)",
            value=0 if gauges is None else 1,
        )
        registry = process_registry(metrics.registry)
        body = generate_latest(_Scrape(registry, [*(gauges or ()), up]))
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    app.add_api_route("/metrics", scrape, methods=["GET"], include_in_schema=False)
    return metrics
