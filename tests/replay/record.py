"""Record the workflow histories the replay tests check, from real runs on the dev server.

    .venv/bin/python -m tests.replay.record

Runs each scenario on a whole in-process stack (embedded PostgreSQL, Temporal dev server, the
API, the sandbox providers, a worker) and writes every workflow's history to
tests/replay/histories/<GENERATION>/<scenario>--<workflow id>.json. Record a new generation
when workflows change behind workflow.patched (so the new paths are replayed too), never over an
older one: every committed generation is what the current code must still replay, as runs in
flight started under it would be.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import httpx
from temporalio.client import Client

from core.db import make_engine
from migrations import upgrade_to_head
from models.contracts.order import OrderTimings
from tests.support.orders import (
    SHOP,
    deliver,
    one_warehouse_skus,
    pack_and_hand_over,
    pay,
    place,
    wait_status,
)
from tests.support.stack import Stack, fast_timings, running_stack
from tests.support.temporal import dev_server
from workers.embedded import EmbeddedPostgres, free_port

# 1: regular activities throughout. 2: database steps as local activities, package signals
# only at handover and exceptions, pack answered with the label (the patches in workflows/).
# 3: packages picked in waves, search attributes upserted (visibility-search-attributes).
GENERATION = "3-search-attributes"
HERE = Path(__file__).parent / "histories" / GENERATION
Scenario = Callable[
    [Stack, httpx.AsyncClient, httpx.AsyncClient, httpx.AsyncClient], Awaitable[str]
]


async def split_shipment(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> str:
    """Happy path of a two-warehouse order: placed, paid, two packages, delivered, closed."""
    sku_sh, sku_gz = await one_warehouse_skus(stack)
    order_no = await place(api, "replay-split", 1, {sku_sh: 1, sku_gz: 1})
    await pay(api, provider, order_no)
    view = await wait_status(api, order_no, "fulfilling")
    for package in view["packages"]:
        await deliver(carrier, await pack_and_hand_over(api, package))
    await wait_status(api, order_no, "delivered")
    await api.post(f"/v1/orders/{order_no}/confirm-receipt", headers=SHOP)
    await wait_status(api, order_no, "closed")
    return order_no


async def payment_timeout(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> str:
    """Nobody pays before the deadline: cancelled, stock released."""
    sku_sh, _ = await one_warehouse_skus(stack)
    order_no = await place(api, "replay-timeout", 2, {sku_sh: 1})
    await wait_status(api, order_no, "cancelled")
    return order_no


async def late_payment(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> str:
    """The customer cancels, then the payment arrives: refunded automatically."""
    sku_sh, _ = await one_warehouse_skus(stack)
    order_no = await place(api, "replay-late", 3, {sku_sh: 1})
    payment = await api.post(f"/v1/orders/{order_no}/payments", headers=SHOP)
    await api.post(f"/v1/orders/{order_no}/cancel", headers=SHOP, json={"reason": "changed mind"})
    await provider.post(
        f"/v1/payments/{payment.json()['payment_id']}/simulate", json={"outcome": "succeeded"}
    )

    async def refunded() -> bool:
        view = (await api.get(f"/v1/orders/{order_no}", headers=SHOP)).json()
        return bool(view["refunded_fen"] == view["paid_fen"] > 0)

    deadline = asyncio.get_running_loop().time() + 60
    while not await refunded():
        assert asyncio.get_running_loop().time() < deadline, "late payment never refunded"
        await asyncio.sleep(0.2)
    return order_no


SCENARIOS: dict[str, tuple[Scenario, OrderTimings]] = {
    "split_shipment": (split_shipment, fast_timings()),
    "payment_timeout": (
        payment_timeout,
        fast_timings().model_copy(update={"payment_window": timedelta(seconds=3)}),
    ),
    "late_payment": (late_payment, fast_timings()),
}


async def _record(
    client: Client, database_url: str, name: str, scenario: Scenario, timings: OrderTimings
) -> None:
    engine = make_engine(database_url)
    try:
        async with (
            running_stack(engine, client, f"replay-{name}", timings=timings) as stack,
            httpx.AsyncClient(base_url=stack.api, timeout=60) as api,
            httpx.AsyncClient(base_url=stack.payments, timeout=30) as provider,
            httpx.AsyncClient(base_url=stack.carrier, timeout=30) as carrier,
        ):
            order_no = await scenario(stack, api, provider, carrier)
            await _wait_closed(client, f"order-{order_no}")
            async for execution in client.list_workflows(f"TaskQueue = 'replay-{name}'"):
                history = await client.get_workflow_handle(execution.id).fetch_history()
                (HERE / f"{name}--{execution.id}.json").write_text(history.to_json())
                print(f"recorded {name}: {execution.id} ({len(history.events)} events)")
    finally:
        await engine.dispose()


async def _wait_closed(client: Client, workflow_id: str) -> None:
    await client.get_workflow_handle(workflow_id).result()


async def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="houtai-record-") as tmp:
        os.chmod(tmp, 0o755)
        postgres = EmbeddedPostgres(Path(tmp) / "pg", free_port(), Path(tmp) / "pg.log")
        postgres.start()
        env = await dev_server()
        try:
            for index, (name, (scenario, timings)) in enumerate(SCENARIOS.items(), start=1):
                url = postgres.url.replace("/houtai", f"/{name}")
                await _createdb(postgres, name)
                await asyncio.to_thread(upgrade_to_head, url)
                # One dev server for all scenarios: keep their order numbers apart.
                await _sql(postgres, name, f"ALTER SEQUENCE order_no_seq RESTART WITH {index}000")
                await _record(env.client, url, name, scenario, timings)
        finally:
            await env.shutdown()
            postgres.stop()


async def _createdb(postgres: EmbeddedPostgres, name: str) -> None:
    await _sql(postgres, "postgres", f'CREATE DATABASE "{name}"')


async def _sql(postgres: EmbeddedPostgres, database: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(postgres.admin_url(database).replace("+asyncpg", ""))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
