"""The payment provider's webhook over the whole back office: the signature and its timestamp are
checked before anything else, duplicates are taken once, and a payment the order cannot take (it
was cancelled, or the amount is wrong) is refunded in full — checked on the payments table, the
money ledger, refunds at the provider, and the order."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from temporalio.api.enums.v1 import EventType

from core.security import sign
from models.db import Payment, Refund
from tests.support.order_api import (
    Headers,
    Json,
    lines_of,
    money_entries,
    open_payment,
    order_body,
    place_order,
    refunds,
    skus_in,
    view,
    wait_released,
)
from tests.support.orders import SHOP, eventually
from tests.support.stack import PAY_SECRET, Stack, fast_timings

ADDRESS = {
    "name": "李四",
    "phone": "13900000000",
    "region_code": "310104",
    "detail": "徐汇区漕溪北路 200 号",
}
WEBHOOK = "/v1/webhooks/payments/sandbox"


# --- helpers ---------------------------------------------------------------------------------


async def placed_order(stack: Stack, api: httpx.AsyncClient, key: str = "cart-1") -> Json:
    """An order of two units of a SKU the Shanghai warehouse holds plenty of."""
    [sku] = await skus_in(stack, "SH01")
    body = order_body(lines_of((sku, 2)), key=key, customer_id=21, address=ADDRESS)
    return await place_order(api, body)


def payment_event(payment: Json, transaction_id: str, amount_fen: int | None = None) -> Json:
    """A payment.succeeded notification as the provider sends it."""
    return {
        "event": "payment.succeeded",
        "notify_id": uuid.uuid4().hex,
        "transaction_id": transaction_id,
        "payment_id": payment["payment_id"],
        "merchant_order_no": payment["order_no"],
        "amount_fen": payment["amount_fen"] if amount_fen is None else amount_fen,
        "currency": payment["currency"],
        "occurred_at": datetime.now(UTC).isoformat(),
    }


def signed(
    payload: Json, *, secret: str = PAY_SECRET, at: float | None = None
) -> tuple[bytes, Headers]:
    """The body and headers the provider sends: HMAC over `timestamp.body`."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    timestamp = str(int(time.time() if at is None else at))
    return body, {
        "Content-Type": "application/json",
        "X-Sandbox-Timestamp": timestamp,
        "X-Sandbox-Signature": sign(secret.encode(), body, timestamp),
    }


async def deliver(api: httpx.AsyncClient, body: bytes, headers: Headers) -> httpx.Response:
    return await api.post(WEBHOOK, content=body, headers=headers)


def refused(answer: httpx.Response) -> None:
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["type"] == "/problems/bad-signature"


async def signals(stack: Stack, order_no: str) -> int:
    """How many signals the order's workflow has received."""
    handle = stack.client.get_workflow_handle(f"order-{order_no}")
    count = 0
    async for event in handle.fetch_history_events():
        count += event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    return count


async def payments(stack: Stack, order_no: str) -> list[Payment]:
    async with stack.sessions() as session:
        return list(await session.scalars(select(Payment).where(Payment.order_no == order_no)))


async def unchanged(stack: Stack, api: httpx.AsyncClient, order_no: str) -> None:
    """The order still awaits payment and no money moved."""
    order = await view(api, order_no)
    assert (order["status"], order["paid_fen"], order["refunded_fen"]) == (
        "awaiting_payment",
        0,
        0,
    )
    assert await payments(stack, order_no) == []
    assert await money_entries(stack, order_no) == []
    assert await signals(stack, order_no) == 0


# --- signature and timestamp ----------------------------------------------------------------


