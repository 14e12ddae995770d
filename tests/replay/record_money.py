"""Record the histories of the money paths (issue 12: cancel answered before its refund, a
refused refund retried by finance, a payment callback the provider does not vouch for, a payment
after the order's process ended) for tests/replay/test_replay_money.py.

    .venv/bin/python -m tests.replay.record_money

Like tests/replay/record.py (same stack, same dev server), into tests/replay/money/. Record again
into a new folder, never over these, when these paths change behind workflow.patched."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from temporalio.client import Client

from core.db import make_engine
from migrations import upgrade_to_head
from tests.api.test_order_payments import payment_event, signed
from tests.replay.record import _createdb, _sql
from tests.support.order_api import staff
from tests.support.orders import SHOP, eventually, one_warehouse_skus, pay, place, wait_status
from tests.support.stack import Stack, fast_timings, running_stack
from tests.support.temporal import dev_server
from workers.embedded import EmbeddedPostgres, free_port
from workflows.late_payment import late_payment_id

HERE = Path(__file__).parent / "money" / "1-money-hardening"
Scenario = Callable[[Stack, httpx.AsyncClient, httpx.AsyncClient], Awaitable[list[str]]]


async def _finance(api: httpx.AsyncClient) -> dict[str, str]:
    """Finance signs in with a second factor since issue 12: staff() answers it."""
    return await staff(api, "finance")


async def _refused(api: httpx.AsyncClient, order_no: str) -> bool:
    owed = (await api.get(f"/v1/orders/{order_no}", headers=SHOP)).json()["pending_refunds"]
    return bool(owed and owed[0]["status"] == "refused")


async def refused_cancel_refund(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> list[str]:
    """Paid, cancelled (answered before the refund), refund refused once, finance retries."""
    sku_sh, _ = await one_warehouse_skus(stack)
    order_no = await place(api, "replay-refused", 4, {sku_sh: 1})
    await pay(api, provider, order_no)
    await wait_status(api, order_no, "fulfilling")
    await provider.put("/_sandbox/refund-refusals", json={"count": 1})
    await api.post(f"/v1/orders/{order_no}/cancel", headers=SHOP, json={"reason": "changed"})
    await eventually(lambda: _refused(api, order_no), "the refund refused")
    retried = await api.post(
        f"/v1/orders/{order_no}/retry-refund", json={}, headers=await _finance(api)
    )
    assert retried.status_code == 200, retried.text
    return [f"order-{order_no}"]


async def unvouched_payment(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> list[str]:
    """Paid; a signed callback of a transaction the provider never had; then cancelled."""
    sku_sh, _ = await one_warehouse_skus(stack)
    order_no = await place(api, "replay-unvouched", 5, {sku_sh: 1})
    payment = (await api.post(f"/v1/orders/{order_no}/payments", headers=SHOP)).json()
    await provider.post(
        f"/v1/payments/{payment['payment_id']}/simulate", json={"outcome": "succeeded"}
    )
    await wait_status(api, order_no, "fulfilling")
    body, headers = signed(payment_event(payment, "TX-REPLAY-STRANGER", 5290))
    assert (
        await api.post("/v1/webhooks/payments/sandbox", content=body, headers=headers)
    ).is_success

    async def noted() -> bool:
        view = (await api.get(f"/v1/orders/{order_no}", headers=SHOP)).json()
        return "payment_difference" in [e["step"] for e in view["timeline"]]

    await eventually(noted, "the difference noted")
    await api.post(f"/v1/orders/{order_no}/cancel", headers=SHOP, json={"reason": "changed"})
    return [f"order-{order_no}"]


async def late_after_end(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> list[str]:
    """Cancelled unpaid; its process ends; then paid: refused once, finance retries."""
    sku_sh, _ = await one_warehouse_skus(stack)
    order_no = await place(api, "replay-late-end", 6, {sku_sh: 1})
    payment = (await api.post(f"/v1/orders/{order_no}/payments", headers=SHOP)).json()
    await api.post(f"/v1/orders/{order_no}/cancel", headers=SHOP, json={"reason": "changed"})
    await stack.client.get_workflow_handle(f"order-{order_no}").result()
    await provider.put("/_sandbox/refund-refusals", json={"count": 1})
    paid = await provider.post(
        f"/v1/payments/{payment['payment_id']}/simulate", json={"outcome": "succeeded"}
    )
    await eventually(lambda: _refused(api, order_no), "the late refund refused")
    retried = await api.post(
        f"/v1/orders/{order_no}/retry-refund", json={}, headers=await _finance(api)
    )
    assert retried.status_code == 200, retried.text
    return [late_payment_id(paid.json()["payment"]["transaction_id"])]


SCENARIOS: dict[str, Scenario] = {
    "refused_cancel_refund": refused_cancel_refund,
    "unvouched_payment": unvouched_payment,
    "late_after_end": late_after_end,
}


async def _record(client: Client, database_url: str, name: str, scenario: Scenario) -> None:
    engine = make_engine(database_url)
    try:
        async with (
            running_stack(engine, client, f"replay-{name}", timings=fast_timings()) as stack,
            httpx.AsyncClient(base_url=stack.api, timeout=60) as api,
            httpx.AsyncClient(base_url=stack.payments, timeout=30) as provider,
        ):
            for workflow_id in await scenario(stack, api, provider):
                await client.get_workflow_handle(workflow_id).result()
            async for execution in client.list_workflows(f"TaskQueue = 'replay-{name}'"):
                history = await client.get_workflow_handle(execution.id).fetch_history()
                (HERE / f"{name}--{execution.id}.json").write_text(history.to_json())
                print(f"recorded {name}: {execution.id} ({len(history.events)} events)")  # noqa: T201
    finally:
        await engine.dispose()


async def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="houtai-record-") as tmp:
        os.chmod(tmp, 0o755)
        postgres = EmbeddedPostgres(Path(tmp) / "pg", free_port(), Path(tmp) / "pg.log")
        postgres.start()
        env = await dev_server()
        try:
            for index, (name, scenario) in enumerate(SCENARIOS.items(), start=4):
                url = postgres.url.replace("/houtai", f"/{name}")
                await _createdb(postgres, name)
                await asyncio.to_thread(upgrade_to_head, url)
                await _sql(postgres, name, f"ALTER SEQUENCE order_no_seq RESTART WITH {index}000")
                await _record(env.client, url, name, scenario)
        finally:
            await env.shutdown()
            postgres.stop()


if __name__ == "__main__":
    asyncio.run(main())
