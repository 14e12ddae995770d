"""Production entry points: `houtai api`, `houtai worker`, `houtai migrate`, `houtai seed`."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import uvicorn
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client

from activities.notify_outbox import Channels, OutboxPolicy, OutboxSender
from api import config as api_config
from core import collector
from core.db import SessionFactory, make_engine, make_session_factory
from core.settings import Settings
from core.temporal import connect
from core.tracing import instrument_engine, instrument_httpx, temporal_interceptors, tracing_for
from migrations import upgrade_to_head
from workers import config
from workers.bytecode import cache_workflow_bytecode
from workers.handoffs import HandoffPolicy, HandoffSweeper
from workers.observability import install_log_context, runtime_for
from workers.schedules import (
    ensure_points_expiry_schedule,
    ensure_reconciliation_schedule,
    ensure_replenishment_schedules,
    ensure_wave_schedules,
)
from workers.worker import WorkerDeps, build_worker
from workflows.visibility import SEARCH_ATTRIBUTES

log = logging.getLogger(__name__)


def api_workers(settings: Settings) -> int:
    """uvicorn processes for the API: HOUTAI_API__WORKERS, else one."""
    return settings.api.workers or 1


def serve_api(settings: Settings) -> None:
    settings.require_token_secret()
    workers = api_workers(settings)
    common: dict[str, Any] = {
        "host": settings.api.host,
        "port": settings.api.port,
        "log_level": settings.log_level.lower(),
        "proxy_headers": True,
        "access_log": False,
        # uvicorn's own lines (started, stopping, errors) through the process's logging, so the
        # log stays one JSON object a line (core/logging.py), not uvicorn's plain text.
        "log_config": None,
        # Requests still running 5 s after SIGTERM (a client's `Prefer: wait`, say) are cut
        # off, so `houtai up` and an orchestrator can stop the API in bounded time.
        "timeout_graceful_shutdown": 5,
    }
    if workers == 1:
        from api.main import create_app

        tracing = tracing_for(settings, "api")
        instrument_httpx(tracing)
        uvicorn.run(create_app(settings=settings, tracing=tracing), **common)
        return
    # Several processes: uvicorn starts each from the factory, which reads the same settings
    # from the environment. Their request counts go to files in one directory that /metrics
    # adds up (prometheus_client multiprocess mode: the variable must be set before a process
    # imports prometheus_client, hence in the environment the children inherit).
    metrics_dir = prepare_multiproc_dir(settings)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    log.info("api processes", extra={"workers": workers, "metrics_dir": str(metrics_dir)})
    try:
        uvicorn.run("api.main:app_from_environment", factory=True, workers=workers, **common)
    finally:
        if settings.metrics.multiproc_dir is None:  # made for this run: nobody reads it after
            shutil.rmtree(metrics_dir, ignore_errors=True)


def prepare_multiproc_dir(settings: Settings) -> Path:
    """The API's multiprocess metrics directory, emptied: counts of an earlier run (or of dead
    processes' pids) must not be added to this one's."""
    path = settings.metrics.multiproc_dir or Path(tempfile.mkdtemp(prefix="houtai-metrics-"))
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    return path


async def run_worker(settings: Settings) -> None:
    install_log_context()
    tracing = tracing_for(settings, "worker")
    instrument_httpx(tracing)  # before the providers' clients are made
    cache_workflow_bytecode()  # before the first workflow runs: the sandbox imports from it
    engine = make_engine(settings.require_database_url())
    instrument_engine(engine, tracing)
    runtime = runtime_for(settings)
    client = await connect(
        settings.require_temporal_address(),
        settings.temporal_namespace,
        runtime=runtime,
        interceptors=temporal_interceptors(tracing),
    )
    if runtime is not None:
        log.info(
            "worker metrics",
            extra={
                "metrics_url": f"http://{settings.metrics.worker_host}:"
                f"{settings.metrics.worker_port}/metrics"
            },
        )
    deps = WorkerDeps(
        engine=engine,
        session_factory=make_session_factory(engine),
        payments=config.payment_provider(settings),
        carrier=config.carrier_client(settings),
        payment_notify_url=config.payment_notify_url(settings),
        tracking_webhook_url=config.tracking_webhook_url(settings),
        supplier=config.supplier_client(settings),
        ship_within=timedelta(hours=settings.waves.ship_within_hours),
    )
    worker = build_worker(client, deps, task_queue=settings.task_queue, tuning=settings.worker)
    schedules = await ensure_schedules(client, deps.session_factory, settings)
    log.info("schedules", extra={"schedules": schedules})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker polling", extra={"task_queue": settings.task_queue})
    outbox = start_outbox(settings, deps.session_factory, stop)
    sweeper = asyncio.get_running_loop().create_task(
        HandoffSweeper(
            client,
            settings.task_queue,
            deps.session_factory,
            deps.payments,
            HandoffPolicy(
                interval_s=settings.worker.handoff_interval_s,
                payment_grace=timedelta(seconds=settings.worker.handoff_payment_grace_s),
            ),
        ).run(stop),
        name="hand-off sweeper",
    )  # payments whose webhook never got through, flash claims whose order never started
    collector.settle()  # the worker, its workflows' modules and clients live as long as it does
    async with worker:
        await stop.wait()
        log.info("worker stopping: finishing in-flight tasks")
    if outbox is not None:
        await outbox
    await sweeper
    await engine.dispose()
    tracing.shutdown()


def outbox_policy(settings: Settings) -> OutboxPolicy:
    n = settings.notifications
    return OutboxPolicy(
        batch=n.batch,
        poll_interval_s=n.poll_interval_s,
        send_timeout_s=n.send_timeout_s,
        backoff_s=n.backoff_s,
        backoff_max_s=n.backoff_max_s,
        smtp_host=n.smtp_host,
        smtp_port=n.smtp_port,
        smtp_from=n.smtp_from,
        console_url=settings.public_url.rstrip("/") + "/console",
    )


def start_outbox(
    settings: Settings, sessions: SessionFactory, stop: asyncio.Event
) -> asyncio.Task[None] | None:
    """The notification outbox sender, in the worker process until `stop` (DESIGN §6.10)."""
    if not settings.notifications.enabled:
        return None
    policy = outbox_policy(settings)

    async def run() -> None:
        channels = Channels(policy)
        try:
            await OutboxSender(sessions, channels, policy).run(stop)
        finally:
            await channels.aclose()

    return asyncio.get_running_loop().create_task(run(), name="notification-outbox")


async def ensure_schedules(
    client: Client, sessions: SessionFactory, settings: Settings
) -> list[str]:
    """What a worker's startup keeps: replenishment and wave planning per active warehouse, and
    the daily reconciliation, with the intervals and rules of the settings. Returns their ids."""
    schedules = await ensure_replenishment_schedules(
        client,
        sessions,
        every=timedelta(minutes=settings.purchasing.replenish_every_minutes),
        task_queue=settings.task_queue,
        timings=api_config.po_timings(settings),
        policy=api_config.po_policy(settings),
    )
    schedules += await ensure_wave_schedules(
        client,
        sessions,
        every=timedelta(minutes=settings.waves.plan_every_minutes),
        task_queue=settings.task_queue,
        rules=api_config.wave_rules(settings),
    )
    schedules += await ensure_reconciliation_schedule(client, task_queue=settings.task_queue)
    schedules += await ensure_points_expiry_schedule(client, task_queue=settings.task_queue)
    return schedules


async def register_search_attributes(client: Client, namespace: str) -> list[str]:
    """Add houtai's search attributes that the namespace lacks; returns the ones added."""
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    known = set(existing.custom_attributes) | set(existing.system_attributes)
    missing = {
        key.name: IndexedValueType.ValueType(key.indexed_value_type)
        for key in SEARCH_ATTRIBUTES
        if key.name not in known
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    return sorted(missing)


async def migrate(settings: Settings) -> None:
    await asyncio.to_thread(upgrade_to_head, settings.require_database_url())
    log.info("database at head")
    if settings.temporal_address:
        client = await connect(settings.temporal_address, settings.temporal_namespace)
        added = await register_search_attributes(client, settings.temporal_namespace)
        log.info("search attributes registered", extra={"added": added})


async def seed_channels(settings: Settings, robots_port: int) -> int:
    """The demo's notification channels, at the sandbox robots and mail server."""
    from workers.seed import seed_demo_channels

    engine = make_engine(settings.require_database_url())
    try:
        return await seed_demo_channels(
            make_session_factory(engine), f"http://127.0.0.1:{robots_port}"
        )
    finally:
        await engine.dispose()


async def seed(settings: Settings) -> bool:
    from workers.seed import seed_demo

    engine = make_engine(settings.require_database_url())
    try:
        loaded: bool = await seed_demo(make_session_factory(engine))
        return loaded
    finally:
        await engine.dispose()