async def test_a_forged_webhook_is_refused_and_changes_nothing(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    order = await placed_order(stack, api)
    number = order["order_no"]
    payment = await open_payment(api, number)
    event = payment_event(payment, "TX-FORGED-0001")

    body, headers = signed(event, secret="not-the-provider's-secret")
    refused(await deliver(api, body, headers))
    genuine_body, genuine = signed(event)
    tampered = genuine_body.replace(b'"amount_fen":', b'"amount_fen":1', 1)
    assert tampered != genuine_body
    refused(await deliver(api, tampered, genuine))
    refused(await deliver(api, genuine_body, {"Content-Type": "application/json"}))
    other_time = {**genuine, "X-Sandbox-Timestamp": str(int(genuine["X-Sandbox-Timestamp"]) - 30)}
    refused(await deliver(api, genuine_body, other_time))

    await unchanged(stack, api, number)
    # The genuine notification, to show the refusals were for the signature alone.
    answer = await deliver(api, genuine_body, genuine)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "accepted"}
    paid = await wait_released(api, number)
    assert paid["paid_fen"] == order["payable_fen"]


async def test_a_stale_webhook_is_refused(stack: Stack, api: httpx.AsyncClient) -> None:
    order = await placed_order(stack, api)
    number = order["order_no"]
    payment = await open_payment(api, number)
    event = payment_event(payment, "TX-STALE-0001")

    refused(await deliver(api, *signed(event, at=time.time() - 600)))
    refused(await deliver(api, *signed(event, at=time.time() + 600)))

    await unchanged(stack, api, number)
    answer = await deliver(api, *signed(event, at=time.time() - 60))  # a little late is fine
    assert answer.status_code == 200, answer.text
    await wait_released(api, number)


# --- duplicates ------------------------------------------------------------------------------


