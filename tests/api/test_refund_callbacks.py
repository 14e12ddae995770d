"""The payment provider's refund callbacks over the whole back office: a signed `refund.succeeded`
confirms our refund once however many copies arrive, books nothing more, and one that does not
match a refund of ours (unknown, or another amount) is one difference for finance, answered 200.
A forged one is refused and changes nothing."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import func, select

from core.security import sign
from models.db import MoneyEntry, ReconciliationDifference, Refund, RefundCallback
from tests.support.after_sale_api import delivered, open_after_sale, shown_as
from tests.support.order_api import (
    Json,
    order_body,
    pay,
    place_order,
    refunds,
    skus_in,
    staff,
    wait_released,
)
from tests.support.orders import SHOP, eventually, wait_cancelled
from tests.support.stack import PAY_SECRET, Stack

HOOK = "/v1/webhooks/payments/sandbox"


async def signed(api: httpx.AsyncClient, event: Json, secret: str = PAY_SECRET) -> httpx.Response:
    """POST the event as the provider does: raw JSON, timestamp and HMAC signature headers."""
    body = json.dumps(event, separators=(",", ":")).encode()
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Sandbox-Timestamp": stamp,
        "X-Sandbox-Signature": sign(secret.encode(), body, stamp),
    }
    return await api.post(HOOK, content=body, headers=headers)


def refund_event(refund_id: str, refund_no: str, order_no: str, amount_fen: int) -> Json:
    return {
        "event": "refund.succeeded",
        "refund_id": refund_id,
        "refund_no": refund_no,
        "payment_id": f"pay_{refund_id.lower()}",
        "merchant_order_no": order_no,
        "status": "succeeded",
        "amount_fen": amount_fen,
        "currency": "CNY",
        "reason": "",
        "occurred_at": datetime.now(UTC).isoformat(),
    }


async def callbacks(stack: Stack, refund_no: str) -> list[RefundCallback]:
    async with stack.sessions() as session:
        found = await session.scalars(
            select(RefundCallback).where(RefundCallback.refund_no == refund_no)
        )
        return list(found)


async def differences(stack: Stack) -> list[ReconciliationDifference]:
    async with stack.sessions() as session:
        found = await session.scalars(
            select(ReconciliationDifference).order_by(ReconciliationDifference.id)
        )
        return list(found)


async def ledger_rows(stack: Stack, ref_no: str) -> list[int]:
    async with stack.sessions() as session:
        found = await session.scalars(
            select(MoneyEntry.amount_fen).where(MoneyEntry.ref_no == ref_no)
        )
        return list(found)


async def delivered_copies(provider: httpx.AsyncClient, count: int) -> None:
    """Until the provider has delivered `count` refund callbacks (answered 2xx)."""

    async def done() -> bool:
        log: list[dict[str, Any]] = (await provider.get("/_sandbox/deliveries")).json()
        ok = [d for d in log if d["event"] == "refund.succeeded" and d["status_code"] == 200]
        return len(ok) >= count

    await eventually(done, f"{count} refund callbacks delivered")


async def test_four_copies_of_a_refund_callback_confirm_the_refund_once_and_book_nothing_more(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01", 1, only=True)
    order = await delivered(stack, api, carrier, [(sku, 3)])
    number = order["order_no"]
    as_no = await open_after_sale(api, number, "dup-1", "refund_only", [(1, 1)])
    faults = {"duplicate_webhooks": 3}  # every callback comes four times, at once
    assert (await provider.put("/_sandbox/faults", json=faults)).status_code == 200
    cs = await staff(api, "cs")
    decided = await api.post(
        f"/v1/after-sales/{as_no}/decision", headers=cs, json={"approve": True}
    )
    assert decided.status_code == 200, decided.text
    done = await shown_as(api, as_no, "refunded", cs)
    await delivered_copies(provider, 4)

    [refund] = [r for r in await refunds(stack, number) if r.refund_no == f"RF{as_no}"]
    [callback] = await callbacks(stack, refund.refund_no)
    assert (callback.provider_refund_id, callback.amount_fen) == (
        refund.provider_refund_id,
        done["refund_fen"],
    )
    assert (callback.outcome, callback.copies) == ("confirmed", 4)
    assert refund.confirmed_at is not None and refund.confirmed_at == callback.settled_at
    assert await ledger_rows(stack, refund.refund_no) == [-done["refund_fen"]]
    async with stack.sessions() as session:
        balance = await session.scalar(
            select(func.sum(MoneyEntry.amount_fen)).where(MoneyEntry.order_no == number)
        )
    assert balance == order["payable_fen"] - done["refund_fen"]
    assert await differences(stack) == []


async def test_a_forged_callback_changes_nothing_and_a_signed_unknown_one_is_one_difference(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    unknown = refund_event("RF20261204UNKNOWN0001", "RFAS-NOT-OURS", "SO-NOT-OURS", 1_234)

    forged = await signed(api, unknown, secret="not-the-provider")
    assert forged.status_code == 401, forged.text
    assert forged.headers["content-type"].startswith("application/problem+json")
    assert await callbacks(stack, "RFAS-NOT-OURS") == []
    assert await differences(stack) == []

    first, again = await signed(api, unknown), await signed(api, unknown)
    assert (first.status_code, first.json()["status"]) == (200, "difference")
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    [difference] = await differences(stack)
    assert (difference.kind, difference.entry_type, difference.reference) == (
        "missing_in_ledger",
        "refund",
        "RFAS-NOT-OURS",
    )
    assert (difference.provider_id, difference.provider_amount_fen) == (
        "RF20261204UNKNOWN0001",
        1_234,
    )
    assert (difference.ledger_amount_fen, difference.run_id, difference.resolved) == (
        None,
        None,
        False,
    )
    finance = await staff(api, "finance")
    listed = await api.get(
        "/v1/finance/reconciliation", params={"unresolved": True}, headers=finance
    )
    assert [d["reference"] for d in listed.json()["data"]] == ["RFAS-NOT-OURS"]
    [callback] = await callbacks(stack, "RFAS-NOT-OURS")
    assert (callback.outcome, callback.copies) == ("difference", 2)


async def test_a_callback_for_our_refund_with_another_amount_is_one_difference(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01", 1)
    number = (await place_order(api, order_body([{"sku_id": sku, "quantity": 2}])))["order_no"]
    await pay(api, provider, number)
    await wait_released(api, number)
    cancelled = await api.post(
        f"/v1/orders/{number}/cancel", json={"reason": "不要了"}, headers=SHOP
    )
    assert cancelled.status_code == 200, cancelled.text
    await wait_cancelled(api, number)
    [refund] = await refunds(stack, number)
    await delivered_copies(provider, 1)  # the provider's own callback confirms it

    async def confirmed() -> bool:
        return [c.outcome for c in await callbacks(stack, refund.refund_no)] == ["confirmed"]

    await eventually(confirmed, "the refund confirmed by its callback")
    other = refund_event("RF20261204OTHER00001", refund.refund_no, number, refund.amount_fen + 100)
    answer = await signed(api, other)
    assert (answer.status_code, answer.json()["status"]) == (200, "difference")

    [difference] = await differences(stack)
    assert (difference.kind, difference.reference, difference.order_no) == (
        "amount_mismatch",
        refund.refund_no,
        number,
    )
    assert (difference.provider_amount_fen, difference.ledger_amount_fen) == (
        refund.amount_fen + 100,
        refund.amount_fen,
    )
    assert await ledger_rows(stack, refund.refund_no) == [-refund.amount_fen]  # nothing booked
    async with stack.sessions() as session:
        still = await session.get(Refund, refund.refund_no)
    assert still is not None and still.amount_fen == refund.amount_fen
    assert still.confirmed_at is not None  # by the provider's own callback, not this one
