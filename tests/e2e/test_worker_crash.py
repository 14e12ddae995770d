"""Crash the worker process (SIGKILL) between reservation and payment, and again between
waybill and delivery; a new worker process picks the order up and it completes with no step
done twice: one payment, one ledger row, each package shipped once, stock down exactly once.

And the short version of the crash bench (bench/chaos.py, DESIGN §10): orders through their
whole lifecycle under `houtai up` while its worker and API are SIGKILLed at random moments and
restarted by it; every order terminal, nothing doubled at houtai, the provider or the carrier,
the ledgers balanced."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from models.db import MoneyEntry, OrderEvent, Package, Payment, Reservation, StockMovement
from tests.support.invariants import assert_stock_invariants
from tests.support.orders import (
    ADDRESS,
    SHOP,
    deliver,
    known_customer,
    one_warehouse_skus,
    pack_and_hand_over,
    pay,
    stock_of,
    wait_status,
)
from tests.support.stack import Stack, running_stack
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
CHAOS_ORDERS, WORKER_KILLS, API_KILLS = 20, 3, 1


@pytest_asyncio.fixture
async def stack(
    seeded_engine: AsyncEngine, dev_client: Client, task_queue: str
) -> AsyncIterator[Stack]:
    async with running_stack(seeded_engine, dev_client, task_queue, in_process_worker=False) as s:
        yield s


@pytest.fixture
def worker(stack: Stack, tmp_path: Path) -> Iterator[WorkerProcess]:
    process = WorkerProcess(stack.worker_env(), tmp_path / "worker.log")
    process.start()
    yield process
    process.stop()


async def test_orders_survive_worker_crashes_without_doubling_a_step(
    stack: Stack, worker: WorkerProcess
) -> None:
    sku_sh, sku_gz = await one_warehouse_skus(stack)
    before = {sku: await stock_of(stack, sku) for sku in (sku_sh, sku_gz)}
    body = {
        "client_order_key": "crash-1",
        "customer_id": 9,
        "address": ADDRESS,
        "lines": [{"sku_id": sku_sh, "quantity": 2}, {"sku_id": sku_gz, "quantity": 1}],
    }
    async with (
        httpx.AsyncClient(base_url=stack.api, timeout=60) as api,
        httpx.AsyncClient(base_url=stack.payments, timeout=30) as provider,
        httpx.AsyncClient(base_url=stack.carrier, timeout=30) as carrier,
    ):
        await known_customer(api, 9)
        placed = await api.post("/v1/orders", json=body, headers=SHOP)
        assert placed.status_code == 201, placed.text
        order_no = placed.json()["order_no"]

        worker.crash()  # reserved, not yet paid
        worker.start()
        await pay(api, provider, order_no)
        view = await wait_status(api, order_no, "fulfilling")
        tracking = [await pack_and_hand_over(api, package) for package in view["packages"]]

        worker.crash()  # waybills made and handed over, not yet delivered
        for number in tracking:
            await deliver(carrier, number)  # the signals wait in Temporal
        worker.start()
        await wait_status(api, order_no, "delivered")
        confirmed = await api.post(f"/v1/orders/{order_no}/confirm-receipt", headers=SHOP)
        assert confirmed.status_code == 200, confirmed.text
        final = await wait_status(api, order_no, "closed")

    assert {sku: await stock_of(stack, sku) for sku in (sku_sh, sku_gz)} == {
        sku_sh: (before[sku_sh][0] - 2, before[sku_sh][1]),
        sku_gz: (before[sku_gz][0] - 1, before[sku_gz][1]),
    }
    async with stack.sessions() as session:
        await assert_stock_invariants(session)
        assert await count(session, Payment, Payment.order_no == order_no) == 1
        assert await count(session, MoneyEntry, MoneyEntry.order_no == order_no) == 1
        assert await count(session, Reservation, Reservation.order_no == order_no) == 2
        shipped_units = await session.scalar(
            select(func.sum(StockMovement.on_hand_delta)).where(
                StockMovement.movement_type == "sales_out",
                StockMovement.ref_no.in_([p["package_no"] for p in view["packages"]]),
            )
        )
        assert shipped_units == -3
        steps = list(
            await session.scalars(select(OrderEvent.step).where(OrderEvent.order_no == order_no))
        )
        waybills = list(
            await session.scalars(select(Package.waybill_no).where(Package.order_no == order_no))
        )
    for step, times in (
        ("placed", 1),
        ("paid", 1),
        ("shipped", 2),
        ("delivered", 1),
        ("completed", 1),
        ("closed", 1),
        ("waybill_created", 2),
    ):
        assert steps.count(step) == times, (step, steps)
    assert len(set(waybills)) == 2 and None not in waybills
    assert final["paid_fen"] == placed.json()["payable_fen"]
    assert final["refunded_fen"] == 0


async def count(session: object, model: type, *where: object) -> int:
    from sqlalchemy.ext.asyncio import AsyncSession

    assert isinstance(session, AsyncSession)
    return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_orders_ride_out_worker_and_api_kills_under_houtai_up(tmp_path: Path) -> None:
    figures_path = tmp_path / "chaos.json"
    command = [sys.executable, str(ROOT / "bench" / "chaos.py"), "--orders", str(CHAOS_ORDERS),
               "--worker-kills", str(WORKER_KILLS), "--api-kills", str(API_KILLS), "--gap", "5",
               "--concurrency", "5",
               "--json", str(figures_path)]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOUTAI_")}
    run = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500, check=False
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-4000:]
    f = json.loads(figures_path.read_text())
    shown = run.stdout[-4000:]
    assert f["orders"] == CHAOS_ORDERS, shown
    assert f["order states"] == {"closed": CHAOS_ORDERS}, shown
    assert f["orders not terminal"] == {} and f["order workflows not completed"] == 0, shown
    assert (f["worker kills"], f["worker restarts"]) == (WORKER_KILLS, WORKER_KILLS), shown
    assert (f["api kills"], f["api restarts"]) == (API_KILLS, API_KILLS), shown
    assert not f["stack gave up"]
    # nothing doubled, in houtai's tables or in the provider's and carrier's own books
    assert f["houtai payments doubled"] == f["houtai money entries doubled"] == 0, shown
    assert f["packages shipped twice (sales_out rows)"] == 0, shown
    assert (f["provider payments"], f["provider refunds"]) == (CHAOS_ORDERS, 0), shown
    assert f["provider payments doubled"] == 0, shown
    assert f["packages"] == f["carrier waybills"] == 2 * CHAOS_ORDERS, shown
    assert f["carrier waybills doubled"] == f["waybills not the carrier's"] == 0, shown
    # the ledgers balance
    assert f["money: provider net = ledger"] and f["money: orders unbalanced"] == [], shown
    assert f["stock invariants broken"] == {}, shown