async def test_a_duplicated_webhook_is_taken_once(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    order = await placed_order(stack, api)
    number, payable = order["order_no"], order["payable_fen"]
    payment = await open_payment(api, number)
    body, headers = signed(payment_event(payment, "TX-DUP-0001"))

    first = await deliver(api, body, headers)
    second = await deliver(api, body, headers)
    together = await asyncio.gather(*(deliver(api, body, headers) for _ in range(2)))

    assert [a.status_code for a in [first, second, *together]] == [200] * 4

    async def every_copy_reached_the_order() -> bool:  # a signal taken mid-task is buffered
        return await signals(stack, number) == 4  # until that task completes: hence eventually

    await eventually(every_copy_reached_the_order, "four payment signals in the history")
    final = await wait_released(api, number)
    assert (final["paid_fen"], final["refunded_fen"]) == (payable, 0)
    [row] = await payments(stack, number)
    assert (row.transaction_id, row.amount_fen, row.accepted) == ("TX-DUP-0001", payable, True)
    assert await money_entries(stack, number) == [("payment", payable, "TX-DUP-0001")]
    assert await refunds(stack, number) == []
    assert [s for s in (e["step"] for e in final["timeline"]) if s.startswith("pa")] == [
        "payment_received",
        "paid",
    ]

    # The provider's own duplicates, for a second order: one payment all the same.
    faults = await provider.put("/_sandbox/faults", json={"duplicate_webhooks": 3})
    assert faults.status_code == 200, faults.text
    other = await placed_order(stack, api, key="cart-2")
    other_payment = await open_payment(api, other["order_no"])
    settled = await provider.post(
        f"/v1/payments/{other_payment['payment_id']}/simulate", json={"outcome": "succeeded"}
    )
    assert settled.status_code == 200, settled.text

    async def all_delivered() -> bool:
        sent = (await provider.get("/_sandbox/deliveries")).json()
        return [d["status_code"] for d in sent if d["event"] == "payment.succeeded"] == [200] * 4

    await eventually(all_delivered, "four copies of the webhook delivered")
    await wait_released(api, other["order_no"])
    [other_row] = await payments(stack, other["order_no"])
    assert other_row.transaction_id == settled.json()["payment"]["transaction_id"]
    assert [e[:2] for e in await money_entries(stack, other["order_no"])] == [
        ("payment", other["payable_fen"])
    ]
    # The order's status follows its process: paid, then fulfilling (not back to "paid").
    assert final["status"] == "fulfilling"


# --- payments the order cannot take ----------------------------------------------------------

LATE_PAYMENT_GRACE = {
    "timings": fast_timings().model_copy(update={"late_payment_grace": timedelta(seconds=60)})
}


@pytest.mark.parametrize("stack", [LATE_PAYMENT_GRACE], indirect=True, ids=["grace-60s"])
async def test_a_payment_after_cancellation_is_refunded_automatically(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    order = await placed_order(stack, api)
    number, payable = order["order_no"], order["payable_fen"]
    payment = await open_payment(api, number)
    cancelled = await api.post(f"/v1/orders/{number}/cancel", json={}, headers=SHOP)
    assert cancelled.status_code == 200, cancelled.text

    async def is_cancelled() -> bool:
        return bool((await view(api, number))["status"] == "cancelled")

    await eventually(is_cancelled, "the order cancelled")
    settled = await provider.post(
        f"/v1/payments/{payment['payment_id']}/simulate", json={"outcome": "succeeded"}
    )
    assert settled.status_code == 200, settled.text
    transaction = settled.json()["payment"]["transaction_id"]

    async def refunded() -> list[Refund]:
        return await refunds(stack, number)

    [refund] = await eventually(refunded, "the late payment refunded")
    assert (refund.amount_fen, refund.transaction_id) == (payable, transaction)
    [row] = await payments(stack, number)
    assert (row.amount_fen, row.accepted) == (payable, False)
    assert sorted(e[:2] for e in await money_entries(stack, number)) == [
        ("payment", payable),
        ("refund", -payable),
    ]
    at_provider = (await provider.get(f"/v1/payments/{payment['payment_id']}")).json()
    assert (at_provider["paid_fen"], at_provider["refunded_fen"]) == (payable, payable)

    async def settled_order() -> Json | None:
        order = await view(api, number)
        return order if order["refunded_fen"] == payable else None

    final = await eventually(settled_order, "the order's refund recorded")
    assert (final["status"], final["paid_fen"]) == ("cancelled", payable)
    assert "payment_not_accepted" in [e["step"] for e in final["timeline"]]


async def test_a_payment_of_the_wrong_amount_is_refunded_and_the_order_still_awaits_payment(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    order = await placed_order(stack, api)
    number, payable = order["order_no"], order["payable_fen"]
    payment = await open_payment(api, number)
    short = payable - 100

    settled = await provider.post(
        f"/v1/payments/{payment['payment_id']}/simulate",
        json={"outcome": "succeeded", "amount_fen": short},
    )

    assert settled.status_code == 200, settled.text

    async def refunded() -> list[Refund]:
        return await refunds(stack, number)

    [refund] = await eventually(refunded, "the short payment refunded")
    assert refund.amount_fen == short
    [row] = await payments(stack, number)
    assert (row.amount_fen, row.accepted) == (short, False)
    assert sorted(e[:2] for e in await money_entries(stack, number)) == [
        ("payment", short),
        ("refund", -short),
    ]
    at_provider = (await provider.get(f"/v1/payments/{payment['payment_id']}")).json()
    assert (at_provider["paid_fen"], at_provider["refunded_fen"]) == (short, short)

    async def settled_order() -> Json | None:
        order = await view(api, number)
        return order if order["refunded_fen"] == short else None

    still = await eventually(settled_order, "the order's refund recorded")
    assert (still["status"], still["paid_fen"]) == ("awaiting_payment", short)
    steps = [e["step"] for e in still["timeline"]]
    assert "payment_not_accepted" in steps and "paid" not in steps
    assert {p["status"] for p in still["packages"]} == {"pending"}  # nothing released
    # Cancelled now, the order owes nothing more: no second refund.
    cancelled = await api.post(f"/v1/orders/{number}/cancel", json={}, headers=SHOP)
    assert cancelled.status_code == 200, cancelled.text

    async def is_cancelled() -> bool:
        return bool((await view(api, number))["status"] == "cancelled")

    await eventually(is_cancelled, "the order cancelled")
    assert len(await refunds(stack, number)) == 1
    assert sum(e[1] for e in await money_entries(stack, number)) == 0
