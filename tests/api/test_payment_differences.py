"""Payment callbacks for money we never asked for (issue 12, item 8; DESIGN §9): a signed
`payment.succeeded` whose transaction or amount the provider's books do not hold is a difference
for finance, never `paid_fen`, and nothing is refunded for it — checked on the order, the
payments table, the money ledger, the provider and finance's list of differences."""

from __future__ import annotations

import httpx

from tests.api.test_order_payments import deliver, payment_event, payments, placed_order, signed
from tests.support.invariants import unbalanced_orders
from tests.support.order_api import (
    Json,
    money_entries,
    open_payment,
    pay,
    refunds,
    staff,
    steps,
    view,
    wait_released,
)
from tests.support.orders import eventually
from tests.support.stack import Stack


async def differences_of(api: httpx.AsyncClient, headers: dict[str, str], order_no: str) -> Json:
    answer = await api.get("/v1/finance/reconciliation", headers=headers)
    assert answer.status_code == 200, answer.text
    return {d["reference"]: d for d in answer.json()["data"] if d["order_no"] == order_no}


async def test_a_callback_for_money_the_provider_does_not_hold_is_a_difference_not_paid_money(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    order = await placed_order(stack, api)
    number, payable = order["order_no"], order["payable_fen"]
    payment = await pay(api, provider, number)
    await wait_released(api, number)
    [genuine] = await payments(stack, number)
    finance = await staff(api, "finance")
    # Signed, for the paid payment, but a transaction and an amount the provider never had.
    stranger = payment_event(payment, "TX-NEVER-ASKED-0001", amount_fen=5290)
    body, headers = signed(stranger)

    answer = await deliver(api, body, headers)

    assert answer.status_code == 200, answer.text

    async def recorded() -> Json:
        return await differences_of(api, finance, number)

    found = await eventually(recorded, "the difference recorded for finance")
    difference = found["TX-NEVER-ASKED-0001"]
    assert (difference["kind"], difference["entry_type"]) == ("missing_at_provider", "payment")
    assert (difference["provider_amount_fen"], difference["resolved"]) == (5290, False)
    assert (await deliver(api, body, headers)).status_code == 200  # the provider's retry
    final = await view(api, number)
    assert (final["paid_fen"], final["refunded_fen"], final["refund_pending_fen"]) == (
        payable,
        0,
        0,
    )
    assert final["status"] == "fulfilling"  # the order goes on as it was
    assert "payment_difference" in steps(final)
    assert [p.transaction_id for p in await payments(stack, number)] == [genuine.transaction_id]
    assert await money_entries(stack, number) == [("payment", payable, genuine.transaction_id)]
    assert await refunds(stack, number) == []
    at_provider = (await provider.get(f"/v1/payments/{payment['payment_id']}")).json()
    assert (at_provider["paid_fen"], at_provider["refunded_fen"]) == (payable, 0)
    assert list(await differences_of(api, finance, number)) == ["TX-NEVER-ASKED-0001"]
    async with stack.sessions() as session:
        assert await unbalanced_orders(session) == []


async def test_a_callback_of_another_amount_for_an_unpaid_order_credits_nothing(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    order = await placed_order(stack, api)
    number = order["order_no"]
    payment = await open_payment(api, number)  # asked for, not paid at the provider
    finance = await staff(api, "finance")

    answer = await deliver(api, *signed(payment_event(payment, "TX-NOT-PAID-0001", 1)))

    assert answer.status_code == 200, answer.text
    found = await eventually(
        lambda: differences_of(api, finance, number), "the difference recorded for finance"
    )
    assert found["TX-NOT-PAID-0001"]["kind"] == "missing_at_provider"
    still = await view(api, number)
    assert (still["status"], still["paid_fen"], still["refunded_fen"]) == (
        "awaiting_payment",
        0,
        0,
    )
    assert await payments(stack, number) == []
    assert await money_entries(stack, number) == []
    assert await refunds(stack, number) == []
    # The real payment after it is taken as usual.
    paid = await provider.post(
        f"/v1/payments/{payment['payment_id']}/simulate", json={"outcome": "succeeded"}
    )
    assert paid.status_code == 200, paid.text
    released = await wait_released(api, number)
    assert (released["paid_fen"], released["refunded_fen"]) == (order["payable_fen"], 0)
