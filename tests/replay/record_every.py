"""Record a history of every workflow class the worker runs (workers/worker.py WORKFLOWS), in
their main paths, for tests/replay/test_replay_every.py. One command re-records them all:

    .venv/bin/python -m tests.replay.record_every            # every scenario
    .venv/bin/python -m tests.replay.record_every order_happy weight_hold   # only these

Each scenario runs on a whole in-process stack (embedded PostgreSQL, the Temporal dev server,
the API, the sandbox payment provider, carrier and supplier, a worker built by build_worker with
the real activities), driven over HTTP as the storefront, staff and devices would. Every workflow
the scenario started on its task queue is written, finished or not, to
tests/replay/every/<GENERATION>/<scenario>--<workflow id>.json.

When workflows/ changes behind workflow.patched, record a new generation (bump GENERATION) and
keep the older folders: every committed generation is what the current code must still replay,
as runs in flight started under it would be. The test fails when a class in WORKFLOWS has no
history in the newest generation, so a new workflow class needs a scenario: written in
scenarios_orders.py, scenarios_supply.py or scenarios_members.py (what a scenario is given:
scenario_clients.py) and named in SCENARIOS below.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import traceback
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from core.db import make_engine
from migrations import upgrade_to_head
from models.contracts.order import OrderPolicy
from tests.replay.record import _createdb, _sql
from tests.replay.record_money import late_after_end, refused_cancel_refund, unvouched_payment
from tests.replay.scenario_clients import BACKORDER, Clients, Scenario, timings
from tests.replay.scenarios_members import (
    coupon_batch,
    flash_sale,
    flash_sale_window,
    group_buy,
    loyalty_points,
    points_expiry,
    presale,
    presale_after_sale,
)
from tests.replay.scenarios_orders import (
    after_sale_before_shipment,
    after_sale_exchange,
    after_sale_id_taken,
    after_sale_refund,
    after_sale_rejected_and_withdrawn,
    after_sale_return,
    after_sale_whole_order,
    cancel_after_waybill,
    cancel_paid,
    close_at_once,
    exchange_refund_before_replacement_ships,
    failed_placement,
    late_payment,
    late_payment_after_end,
    lost_parcel,
    money,
    order_happy,
    payment_timeout,
    risk_review_approved,
    risk_review_rejected,
    short_pick_backorder,
    short_pick_cancel_line,
    weight_hold,
)
from tests.replay.scenarios_supply import (
    diagnostics,
    purchase_cancelled,
    purchase_payable_later,
    purchase_rejected,
    purchase_short_mismatch,
    purchase_tiered,
    reconciliation,
    replenishment,
    transfer_cancelled_after_picking,
    transfer_received,
    transfer_rejected,
)
from tests.support.orders import (
    eventually,
)
from tests.support.stack import running_stack
from tests.support.temporal import dev_server
from workers.embedded import EmbeddedPostgres, free_port

# 1: every class of WORKFLOWS in its main paths, recorded with main as issue 13 began (0205767).
# 2: recorded again in issue 15 (after 253b749): the purchase orders take po-submit-after-created
#    and po-one-receipt-activity, the TransferWorkflow has its three paths. pack-rechecked-under-
#    lock is in no history: its branch needs two packs validated before either runs, and this SDK
#    runs an update's validator and handler in one go, so a later pack's validator already sees
#    the package packed (the API's test_pack_retries.py sends them at once all the same).
# 3: recorded again in issue 18: a run records one-patch-marker-per-run and takes every other
#    patch's new path without a marker of its own (workflows/common.py `patched`), but for the
#    flash-sale, presale and group-buy markers that tell what kind of order a run is; orders
#    (Update-with-Start), planners (plan now), shipments and waves (children, behind
#    search-attributes-at-start) start with the attributes their first `show` would upsert.
#    flash_sale_window was recorded into it later (with closed-by-schedule, which records its own
#    marker): the flash sale closed by its closing Schedule's FlashCloseWorkflow.
GENERATION = "3-one-patch-marker"
ROOT = Path(__file__).parent / "every"
TEMPLATE = "replay_template"


# name: (scenario, running_stack's keywords: the order timings and policy it runs under)
SCENARIOS: dict[str, tuple[Scenario, dict[str, Any]]] = {
    "order_happy": (order_happy, {}),
    "close_at_once": (close_at_once, {"timings": timings(after_sale_window=timedelta(0))}),
    "payment_timeout": (
        payment_timeout,
        {"timings": timings(payment_window=timedelta(seconds=3))},
    ),
    "cancel_paid": (cancel_paid, {}),
    "cancel_after_waybill": (cancel_after_waybill, {}),
    "late_payment": (late_payment, {}),
    "late_payment_after_end": (late_payment_after_end, {}),
    "failed_placement": (failed_placement, {}),
    "refused_cancel_refund": (money(refused_cancel_refund), {}),
    "unvouched_payment": (money(unvouched_payment), {}),
    "late_after_end_refused": (money(late_after_end), {}),
    "short_pick_backorder": (
        short_pick_backorder,
        {"timings": BACKORDER, "policy": OrderPolicy(short_pick_policy="backorder")},
    ),
    "short_pick_cancel_line": (
        short_pick_cancel_line,
        {"policy": OrderPolicy(short_pick_policy="cancel_line")},
    ),
    "weight_hold": (weight_hold, {}),
    "lost_parcel": (lost_parcel, {}),
    "risk_review_approved": (risk_review_approved, {"policy": OrderPolicy(risk_review_over_fen=1)}),
    "risk_review_rejected": (risk_review_rejected, {"policy": OrderPolicy(risk_review_over_fen=1)}),
    "after_sale_refund": (after_sale_refund, {}),
    "after_sale_before_shipment": (after_sale_before_shipment, {}),
    "after_sale_whole_order": (after_sale_whole_order, {}),
    "after_sale_rejected_and_withdrawn": (after_sale_rejected_and_withdrawn, {}),
    "after_sale_return": (after_sale_return, {}),
    "after_sale_exchange": (after_sale_exchange, {}),
    "after_sale_id_taken": (after_sale_id_taken, {}),
    "exchange_refund_before_replacement_ships": (exchange_refund_before_replacement_ships, {}),
    "purchase_tiered": (purchase_tiered, {}),
    "purchase_short_mismatch": (purchase_short_mismatch, {}),
    "purchase_payable_later": (purchase_payable_later, {}),
    "purchase_rejected": (purchase_rejected, {}),
    "purchase_cancelled": (purchase_cancelled, {}),
    "replenishment": (replenishment, {}),
    "reconciliation": (reconciliation, {}),
    "diagnostics": (diagnostics, {}),
    "transfer_received": (transfer_received, {}),
    "transfer_rejected": (transfer_rejected, {}),
    "transfer_cancelled_after_picking": (transfer_cancelled_after_picking, {}),
    "loyalty_points": (loyalty_points, {}),
    "points_expiry": (points_expiry, {}),
    "flash_sale": (flash_sale, {"timings": timings(flash_payment_window=timedelta(seconds=3))}),
    "flash_sale_window": (flash_sale_window, {}),
    "coupon_batch": (coupon_batch, {}),
    "group_buy": (group_buy, {}),
    "presale": (presale, {}),
    "presale_after_sale": (presale_after_sale, {}),
}


async def _record(
    client: Client, url: str, name: str, scenario: Scenario, options: dict[str, Any], out: Path
) -> None:
    engine = make_engine(url)
    queue = f"replay-{name}"
    try:
        async with (
            running_stack(engine, client, queue, **options) as stack,
            httpx.AsyncClient(base_url=stack.api, timeout=60) as api,
            httpx.AsyncClient(base_url=stack.payments, timeout=30) as provider,
            httpx.AsyncClient(base_url=stack.carrier, timeout=30) as carrier,
        ):
            clients = Clients(stack, api, provider, carrier)
            await scenario(clients)
            for workflow_id in clients.wait_for:
                await _finished(client, workflow_id)
            await _settle(client, queue)
            async for execution in client.list_workflows(f"TaskQueue = '{queue}'"):
                history = await client.get_workflow_handle(execution.id).fetch_history()
                # A schedule's run has its time in its id: no ':' in a file name (Windows).
                file_name = f"{name}--{execution.id}.json".replace(":", "")
                (out / file_name).write_text(history.to_json())
                state = execution.status.name if execution.status else "?"
                print(f"recorded {name}: {execution.id} {state} ({len(history.events)} events)")  # noqa: T201
    finally:
        await engine.dispose()


async def _finished(client: Client, workflow_id: str) -> None:
    """Until the workflow has run to its end (it may not be started yet: a provider's callback
    starts a late payment's)."""

    async def started() -> bool:
        try:
            await client.get_workflow_handle(workflow_id).describe()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            return False
        return True

    await eventually(started, f"{workflow_id} started")
    await asyncio.wait_for(client.get_workflow_handle(workflow_id).result(), 120)


async def _settle(client: Client, queue: str) -> None:
    """Until no running workflow of the queue has a workflow task to do (the worker has
    answered everything the scenario asked), so each history ends on a decided task."""

    async def quiet() -> bool:
        async for execution in client.list_workflows(
            f"TaskQueue = '{queue}' AND ExecutionStatus = 'Running'"
        ):
            described = await client.get_workflow_handle(execution.id).describe()
            raw: Any = described.raw_description
            if raw.HasField("pending_workflow_task") or raw.pending_activities:
                return False
        return True

    await eventually(quiet, f"the workflows of {queue} idle", seconds=60)
    await asyncio.sleep(1)  # visibility catches up with the last closes


async def main(only: list[str]) -> None:
    out = ROOT / GENERATION
    out.mkdir(parents=True, exist_ok=True)
    unknown = set(only) - set(SCENARIOS)
    assert not unknown, f"no such scenarios: {sorted(unknown)}"
    chosen = {name: SCENARIOS[name] for name in only} if only else SCENARIOS
    for name in chosen:  # recorded again: drop the scenario's older files
        for old in out.glob(f"{name}--*.json"):
            old.unlink()
    failed: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="houtai-record-") as tmp:
        os.chmod(tmp, 0o755)
        postgres = EmbeddedPostgres(Path(tmp) / "pg", free_port(), Path(tmp) / "pg.log")
        postgres.start()
        env = await dev_server()
        try:
            await _createdb(postgres, TEMPLATE)
            await asyncio.to_thread(
                upgrade_to_head, postgres.url.replace("/houtai", f"/{TEMPLATE}")
            )
            for name, (scenario, options) in chosen.items():
                await _sql(postgres, "postgres", f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE}')
                url = postgres.url.replace("/houtai", f"/{name}")
                try:
                    await _record(env.client, url, name, scenario, options, out)
                except Exception as exc:  # the others are still worth recording; reported below
                    failed[name] = f"{type(exc).__name__}: {exc}"
                    traceback.print_exc()
        finally:
            await env.shutdown()
            postgres.stop()
    assert not failed, f"scenarios not recorded: {failed}"


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
