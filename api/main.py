"""create_app: the API's composition root. Tests pass their own AppDeps; production builds them
from Settings in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from pydantic import SecretStr

from api import audit, config, docs, errors, flash_lane, observability, openapi
from api.deps import AppDeps
from api.routes import (
    admin,
    after_sales,
    auth,
    carriers,
    catalog,
    customers,
    dashboard,
    devices,
    finance,
    flash_sales,
    freight,
    group_buys,
    health,
    inbox,
    login_admin,
    loyalty,
    manifests,
    notifications,
    orders,
    pack_station,
    packages,
    picking,
    po_settlement,
    presales,
    printing,
    promotions,
    purchase_orders,
    putaway,
    receipt_notes,
    replenishment,
    reports_buy,
    reports_orders,
    reports_sales,
    reports_stock,
    roles,
    segments,
    stock,
    stock_counts,
    suppliers,
    transfers,
    warehouses,
    waves,
    webhooks,
)
from console.app import create_console
from console.pages import ConsoleConfig
from console.pda import create_pda
from core import collector
from core import tracing as tracing_
from core.changes import ChangeFeed
from core.db import make_engine, make_session_factory
from core.settings import Settings
from core.temporal import connect
from core.tracing import OFF, Tracing

DESCRIPTION = """houtai (后台) — the back office of a self-operated e-commerce company.

Staff: `POST /v1/auth/login` for a bearer token (admin and finance add `totp_code`; see the
README's "Signing in"). Storefronts and devices: `X-API-Key`.
Errors are `application/problem+json`; lists are `{"data": [...], "count": n}`.
"""


async def deps_from_settings(settings: Settings, tracing: Tracing = OFF) -> AppDeps:
    engine = make_engine(settings.require_database_url(), connections=settings.api.db_connections)
    tracing_.instrument_engine(engine, tracing)
    temporal = await connect(
        settings.require_temporal_address(),
        settings.temporal_namespace,
        interceptors=tracing_.temporal_interceptors(tracing),
    )
    listen_dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    return AppDeps(
        engine=engine,
        session_factory=make_session_factory(engine),
        token_secret=settings.require_token_secret().get_secret_value(),
        token_ttl=timedelta(minutes=settings.auth.token_ttl_minutes),
        temporal=temporal,
        task_queue=settings.task_queue,
        admin_ip_allowlist=settings.api.admin_ip_allowlist,
        login_ip_allowlist=settings.api.login_ip_allowlist,
        login_policy=config.login_policy(settings),
        order_timings=config.order_timings(settings),
        order_policy=config.order_policy(settings),
        po_timings=config.po_timings(settings),
        po_policy=config.po_policy(settings),
        wave_rules=config.wave_rules(settings),
        payment_webhook_secret=_secret(settings.payments.webhook_secret),
        carrier_webhook_secret=_secret(settings.carrier.webhook_secret),
        changes=ChangeFeed(listen_dsn),
        metrics_allowlist=settings.metrics.allowlist if settings.metrics.enabled else [],
        metrics_token=_secret(settings.metrics.token) if settings.metrics.enabled else None,
    )


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def create_app(
    deps: AppDeps | None = None, settings: Settings | None = None, tracing: Tracing = OFF
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if deps is not None:
            app.state.deps = deps
            yield
            return
        built = await deps_from_settings(settings or Settings(), tracing)
        app.state.deps = built
        collector.settle()  # what start-up built lives as long as the process: not collected
        collector.collect_young_every()  # requests in flight are not promoted again and again
        try:
            yield
        finally:
            if built.changes is not None:
                await built.changes.close()
            await built.engine.dispose()
            tracing.shutdown()  # what is still batched goes out

    app = FastAPI(
        title="houtai",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served offline by api/docs.py
        redoc_url=None,
    )
    if deps is not None:
        app.state.deps = deps
    errors.install(app)
    openapi.install(app)
    audit.install(app)
    flash_lane.install(app)  # inside the metrics and the span; its refusals audit themselves
    observability.install(app)  # outermost of ours: its latency includes the audit's work
    tracing_.add_asgi_middleware(app, tracing)  # the span around it all, named by observability
    # The staff console and the handhelds' pages call this very app's /v1 in process (DESIGN
    # §3a). Mounted first: a page's address is matched by its prefix at once instead of after
    # every /v1 route (milliseconds a request with this many routes).
    app.mount("/console", create_console(app, _console_config(deps, settings)))
    app.mount("/pda", create_pda(app))
    for module in (
        health,
        auth,
        catalog,
        warehouses,
        stock,
        suppliers,
        carriers,
        freight,
        promotions,
        flash_sales,
        customers,
        segments,
        presales,
        dashboard,
        reports_buy,
        orders,
        after_sales,
        packages,
        purchase_orders,
        po_settlement,
        transfers,
        finance,
        replenishment,
        stock_counts,
        putaway,
        waves,
        picking,
        devices,
        pack_station,
        manifests,
        printing,
        receipt_notes,
        webhooks,
        admin,
        login_admin,
        roles,
        inbox,
        loyalty,
        notifications,
        group_buys,
        reports_sales,
        reports_stock,
        reports_orders,
    ):
        app.include_router(module.router)
    docs.install(app)
    return app


def _console_config(deps: AppDeps | None, settings: Settings | None) -> ConsoleConfig:
    if settings is None and deps is not None:  # tests: their own deps, no environment
        return ConsoleConfig()
    s = settings or Settings()
    return ConsoleConfig(
        temporal_ui_url=s.console.temporal_ui_url, temporal_namespace=s.temporal_namespace
    )


def app_from_environment() -> FastAPI:
    """The app of one of several uvicorn processes (`houtai api` with HOUTAI_API__WORKERS > 1):
    each is a fresh interpreter, so it reads the settings and configures logging itself."""
    from core import logging as houtai_logging

    settings = Settings()
    houtai_logging.configure(settings.log_level, json_lines=settings.log_json)
    tracing = tracing_.tracing_for(settings, "api")
    tracing_.instrument_httpx(tracing)
    return create_app(settings=settings, tracing=tracing)
