"""A payment that comes after its order's process has ended (issue 12, item 9): refunded by a
process of its own (LatePaymentRefundWorkflow, one per provider transaction), booked in the
money ledger, shown on the order, idempotent at the provider — and, refused by the provider,
shown refused until finance retry it."""

from __future__ import annotations

import asyncio

import httpx
from temporalio.client import WorkflowExecutionStatus

from tests.api.test_order_payments import deliver, payment_event, payments, placed_order, signed
from tests.support.invariants import unbalanced_orders
from tests.support.order_api import (
    Json,
    money_entries,
    open_payment,
    problem,
    refunds,
    staff,
    steps,
    view,
)
from tests.support.orders import SHOP, eventually
from tests.support.stack import Stack
from workflows.late_payment import late_payment_id


async def ended_order(stack: Stack, api: httpx.AsyncClient) -> tuple[Json, Json]:
    """An order cancelled before payment whose process has ended (grace period over)."""
    order = await placed_order(stack, api)
    number = order["order_no"]
    payment = await open_payment(api, number)
    cancelled = await api.post(f"/v1/orders/{number}/cancel", json={}, headers=SHOP)
    assert cancelled.status_code == 200, cancelled.text
    handle = stack.client.get_workflow_handle(f"order-{number}")

    async def ended() -> bool:
        return (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED

    await eventually(ended, f"order {number}'s process to end")
    return order, payment


async def settle_at_provider(provider: httpx.AsyncClient, payment: Json) -> str:
    paid = await provider.post(
        f"/v1/payments/{payment['payment_id']}/simulate", json={"outcome": "succeeded"}
    )
    assert paid.status_code == 200, paid.text
    transaction: str = paid.json()["payment"]["transaction_id"]
    return transaction


async def refunded_order(api: httpx.AsyncClient, number: str, payable: int) -> Json:
    async def done() -> Json | None:
        found = await view(api, number)
        return found if found["refunded_fen"] == payable and not found["pending_refunds"] else None

    found: Json = await eventually(done, f"the late payment of {number} refunded")
    return found


async def test_a_payment_after_the_order_ended_is_refunded_by_a_process_of_its_own(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    order, payment = await ended_order(stack, api)
    number, payable = order["order_no"], order["payable_fen"]

    transaction = await settle_at_provider(provider, payment)

    final = await refunded_order(api, number, payable)
    assert (final["status"], final["paid_fen"]) == ("cancelled", payable)
    assert {"payment_not_accepted", "late_payment_refund", "refunded"} <= set(steps(final))
    [refund] = await refunds(stack, number)
    assert (refund.refund_no, refund.amount_fen, refund.transaction_id) == (
        f"RF-{transaction}",
        payable,
        transaction,
    )
    [row] = await payments(stack, number)
    assert (row.transaction_id, row.amount_fen, row.accepted) == (transaction, payable, False)
    assert sorted(await money_entries(stack, number)) == [
        ("payment", payable, transaction),
        ("refund", -payable, f"RF-{transaction}"),
    ]
    at_provider = (await provider.get(f"/v1/payments/{payment['payment_id']}")).json()
    assert (at_provider["paid_fen"], at_provider["refunded_fen"]) == (payable, payable)
    # The late payment's process ends once the refund it wrote is shown (a moment later).
    late = stack.client.get_workflow_handle(late_payment_id(transaction))
    assert (await asyncio.wait_for(late.result(), 30))["status"] == "refunded"
    assert (await late.describe()).status == WorkflowExecutionStatus.COMPLETED

    # The provider's retry of the same callback: answered, and nothing starts or moves again.
    again = await deliver(api, *signed(payment_event(payment, transaction)))
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    assert len(await refunds(stack, number)) == 1
    assert len(await money_entries(stack, number)) == 2
    runs = [run async for run in stack.client.list_workflows(f"WorkflowId = '{late.id}'")]
    assert len(runs) <= 1  # visibility may trail; never a second run
    async with stack.sessions() as session:
        assert await unbalanced_orders(session) == []


async def test_a_late_copy_of_the_callback_of_a_payment_the_order_took_refunds_nothing_more(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    order = await placed_order(stack, api)
    number, payable = order["order_no"], order["payable_fen"]
    payment = await open_payment(api, number)
    transaction = await settle_at_provider(provider, payment)
    await eventually(lambda: payments(stack, number), "the payment taken")
    cancelled = await api.post(f"/v1/orders/{number}/cancel", json={}, headers=SHOP)
    assert cancelled.status_code == 200, cancelled.text
    handle = stack.client.get_workflow_handle(f"order-{number}")
    await handle.result()  # refunded in full, its grace period over, ended
    assert len(await refunds(stack, number)) == 1

    copy = await deliver(api, *signed(payment_event(payment, transaction)))

    assert (copy.status_code, copy.json()) == (200, {"status": "duplicate"})
    final = await view(api, number)
    assert (final["paid_fen"], final["refunded_fen"], final["pending_refunds"]) == (
        payable,
        payable,
        [],
    )
    assert len(await refunds(stack, number)) == 1
    at_provider = (await provider.get(f"/v1/payments/{payment['payment_id']}")).json()
    assert (at_provider["paid_fen"], at_provider["refunded_fen"]) == (payable, payable)
    async with stack.sessions() as session:
        assert await unbalanced_orders(session) == []


async def test_a_late_payment_refund_the_provider_refuses_waits_for_finance_to_retry_it(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    order, payment = await ended_order(stack, api)
    number, payable = order["order_no"], order["payable_fen"]
    finance = await staff(api, "finance")
    refusing = await provider.put("/_sandbox/refund-refusals", json={"count": 1})
    assert refusing.status_code == 200, refusing.text

    transaction = await settle_at_provider(provider, payment)

    async def refused() -> Json | None:
        found = await view(api, number)
        owed = found["pending_refunds"]
        return found if owed and owed[0]["status"] == "refused" else None

    shown = await eventually(refused, "the refused late refund shown on the order")
    [owed] = shown["pending_refunds"]
    assert (owed["refund_no"], owed["amount_fen"]) == (f"RF-{transaction}", payable)
    assert (shown["paid_fen"], shown["refunded_fen"], shown["refund_pending_fen"]) == (
        payable,
        0,
        payable,
    )
    assert await refunds(stack, number) == []

    retried = await api.post(
        f"/v1/orders/{number}/retry-refund", json={"reason": "余额已补"}, headers=finance
    )

    assert retried.status_code == 200, retried.text
    final = await refunded_order(api, number, payable)
    assert "refund_retried" in steps(final)
    [refund] = await refunds(stack, number)
    assert refund.amount_fen == payable
    at_provider = (await provider.get(f"/v1/payments/{payment['payment_id']}")).json()
    assert at_provider["refunded_fen"] == payable
    async with stack.sessions() as session:
        assert await unbalanced_orders(session) == []
    problem(await api.post(f"/v1/orders/{number}/retry-refund", json={}, headers=finance), 409)
