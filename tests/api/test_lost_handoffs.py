"""Hand-offs that used to be lost (DESIGN §6: nothing may be lost), over the whole back office.

- A payment whose webhook never got through (the provider retries for a while, then gives up;
  the chaos bench's API was down longer than that) left its order awaiting payment until its
  deadline cancelled it, with the money at the provider. The worker's hand-off sweep
  (workers/handoffs.py) reads the provider's statement and delivers it as the webhook would:
  the order is paid once, or, its process ended, the payment is refunded by its own process.
- A flash claim committed by the gate whose order never started (the start failed where
  Temporal could not say whether the workflow exists, or the request was cut off) held a unit
  nobody could buy or pay for. The request gives it back even when cancelled, and the sweep
  gives back what the request could not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from activities.providers import SandboxPaymentProvider
from models.db import FlashClaim
from tests.api.test_late_payments import ended_order, refunded_order, settle_at_provider
from tests.api.test_order_payments import payments, placed_order
from tests.support.flash_sales import buy, create_flash_sale, flash_sale, wait_flash_status
from tests.support.invariants import unbalanced_orders
from tests.support.order_api import (
    Json,
    money_entries,
    open_payment,
    reservations,
    skus_in,
    staff,
    steps,
    view,
    warehouse_id,
)
from tests.support.orders import eventually
from tests.support.stack import Stack
from workers.handoffs import redeliver_payments, release_orphan_claims

NOW = timedelta(0)  # a sweep that takes what it finds at once (the worker's waits a minute)


@pytest_asyncio.fixture
async def sandbox(stack: Stack) -> AsyncIterator[SandboxPaymentProvider]:
    provider = SandboxPaymentProvider(stack.payments)
    yield provider
    await provider.aclose()


async def webhooks_never_arrive(provider: httpx.AsyncClient) -> None:
    """The provider's webhooks wait an hour before their first attempt: as lost as the ones it
    gave up on while the API was away."""
    answer = await provider.put("/_sandbox/faults", json={"webhook_delay_ms": 3_600_000})
    assert answer.status_code == 200, answer.text


async def sweep(stack: Stack, sandbox: SandboxPaymentProvider) -> list[str]:
    """One pass over the statement lines of the last two days and the next twelve hours (so a
    phantom line, planted at noon of today, is among them)."""
    return await redeliver_payments(
        stack.client,
        stack.task_queue,
        stack.sessions,
        sandbox,
        grace=NOW,
        lookback=timedelta(days=2),
        now=lambda: datetime.now(UTC) + timedelta(hours=12),
    )


async def test_a_payment_whose_webhook_never_came_is_delivered_to_its_order_once(
    stack: Stack,
    api: httpx.AsyncClient,
    provider: httpx.AsyncClient,
    sandbox: SandboxPaymentProvider,
) -> None:
    order = await placed_order(stack, api, key="lost-webhook")
    number, payable = order["order_no"], order["payable_fen"]
    other = await placed_order(stack, api, key="lost-webhook-unpaid")  # nothing to deliver
    phantom = await provider.post(  # a statement line the provider's books do not hold
        "/_sandbox/statement-mismatch",
        json={"kind": "phantom", "amount_fen": other["payable_fen"],
              "merchant_order_no": other["order_no"]},
    )  # fmt: skip
    assert phantom.status_code == 201, phantom.text
    payment = await open_payment(api, number)
    await webhooks_never_arrive(provider)
    transaction = await settle_at_provider(provider, payment)
    await asyncio.sleep(1)
    assert (await view(api, number))["status"] == "awaiting_payment"  # the webhook is lost
    assert await payments(stack, number) == []

    assert await sweep(stack, sandbox) == [transaction]

    async def paid() -> Json | None:
        found = await view(api, number)
        return found if found["status"] != "awaiting_payment" and found["paid_fen"] else None

    shown = await eventually(paid, f"{number} paid by the sweep")
    assert shown["status"] in ("paid", "fulfilling")
    assert (shown["paid_fen"], shown["refunded_fen"]) == (payable, 0)
    assert "payment_received" in steps(shown)
    [row] = await payments(stack, number)
    assert (row.transaction_id, row.amount_fen, row.accepted) == (transaction, payable, True)
    assert await money_entries(stack, number) == [("payment", payable, transaction)]
    # The next passes find it booked: nothing delivered twice; the unpaid order is left alone
    # (the phantom line is not the provider's payment: no difference, no step for finance).
    assert await sweep(stack, sandbox) == []
    unpaid = await view(api, other["order_no"])
    assert (unpaid["status"], unpaid["paid_fen"]) == ("awaiting_payment", 0)
    assert "payment_difference" not in steps(unpaid)
    assert len(await payments(stack, number)) == 1
    async with stack.sessions() as session:
        assert await unbalanced_orders(session) == []


async def test_a_lost_payment_of_an_order_that_has_ended_is_refunded_by_its_own_process(
    stack: Stack,
    api: httpx.AsyncClient,
    provider: httpx.AsyncClient,
    sandbox: SandboxPaymentProvider,
) -> None:
    order, payment = await ended_order(stack, api)
    number, payable = order["order_no"], order["payable_fen"]
    await webhooks_never_arrive(provider)
    transaction = await settle_at_provider(provider, payment)

    assert await sweep(stack, sandbox) == [transaction]

    final = await refunded_order(api, number, payable)
    assert (final["status"], final["paid_fen"], final["refunded_fen"]) == (
        "cancelled",
        payable,
        payable,
    )
    assert sorted(await money_entries(stack, number)) == [
        ("payment", payable, transaction),
        ("refund", -payable, f"RF-{transaction}"),
    ]
    assert await sweep(stack, sandbox) == []  # booked (not accepted): never refunded twice
    at_provider = (await provider.get(f"/v1/payments/{payment['payment_id']}")).json()
    assert (at_provider["paid_fen"], at_provider["refunded_fen"]) == (payable, payable)


# --- flash claims -----------------------------------------------------------------------------


async def one_unit_sale(stack: Stack, api: httpx.AsyncClient) -> tuple[Json, int, dict[str, str]]:
    ops = await staff(api, "ops")
    [sku] = await skus_in(stack, "SH01")
    sh01 = await warehouse_id(stack, "SH01")
    sale = await create_flash_sale(
        api, ops, sku_id=sku, warehouse_id=sh01, price_fen=1, quantity=1, limit=1
    )
    await wait_flash_status(api, sale["id"], "open", ops)
    return sale, sku, ops


async def claim_of(stack: Stack, sale_id: int, customer_id: int) -> FlashClaim:
    async with stack.sessions() as session:
        claim = await session.scalar(
            select(FlashClaim).where(
                FlashClaim.flash_sale_id == sale_id, FlashClaim.customer_id == customer_id
            )
        )
    assert claim is not None
    return claim


async def test_a_claim_whose_start_failed_unknown_to_temporal_goes_back_by_the_sweep(
    stack: Stack, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The start fails and Temporal cannot then say whether the order's workflow exists (a
    loaded server times the question out): the request leaves the claim, the sweep gives the
    unit back to the campaign, and the buyer's retry never gets it a second time."""
    sale, sku, ops = await one_unit_sale(stack, api)

    async def unavailable(*_args: object, **_kwargs: object) -> None:
        raise RPCError("Temporal is unavailable", RPCStatusCode.UNAVAILABLE, b"")

    async def timed_out(*_args: object, **_kwargs: object) -> None:
        raise RPCError("deadline exceeded", RPCStatusCode.DEADLINE_EXCEEDED, b"")

    monkeypatch.setattr(stack.client, "execute_update_with_start_workflow", unavailable)
    monkeypatch.setattr(WorkflowHandle, "describe", timed_out)
    failed = await buy(api, sale["id"], sku, customer_id=1401, key="flash-1401")
    monkeypatch.undo()
    assert failed.status_code == 503, failed.text
    claim = await claim_of(stack, sale["id"], 1401)
    assert claim.status == "claimed"  # nobody could tell: held, with no order
    assert (await flash_sale(api, sale["id"], ops))["remaining"] == 0

    assert await release_orphan_claims(stack.client, stack.sessions, grace=NOW) == [claim.order_no]

    claim = await claim_of(stack, sale["id"], 1401)
    assert (claim.status, claim.returned_to) == ("released", "campaign")
    shown = await flash_sale(api, sale["id"], ops)
    assert (shown["sold"], shown["remaining"], shown["held"]) == (0, 1, 1)
    second = await buy(api, sale["id"], sku, customer_id=1402, key="flash-1402")
    assert second.status_code == 201, second.text  # the unit was the campaign's again
    retried = await buy(api, sale["id"], sku, customer_id=1401, key="flash-1401")
    assert retried.status_code != 201, retried.text  # its claim went back: never sold twice
    assert (await reservations(stack, second.json()["order_no"]))[0].quantity == 1
    # The running order's claim (reserved) and the released one: nothing more to give back.
    assert await release_orphan_claims(stack.client, stack.sessions, grace=NOW) == []
    shown = await flash_sale(api, sale["id"], ops)
    assert (shown["sold"], shown["remaining"]) == (1, 0)


async def test_a_request_cut_off_before_its_order_started_gives_its_claim_back(
    stack: Stack, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request task is cancelled (the client went away, the server is stopping) after the
    claim's commit and before the order's workflow started: the claim goes back at once."""
    sale, sku, ops = await one_unit_sale(stack, api)

    async def cancelled(*_args: Any, **_kwargs: Any) -> None:
        raise asyncio.CancelledError

    monkeypatch.setattr(stack.client, "execute_update_with_start_workflow", cancelled)
    cut_off = await buy(api, sale["id"], sku, customer_id=1501, key="flash-1501")
    monkeypatch.undo()
    assert cut_off.status_code >= 500, cut_off.text

    async def given_back() -> FlashClaim | None:
        claim = await claim_of(stack, sale["id"], 1501)
        return claim if claim.status == "released" else None

    claim = await eventually(given_back, "the cut-off request's claim given back")
    assert claim.returned_to == "campaign"
    shown = await flash_sale(api, sale["id"], ops)
    assert (shown["sold"], shown["remaining"]) == (0, 1)
    second = await buy(api, sale["id"], sku, customer_id=1502, key="flash-1502")
    assert second.status_code == 201, second.text
