"""Risk review over the whole back office: an approved order proceeds to the warehouses once
paid, a rejected one is cancelled and refunded — checked on stock, money and timeline."""

from __future__ import annotations

import httpx
import pytest

from models.contracts.order import OrderPolicy
from models.db import Order
from tests.support.order_api import (
    figures,
    ledger,
    lines_of,
    order_body,
    pay,
    place_order,
    problem,
    refunds,
    skus_in,
    staff,
    steps,
    wait_released,
)
from tests.support.orders import SHOP, wait_cancelled, wait_status
from tests.support.stack import Stack

REVIEW_ALL = {"policy": OrderPolicy(risk_review_over_fen=1)}
review_every_order = pytest.mark.parametrize("stack", [REVIEW_ALL], indirect=True, ids=["review"])


# --- risk review -----------------------------------------------------------------------------


@review_every_order
async def test_an_approved_risk_review_lets_the_paid_order_proceed(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    order = await place_order(api, order_body(lines_of((sku, 1))))
    number = order["order_no"]
    assert order["under_review"] is True
    review = f"/v1/orders/{number}/risk-review"
    for who in (await staff(api, "cs"), SHOP, await staff(api, "warehouse_manager")):
        problem(await api.post(review, json={"approve": True}, headers=who), 403)

    await pay(api, provider, number)
    paid = await wait_status(api, number, "paid")
    assert paid["under_review"] is True
    assert "released_to_warehouses" not in steps(paid)
    assert {p["status"] for p in paid["packages"]} == {"pending"}
    ops = await staff(api, "ops")
    answer = await api.post(review, json={"approve": True, "reason": "老客户"}, headers=ops)

    assert answer.status_code == 200, answer.text
    final = await wait_released(api, number)
    event = next(e for e in final["timeline"] if e["step"] == "risk_approved")
    assert (event["actor_name"], event["detail"]["reason"]) == ("ops", "老客户")
    problem(await api.post(review, json={"approve": False, "reason": "再看看"}, headers=ops), 409)
    # The projection follows the process: approved, then released; and it is fulfilling now.
    assert steps(final).index("risk_approved") < steps(final).index("released_to_warehouses")
    assert final["status"] == "fulfilling"
    # Decided: the order is no longer under review, in the answer and in the order itself.
    assert answer.json()["under_review"] is False
    assert final["under_review"] is False


@review_every_order
async def test_a_rejected_risk_review_cancels_and_refunds(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    before = await figures(stack)
    order = await place_order(api, order_body(lines_of((sku, 2))))
    number, payable = order["order_no"], order["payable_fen"]
    await pay(api, provider, number)
    await wait_status(api, number, "paid")
    ops = await staff(api, "ops")
    review = f"/v1/orders/{number}/risk-review"
    problem(await api.post(review, json={"approve": False, "reason": " "}, headers=ops), 422)

    answer = await api.post(
        review, json={"approve": False, "reason": "同一地址多笔订单"}, headers=ops
    )

    assert answer.status_code == 200, answer.text
    final = await wait_cancelled(api, number)
    assert (final["paid_fen"], final["refunded_fen"]) == (payable, payable)
    assert "released_to_warehouses" not in steps(final)
    [refund] = await refunds(stack, number)
    assert refund.amount_fen == payable
    assert sorted(await ledger(stack, number)) == [("payment", payable), ("refund", -payable)]
    assert await figures(stack) == before
    async with stack.sessions() as session:
        row = await session.get(Order, number)
    assert row is not None and "同一地址多笔订单" in (row.cancel_reason or "")
