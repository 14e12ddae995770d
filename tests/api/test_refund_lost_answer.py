"""A refund whose answer is lost (DESIGN §6.3, §10 "no side effect doubled"): the provider
refunds, then stalls past our client's timeout, so the refund activity fails and retries. The
retry must find the same refund at the provider (its refund number is the key), not make a
second one: the provider's own books and statement show one refund, our ledger one row, and the
callback that came before we knew of the refund confirms it once it is recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from models.db import MoneyEntry, Payment, ReconciliationDifference, RefundCallback
from tests.support.after_sale_api import delivered, open_after_sale, shown_as
from tests.support.order_api import Json, refunds, skus_in, staff
from tests.support.orders import eventually
from tests.support.stack import Stack

TIMEOUT_S = 1.0  # the worker's patience with the provider; the provider stalls 3 s
LOST_ANSWERS = {"timeout_rate": 1.0, "stall_ms": 3_000}


async def statement_refunds(provider: httpx.AsyncClient, refund_no: str) -> list[Json]:
    """The provider's statement entries for our refund number (today's, and yesterday's UTC)."""
    today = datetime.now(UTC).date()
    found = []
    for day in (today - timedelta(days=1), today):
        answer = await provider.get(f"/v1/statements/{day.isoformat()}")
        assert answer.status_code == 200, answer.text
        found += [e for e in answer.json()["entries"] if e["refund_no"] == refund_no]
    return found


@pytest.mark.parametrize(
    "stack", [{"provider_timeout_s": TIMEOUT_S}], indirect=True, ids=["timeout-1s"]
)
async def test_a_refund_whose_answer_is_lost_is_retried_into_the_same_single_refund(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01", 1, only=True)
    order = await delivered(stack, api, carrier, [(sku, 3)])
    number = order["order_no"]
    as_no = await open_after_sale(api, number, "lost-1", "refund_only", [(1, 1)])
    refund_no = f"RF{as_no}"
    async with stack.sessions() as session:
        payment_id = await session.scalar(
            select(Payment.payment_id).where(Payment.order_no == number)
        )
    assert (await provider.put("/_sandbox/faults", json=LOST_ANSWERS)).status_code == 200
    cs = await staff(api, "cs")
    decided = await api.post(
        f"/v1/after-sales/{as_no}/decision", headers=cs, json={"approve": True}
    )
    assert decided.status_code == 200, decided.text
    handle = stack.client.get_workflow_handle(f"aftersale-{as_no}")

    async def timed_out() -> bool:
        pending = (await handle.describe()).raw_description.pending_activities
        return any(
            a.activity_type.name == "refund_payment" and a.HasField("last_failure") for a in pending
        )

    await eventually(timed_out, "the refund's answer to be lost", seconds=60)
    # The provider has refunded; we do not know it yet, but its callback is in (pending).
    at_provider = (await provider.get(f"/v1/payments/{payment_id}")).json()
    expected = order["lines"][0]["paid_fen"] // 3
    assert at_provider["refunded_fen"] == expected
    assert [r for r in await refunds(stack, number) if r.refund_no == refund_no] == []

    async def callback_pending() -> bool:
        async with stack.sessions() as session:
            outcome = await session.scalar(
                select(RefundCallback.outcome).where(RefundCallback.refund_no == refund_no)
            )
        return outcome == "pending"

    await eventually(callback_pending, "the provider's callback held until we know the refund")
    assert (await provider.put("/_sandbox/faults", json={})).status_code == 200

    done = await shown_as(api, as_no, "refunded", cs)
    assert done["refund_fen"] == expected
    history = await handle.fetch_history()
    attempts = [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.HasField("activity_task_started_event_attributes")
    ]
    assert max(attempts) >= 2  # the refund activity really was retried
    at_provider = (await provider.get(f"/v1/payments/{payment_id}")).json()
    assert at_provider["refunded_fen"] == expected  # not twice
    [entry] = await statement_refunds(provider, refund_no)
    assert entry["amount_fen"] == expected
    [refund] = [r for r in await refunds(stack, number) if r.refund_no == refund_no]
    assert (refund.amount_fen, refund.provider_refund_id) == (expected, entry["refund_id"])
    assert refund.confirmed_at is not None  # the early callback, settled once it was recorded
    async with stack.sessions() as session:
        rows = list(
            await session.scalars(
                select(MoneyEntry.amount_fen).where(MoneyEntry.ref_no == refund_no)
            )
        )
        found = list(await session.scalars(select(ReconciliationDifference)))
    assert rows == [-expected]
    assert found == []  # the callback that came first was no difference
