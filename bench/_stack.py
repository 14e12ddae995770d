"""Shared setup for the benchmarks: the whole back office as `houtai up` runs it, on a private,
throwaway data dir and free ports (embedded PostgreSQL and Temporal dev server, migrations, demo
data, the sandbox payment provider and carrier, the API and a worker in their own processes),
plus stock helpers that go through the stock ledger (what every bench prints: _figures.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import select, text
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from core.db import SessionFactory, make_engine, make_session_factory
from models.db import LocationStock
from services.stock_ledger import BatchRef, Document, move_on_hand
from workers.embedded import free_port
from workers.seed import DEMO_STOREFRONT_KEY

PAY_SECRET = "pay-secret-for-bench"  # noqa: S105 - a throwaway sandbox secret
CARRIER_SECRET = "carrier-secret-for-bench"  # noqa: S105
TOKEN_SECRET = "bench-token-secret-" + "z" * 32
T = TypeVar("T")
SHOP = {"X-API-Key": DEMO_STOREFRONT_KEY}
ADDRESS = {
    "name": "张三",
    "phone": "13800000000",
    "region_code": "310115",
    "detail": "世纪大道 1 号",
}
CUSTOMER_KEY = 42  # the storefront's customer every bench order names, upserted at start
CUSTOMER = {"name": "张三", "phone": "13800000000", "channel": "app", "addresses": [ADDRESS]}
BENCH_DOC = Document(
    ref_type="adjustment", ref_no="BENCH", actor="system:bench", reason="benchmark stock"
)


@dataclass
class Stack:
    api: str
    payments: str
    carrier: str
    sessions: SessionFactory  # the bench's own pool: setup and checks, not the API's or worker's
    client: Client
    task_queue: str
    workdir: Path
    pg_port: int = 0  # the embedded PostgreSQL: a bench may make a scratch database on it
    up_pid: int = 0  # `houtai up`: its process tree is what the stack costs (bench/_cpu.py)


@asynccontextmanager
async def running_stack(
    *,
    after_sale_window_days: int = 0,
    tracking_poll_minutes: int = 60,
    startup_timeout_s: int = 180,
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
) -> AsyncIterator[Stack]:
    """`houtai up` in a temp dir on free ports, exactly as a user runs it: embedded PostgreSQL,
    the Temporal dev server on SQLite, migrations, demo data, both sandboxes, and the worker and
    the API in their own processes. Ctrl-C'd (SIGINT) on the way out, errors included, so it
    stops everything it started in order. The bench keeps its own small pool and client."""
    async with AsyncExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="houtai-bench-")))
        os.chmod(tmp, 0o755)  # noqa: S103 - PostgreSQL runs as its own user when we are root
        names = ("api", "pg", "temporal", "ui", "pay", "carrier", "supplier", "metrics", "robots",
                 "smtp")  # fmt: skip
        ports = {name: free_port() for name in names}
        task_queue = f"bench-{uuid.uuid4().hex[:12]}"
        env = {
            **os.environ,
            "HOUTAI_DATA_DIR": str(tmp / "data"),
            "HOUTAI_TASK_QUEUE": task_queue,
            "HOUTAI_LOG_LEVEL": "WARNING",
            "HOUTAI_API__PORT": str(ports["api"]),
            "HOUTAI_EMBEDDED__POSTGRES_PORT": str(ports["pg"]),
            "HOUTAI_EMBEDDED__TEMPORAL_PORT": str(ports["temporal"]),
            "HOUTAI_EMBEDDED__TEMPORAL_UI_PORT": str(ports["ui"]),
            "HOUTAI_EMBEDDED__SANDBOX_PAYMENTS_PORT": str(ports["pay"]),
            "HOUTAI_EMBEDDED__SANDBOX_CARRIER_PORT": str(ports["carrier"]),
            "HOUTAI_EMBEDDED__SANDBOX_SUPPLIER_PORT": str(ports["supplier"]),
            # Free ports too, so two benches (or a bench and `houtai up`) can run side by side.
            "HOUTAI_EMBEDDED__SANDBOX_ROBOTS_PORT": str(ports["robots"]),
            "HOUTAI_EMBEDDED__SANDBOX_SMTP_PORT": str(ports["smtp"]),
            "HOUTAI_EMBEDDED__STARTUP_TIMEOUT_S": str(startup_timeout_s),
            "HOUTAI_METRICS__WORKER_PORT": str(ports["metrics"]),
            "HOUTAI_ORDERS__AFTER_SALE_WINDOW_DAYS": str(after_sale_window_days),
            "HOUTAI_ORDERS__TRACKING_POLL_MINUTES": str(tracking_poll_minutes),
            # Worker processes, and as many API processes (`houtai up --workers N`).
            "HOUTAI_WORKERS": str(workers),
            **(extra_env or {}),
        }
        for key in [k for k in env if k in ("HOUTAI_DATABASE_URL", "HOUTAI_TEMPORAL_ADDRESS")]:
            del env[key]  # always the embedded default
        up = await asyncio.to_thread(_start_up, env, tmp / "up.log", startup_timeout_s)
        stack.callback(_stop_up, up)
        client = await Client.connect(
            f"127.0.0.1:{ports['temporal']}", data_converter=pydantic_data_converter
        )
        engine = make_engine(
            f"postgresql+asyncpg://postgres@127.0.0.1:{ports['pg']}/houtai", pool_size=5
        )
        stack.push_async_callback(engine.dispose)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports['api']}") as api:
            path = f"/v1/customers/{CUSTOMER_KEY}"  # orders name a customer the shop has
            ok(await api.put(path, json=CUSTOMER, headers=SHOP, timeout=30), 200)
        yield Stack(
            api=f"http://127.0.0.1:{ports['api']}",
            payments=f"http://127.0.0.1:{ports['pay']}",
            carrier=f"http://127.0.0.1:{ports['carrier']}",
            sessions=make_session_factory(engine),
            client=client,
            task_queue=task_queue,
            workdir=tmp,
            pg_port=ports["pg"],
            up_pid=up.pid,
        )


def _start_up(env: dict[str, str], log_path: Path, timeout_s: float) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "workers.cli", "up"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,  # in our process group: a Ctrl-C stops it in order too
        )
    deadline = time.monotonic() + timeout_s
    while "houtai is ready" not in (shown := log_path.read_text(errors="replace")):
        if up.poll() is not None or time.monotonic() > deadline:
            _stop_up(up)
            raise RuntimeError(f"houtai up did not get ready (exit {up.poll()}):\n{shown[-3000:]}")
        time.sleep(0.2)
    return up


def _stop_up(up: subprocess.Popen[bytes]) -> None:
    if up.poll() is None:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(90)
        except subprocess.TimeoutExpired:
            up.kill()
            up.wait()


# --- stock, through the ledger --------------------------------------------------------------


async def adjust_stock(
    sessions: SessionFactory, sku_id: int, warehouse_id: int, change: int
) -> None:
    """Change on_hand by `change` with adjustment movements, so the ledger balances: in to the
    SKU's biggest enabled lot in the warehouse, out spread over enabled lots' unreserved units."""
    async with sessions() as session:
        lots = await session.scalars(
            select(LocationStock)
            .where(LocationStock.sku_id == sku_id, LocationStock.warehouse_id == warehouse_id)
            .where(~LocationStock.disabled)
            .order_by(LocationStock.quantity.desc(), LocationStock.id)
        )
        for lot in list(lots)[: None if change < 0 else 1]:
            units = change if change > 0 else min(-change, lot.quantity - lot.reserved)
            if units > 0:
                await move_on_hand(
                    session,
                    movement_type="adjustment_in" if change > 0 else "adjustment_out",
                    sku_id=sku_id,
                    warehouse_id=warehouse_id,
                    batch=BatchRef(
                        lot.location_id, lot.batch_no, lot.production_date, lot.expiry_date
                    ),
                    quantity=units,
                    doc=BENCH_DOC,
                )
                change -= units if change > 0 else -units
        await session.commit()
    if change != 0:
        raise RuntimeError(f"SKU {sku_id}: could not adjust warehouse {warehouse_id} by {change}")


async def sellable(sessions: SessionFactory, sku_id: int) -> int:
    """Units of the SKU an order may still reserve, over all warehouses (DESIGN §5: on hand,
    less reserved, safety hold and units in disabled batches)."""
    sql = """SELECT COALESCE(SUM(GREATEST(0, s.on_hand - s.reserved - s.safety_hold - COALESCE(
        (SELECT SUM(l.quantity - l.reserved) FROM location_stocks l WHERE l.disabled
         AND l.sku_id = s.sku_id AND l.warehouse_id = s.warehouse_id), 0))), 0)
        FROM stocks s WHERE s.sku_id = :s"""
    async with sessions() as session:
        return int(await session.scalar(text(sql), {"s": sku_id}) or 0)


# The stock invariants of DESIGN §5 (the checks of tests/support/invariants.py, plus one).
_BY_LEDGER = """SELECT s.sku_id, s.warehouse_id FROM stocks s
  LEFT JOIN (SELECT sku_id, warehouse_id,
  SUM(on_hand_delta) AS on_hand, SUM(reserved_delta) AS reserved,
  SUM(in_transit_delta) AS in_transit FROM stock_movements GROUP BY sku_id, warehouse_id) m
  USING (sku_id, warehouse_id) WHERE s.{0} <> COALESCE(m.{0}, 0)"""
INVARIANTS = {
    "on_hand = Σ on_hand movements": _BY_LEDGER.format("on_hand"),
    "reserved = Σ reservation movements": _BY_LEDGER.format("reserved"),
    "in_transit = Σ in-transit movements": _BY_LEDGER.format("in_transit"),
    "location/batch totals = warehouse on_hand": """SELECT s.sku_id, s.warehouse_id FROM stocks s
        LEFT JOIN (SELECT sku_id, warehouse_id, SUM(quantity) AS total FROM location_stocks
        GROUP BY sku_id, warehouse_id) l USING (sku_id, warehouse_id)
        WHERE s.on_hand <> COALESCE(l.total, 0)""",
    "nothing negative": """SELECT sku_id, warehouse_id FROM stocks
        WHERE on_hand < 0 OR reserved < 0 OR in_transit < 0 OR safety_hold < 0 UNION ALL
        SELECT sku_id, warehouse_id FROM location_stocks WHERE quantity < 0 OR reserved < 0""",
    "reserved within on_hand": "SELECT sku_id, warehouse_id FROM stocks WHERE reserved > on_hand",
    "movements without a stock row": """SELECT DISTINCT m.sku_id, m.warehouse_id
        FROM stock_movements m LEFT JOIN stocks s USING (sku_id, warehouse_id)
        WHERE s.sku_id IS NULL""",
}


async def known_customers(
    sessions: SessionFactory, first: int, count: int, created_ago: str = "1 minute"
) -> None:
    """Customers `first` … `first + count - 1` of the demo storefront, written straight to the
    database (a storefront would PUT each: the benches that need thousands are not measuring
    that), with no orders; keys already there are left as they are."""
    async with sessions() as session:
        shop = await session.scalar(
            text("SELECT id FROM api_keys WHERE role = 'storefront' ORDER BY id LIMIT 1")
        )
        await session.execute(
            text(
                "INSERT INTO customers (api_key_id, customer_key, name, phone, addresses, channel,"
                " created_at, updated_at) SELECT :shop, :first + i, '会员' || i, "
                "'139' || lpad(i::text, 8, '0'), '[]'::jsonb, 'app', "
                "now() - CAST(CAST(:ago AS text) AS interval), now() "
                "FROM generate_series(0, :n - 1) AS i "
                "ON CONFLICT (api_key_id, customer_key) DO NOTHING"
            ),
            {"shop": shop, "first": first, "n": count, "ago": created_ago},
        )
        await session.commit()


async def invariant_violations(sessions: SessionFactory) -> dict[str, list[tuple[int, int]]]:
    """(sku, warehouse) pairs breaking each invariant; empty when the ledgers balance."""
    found: dict[str, list[tuple[int, int]]] = {}
    async with sessions() as session:
        for name, sql in INVARIANTS.items():
            rows = [(int(r[0]), int(r[1])) for r in (await session.execute(text(sql))).all()]
            if rows:
                found[name] = rows
    return found


async def reserved_figures(sessions: SessionFactory, sku_id: int) -> tuple[int, int, int, int]:
    """Units of a SKU promised to orders, four ways: held reservations, the stock rows'
    `reserved`, Σ reservation movements in the ledger, and units on order lines."""
    sql = """SELECT
        (SELECT COALESCE(SUM(quantity), 0) FROM reservations WHERE sku_id = :s AND status = 'held'),
        (SELECT COALESCE(SUM(reserved), 0) FROM stocks WHERE sku_id = :s),
        (SELECT COALESCE(SUM(reserved_delta), 0) FROM stock_movements WHERE sku_id = :s),
        (SELECT COALESCE(SUM(quantity), 0) FROM order_lines WHERE sku_id = :s)"""
    async with sessions() as session:
        row = (await session.execute(text(sql), {"s": sku_id})).one()
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


# --- driving the stack ----------------------------------------------------------------------


def order_body(key: str, skus: Sequence[int]) -> dict[str, Any]:
    """A storefront's order of one unit of each SKU, to Shanghai."""
    lines = [{"sku_id": sku, "quantity": 1} for sku in skus]
    return {
        "client_order_key": key,
        "customer_id": CUSTOMER_KEY,
        "address": ADDRESS,
        "lines": lines,
    }


