"""The back office in one test process, reachable over real HTTP: the API and both sandbox
providers on free loopback ports, a worker built by build_worker, Temporal's dev server, and a
fresh database with the demo data."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from activities.providers import SandboxCarrier, SandboxPaymentProvider, SandboxSupplier
from api.deps import AppDeps
from api.main import create_app
from core.changes import ChangeFeed
from core.db import SessionFactory, make_session_factory
from models.contracts.order import OrderPolicy, OrderTimings
from sandbox.carrier import CarrierConfig, create_carrier_app
from sandbox.common import serve
from sandbox.payments import PaymentConfig, create_payment_app
from sandbox.supplier import SupplierConfig, create_supplier_app
from workers.seed import seed_demo
from workers.worker import WorkerDeps, build_worker

_ORDER_NUMBERS = itertools.count(10_000_000 + (os.getpid() % 1000) * 100_000, 1000)
PAY_SECRET = "pay-secret-for-tests"
CARRIER_SECRET = "carrier-secret-for-tests"
TOKEN_SECRET = "stack-token-secret-" + "y" * 32


@dataclass
class Stack:
    api: str
    payments: str
    carrier: str
    sessions: SessionFactory
    client: Client
    task_queue: str = ""
    database_url: str = ""
    supplier: str = ""  # the sandbox supplier portal

    def worker_env(self) -> dict[str, str]:
        """The environment a `houtai worker` process needs to join this stack."""
        return {
            "HOUTAI_DATABASE_URL": self.database_url,
            "HOUTAI_TEMPORAL_ADDRESS": self.client.service_client.config.target_host,
            "HOUTAI_TASK_QUEUE": self.task_queue,
            "HOUTAI_PAYMENTS__URL": self.payments,
            "HOUTAI_CARRIER__URL": self.carrier,
            "HOUTAI_SUPPLIER__URL": self.supplier,
            "HOUTAI_PUBLIC_URL": self.api,
            "HOUTAI_LOG_LEVEL": "WARNING",
        }


def fast_timings() -> OrderTimings:
    return OrderTimings(
        after_sale_window=timedelta(seconds=2),
        auto_confirm_after=timedelta(days=7),
        late_payment_grace=timedelta(seconds=2),
        tracking_poll_interval=timedelta(hours=1),
    )


@asynccontextmanager
async def serving(*apps: FastAPI) -> AsyncIterator[list[str]]:
    """Each app served on a free port (sandbox.common.serve), their base URLs in order; on the
    way out all stop together."""
    servers = [serve(app) for app in apps]
    urls: list[str] = []
    try:
        for server in servers:
            urls.append(await server.__aenter__())
        yield urls
    finally:
        stops = [server.__aexit__(None, None, None) for server in servers[: len(urls)]]
        results = await asyncio.gather(*stops, return_exceptions=True)
        failed = [result for result in results if isinstance(result, BaseException)]
        if failed:
            raise failed[0]


@asynccontextmanager
async def running_stack(
    engine: AsyncEngine,
    client: Client,
    task_queue: str,
    *,
    timings: OrderTimings | None = None,
    policy: OrderPolicy | None = None,
    in_process_worker: bool = True,
    provider_timeout_s: float = 10.0,  # how long the worker waits for the payment provider
) -> AsyncIterator[Stack]:
    sessions = make_session_factory(engine)
    await seed_demo(sessions)
    async with engine.begin() as conn:  # one dev server, many test databases: unique numbers
        start = next(_ORDER_NUMBERS)
        numbering = await conn.scalars(  # every document number's sequence, not the ids'
            text("SELECT sequencename FROM pg_sequences WHERE sequencename NOT LIKE '%\\_id\\_seq'")
        )
        for sequence in list(numbering):
            await conn.execute(text(f"ALTER SEQUENCE {sequence} RESTART WITH {start}"))
    async with AsyncExitStack() as stack:
        changes = ChangeFeed(engine.url.set(drivername="postgresql").render_as_string(False))
        stack.push_async_callback(changes.close)
        deps = AppDeps(
            engine=engine,
            session_factory=sessions,
            token_secret=TOKEN_SECRET,
            changes=changes,
            temporal=client,
            task_queue=task_queue,
            order_timings=timings or fast_timings(),
            order_policy=policy or OrderPolicy(),
            payment_webhook_secret=PAY_SECRET,
            carrier_webhook_secret=CARRIER_SECRET,
        )
        pay_url, carrier_url, supplier_url, api_url = await stack.enter_async_context(
            serving(
                create_payment_app(PaymentConfig(webhook_secret=PAY_SECRET)),
                create_carrier_app(CarrierConfig(webhook_secret=CARRIER_SECRET)),
                create_supplier_app(SupplierConfig(webhook_secret=CARRIER_SECRET)),
                create_app(deps),
            )
        )
        payments = SandboxPaymentProvider(pay_url, timeout_s=provider_timeout_s)
        carrier = SandboxCarrier(carrier_url)
        supplier = SandboxSupplier(supplier_url)
        for client_ in (payments, carrier, supplier):
            stack.push_async_callback(client_.aclose)
        if in_process_worker:
            worker = build_worker(
                client,
                WorkerDeps(
                    engine=engine,
                    session_factory=sessions,
                    payments=payments,
                    carrier=carrier,
                    payment_notify_url=f"{api_url}/v1/webhooks/payments/sandbox",
                    tracking_webhook_url=f"{api_url}/v1/webhooks/carriers/sandbox",
                    supplier=supplier,
                ),
                task_queue=task_queue,
            )
            await stack.enter_async_context(worker)
        yield Stack(
            api=api_url,
            payments=pay_url,
            carrier=carrier_url,
            sessions=sessions,
            client=client,
            task_queue=task_queue,
            database_url=engine.url.render_as_string(hide_password=False),
            supplier=supplier_url,
        )
