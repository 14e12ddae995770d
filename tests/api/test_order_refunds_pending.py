"""Refunds an order owes, over the whole back office (issue 12, items 6 and 8): a cancel of a paid
order answers at once, its refund pending while the provider fails, made once when it recovers;
a refund the provider refuses stays visible as refused until staff retry it — checked on the
order as the API shows it, refunds at the provider, and the money ledger."""

from __future__ import annotations

import asyncio

import httpx

from tests.support.invariants import unbalanced_orders
from tests.support.order_api import (
    Json,
    figures,
    lines_of,
    order_body,
    pay,
    place_order,
    problem,
    refunds,
    skus_in,
    staff,
    steps,
    view,
    wait_released,
)
from tests.support.orders import SHOP, eventually
from tests.support.stack import Stack

# The cancel must answer well within this, whatever the provider does (a client's timeout).
PROMPT_S = 10


async def paid_and_released(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> tuple[Json, Json]:
    [sku] = await skus_in(stack, "SH01")
    order = await place_order(api, order_body(lines_of((sku, 2)), customer_id=41))
    payment = await pay(api, provider, order["order_no"])
    await wait_released(api, order["order_no"])
    return order, payment


async def refunded_in_full(api: httpx.AsyncClient, number: str, payable: int) -> Json:
    async def done() -> Json | None:
        found = await view(api, number)
        return found if found["refunded_fen"] == payable else None

    found: Json = await eventually(done, f"order {number} refunded in full")
    return found


async def refused_orders(api: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    answer = await api.get("/v1/orders", params={"refund_refused": "true"}, headers=headers)
    assert answer.status_code == 200, answer.text
    return [order["order_no"] for order in answer.json()["data"]]


async def test_a_cancel_answers_at_once_while_the_provider_fails_and_refunds_once_it_recovers(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    before = await figures(stack)
    order, payment = await paid_and_released(stack, api, provider)
    number, payable = order["order_no"], order["payable_fen"]
    failing = await provider.put("/_sandbox/faults", json={"error_rate": 1.0})
    assert failing.status_code == 200, failing.text

    answer = await asyncio.wait_for(
        api.post(f"/v1/orders/{number}/cancel", json={"reason": "买错了"}, headers=SHOP),
        timeout=PROMPT_S,
    )

    assert answer.status_code == 200, answer.text
    cancelled = answer.json()
    assert (cancelled["status"], cancelled["paid_fen"], cancelled["refunded_fen"]) == (
        "cancelled",
        payable,
        0,
    )
    assert cancelled["refund_pending_fen"] == payable
    [owed] = cancelled["pending_refunds"]
    assert (owed["status"], owed["amount_fen"]) == ("pending", payable)
    assert "买错了" in owed["reason"]
    assert await figures(stack) == before  # stock released before the answer
    again = await view(api, number)  # read-your-writes: the next read shows the same
    assert (again["status"], again["refund_pending_fen"]) == ("cancelled", payable)
    assert again["pending_refunds"] == cancelled["pending_refunds"]
    assert await refunds(stack, number) == []

    await asyncio.sleep(2)  # the provider keeps failing a while: the refund is retried meanwhile
    assert (await view(api, number))["refund_pending_fen"] == payable
    recovered = await provider.put("/_sandbox/faults", json={})
    assert recovered.status_code == 200, recovered.text

    final = await refunded_in_full(api, number, payable)
    assert (final["status"], final["refund_pending_fen"], final["pending_refunds"]) == (
        "cancelled",
        0,
        [],
    )
    [refund] = await refunds(stack, number)
    assert refund.amount_fen == payable
    at_provider = (await provider.get(f"/v1/payments/{payment['payment_id']}")).json()
    assert (at_provider["paid_fen"], at_provider["refunded_fen"]) == (payable, payable)
    async with stack.sessions() as session:
        assert await unbalanced_orders(session) == []
    order_steps = [e["step"] for e in final["timeline"] if not e["package_no"]]
    assert order_steps.count("cancelled") == 1 and order_steps.count("refunded") == 1
    assert order_steps.index("cancelled") < order_steps.index("refunded")


async def test_a_refund_the_provider_refuses_stays_visible_until_staff_retry_it(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    order, payment = await paid_and_released(stack, api, provider)
    number, payable = order["order_no"], order["payable_fen"]
    finance = await staff(api, "finance")
    problem(await api.post(f"/v1/orders/{number}/retry-refund", json={}, headers=finance), 409)
    assert await refused_orders(api, finance) == []
    refusing = await provider.put(
        "/_sandbox/refund-refusals", json={"count": 2, "reason": "商户余额不足"}
    )
    assert refusing.status_code == 200, refusing.text

    answer = await api.post(f"/v1/orders/{number}/cancel", json={}, headers=SHOP)
    assert answer.status_code == 200, answer.text

    async def refused() -> Json | None:
        found = await view(api, number)
        owed = found["pending_refunds"]
        return found if owed and owed[0]["status"] == "refused" else None

    shown = await eventually(refused, "the refused refund shown on the order")
    [owed] = shown["pending_refunds"]
    assert (owed["amount_fen"], shown["refund_pending_fen"]) == (payable, payable)
    assert "商户余额不足" in owed["refused_reason"]
    assert (shown["status"], shown["refunded_fen"]) == ("cancelled", 0)
    assert "refund_refused" in steps(shown)
    assert await refused_orders(api, finance) == [number]  # finance finds it without its number
    problem(await api.post(f"/v1/orders/{number}/retry-refund", json={}, headers=SHOP), 403)

    # Retried while the provider still refuses: refused again, and still retryable.
    retried = await api.post(
        f"/v1/orders/{number}/retry-refund", json={"reason": "再试一次"}, headers=finance
    )
    assert retried.status_code == 200, retried.text

    async def refused_twice() -> Json | None:
        found = await view(api, number)
        return (
            found
            if steps(found).count("refund_refused") == 2
            and found["pending_refunds"][0]["status"] == "refused"
            else None
        )

    await eventually(refused_twice, "the retried refund refused again")
    assert await refunds(stack, number) == []
    retried = await api.post(
        f"/v1/orders/{number}/retry-refund", json={"reason": "余额已补"}, headers=finance
    )
    assert retried.status_code == 200, retried.text

    final = await refunded_in_full(api, number, payable)
    assert (final["pending_refunds"], final["refund_pending_fen"]) == ([], 0)
    [refund] = await refunds(stack, number)
    assert refund.amount_fen == payable
    at_provider = (await provider.get(f"/v1/payments/{payment['payment_id']}")).json()
    assert at_provider["refunded_fen"] == payable
    [retry] = [e for e in final["timeline"] if e["detail"].get("reason") == "余额已补"]
    assert (retry["step"], retry["actor_name"]) == ("refund_retried", "finance")
    async with stack.sessions() as session:
        assert await unbalanced_orders(session) == []
    problem(await api.post(f"/v1/orders/{number}/retry-refund", json={}, headers=finance), 409)
    assert await refused_orders(api, finance) == []