def ok(answer: httpx.Response, status: int) -> dict[str, Any]:
    """The JSON body of an answer that must have this status (anything else breaks the run)."""
    if answer.status_code != status:
        raise RuntimeError(f"{answer.request.url}: {answer.status_code} {answer.text[:300]}")
    body: dict[str, Any] = answer.json()
    return body


async def until(
    fetch: Callable[[], Awaitable[T]],
    ready: Callable[[T], bool],
    what: str,
    *,
    within: float,
    interval: float,
) -> T:
    """Poll `fetch` every `interval` s until `ready`; a timeout says what it saw last."""
    deadline = time.monotonic() + within
    while not ready(found := await fetch()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {within:.0f} s; last seen {str(found)[:500]}")
        await asyncio.sleep(interval)
    return found


async def timed_calls(
    n: int, concurrency: int, call: Callable[[int], Awaitable[bool]], *, first: int = 0
) -> tuple[list[float], int]:
    """call(first) … call(first + n - 1) from `concurrency` clients, each calling in turn:
    (latencies of the calls that succeeded, number that failed)."""
    latencies: list[float] = []
    failures = 0
    counter = iter(range(first, first + n))

    async def client() -> None:
        nonlocal failures
        for i in counter:
            start = time.perf_counter()
            if await call(i):
                latencies.append(time.perf_counter() - start)
            else:
                failures += 1

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies, failures


async def throughput(n: int, concurrency: int, one: Callable[[int], Awaitable[object]]) -> float:
    """Completions per second of n runs of `one`, at most `concurrency` at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def run(i: int) -> None:
        async with gate:
            await one(i)

    began = time.perf_counter()
    await asyncio.gather(*(run(i) for i in range(n)))
    return n / (time.perf_counter() - began)


COUNTED = {
    "activities": EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
    "signals": EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
    "updates": EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
    "child workflows": EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
    "timers": EventType.EVENT_TYPE_TIMER_STARTED,
    "workflow tasks": EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
}


async def history_counts(client: Client, workflow_ids: Sequence[str]) -> Counter[str]:
    """Events of each COUNTED kind (and all events) over these workflows' histories."""
    counts: Counter[str] = Counter()
    for workflow_id in workflow_ids:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        counts["events"] += len(history.events)
        counts["local activities"] += sum(
            1
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
            and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
        )
        for name, kind in COUNTED.items():
            counts[name] += sum(1 for e in history.events if e.event_type == kind)
    return counts
