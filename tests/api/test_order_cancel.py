"""Cancelling orders over the whole back office: before payment the stock is released; after
payment the order is refunded in full and its coupon returned — checked on stock, money and
timeline."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select

from models.db import CouponRedemption, Order, StockMovement
from tests.support.order_api import (
    add_coupon,
    figures,
    ledger,
    lines_of,
    order_body,
    pay,
    place_order,
    problem,
    refunds,
    reservations,
    skus_in,
    staff,
    steps,
    view,
    wait_released,
)
from tests.support.orders import SHOP, eventually, wait_cancelled, wait_status
from tests.support.stack import Stack

# --- cancelling ------------------------------------------------------------------------------


async def test_a_customer_cancel_before_payment_releases_the_stock(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    sku_a, sku_b = await skus_in(stack, "SH01", 2)
    before = await figures(stack)
    order = await place_order(api, order_body(lines_of((sku_a, 2), (sku_b, 1))))
    number = order["order_no"]

    # Writing the order's projection is slow this time (its row is held by another session).
    # A correct answer waits for it; the row is let go after 5 s at most.
    async with stack.sessions() as blocker:
        await blocker.execute(
            select(Order.order_no).where(Order.order_no == number).with_for_update()
        )
        cancel = asyncio.create_task(
            api.post(f"/v1/orders/{number}/cancel", json={"reason": "不想要了"}, headers=SHOP)
        )
        await asyncio.wait({cancel}, timeout=5)
        await blocker.rollback()
    answer = await cancel

    assert answer.status_code == 200, answer.text
    await wait_status(api, number, "cancelled")
    assert await figures(stack) == before  # every held unit back to sellable
    assert {r.status for r in await reservations(stack, number)} == {"released"}
    async with stack.sessions() as session:
        releases = await session.scalar(
            select(func.sum(StockMovement.reserved_delta)).where(
                StockMovement.ref_no == number, StockMovement.movement_type == "release"
            )
        )
        row = await session.get(Order, number)
    assert releases == -3
    assert row is not None and (row.status, row.cancel_reason) == ("cancelled", "不想要了")
    [event] = [e for e in (await view(api, number))["timeline"] if e["step"] == "cancelled"]
    assert (event["actor_kind"], event["detail"]["reason"]) == ("storefront", "不想要了")
    assert await ledger(stack, number) == []
    assert await refunds(stack, number) == []
    problem(await api.post(f"/v1/orders/{number}/cancel", json={}, headers=SHOP), 409)
    problem(await api.post(f"/v1/orders/{number}/payments", headers=SHOP), 409)
    # The answer to the cancel is the cancelled order, not the order as it was before.
    assert answer.json()["status"] == "cancelled"
    assert "cancelled" in steps(answer.json())


async def test_a_staff_cancel_after_payment_refunds_in_full_and_returns_the_coupon(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    sku_a, sku_b = await skus_in(stack, "SH01", 2)
    await add_coupon(stack, "ONCE10", 1000, per_customer_limit=1)
    before = await figures(stack)
    order = await place_order(
        api, order_body(lines_of((sku_a, 1), (sku_b, 2)), customer_id=88, coupon_code="ONCE10")
    )
    number, payable = order["order_no"], order["payable_fen"]
    assert order["discount_fen"] == 1000
    again = await api.post(
        "/v1/orders",
        json=order_body(lines_of((sku_a, 1)), key="cart-2", customer_id=88, coupon_code="ONCE10"),
        headers=SHOP,
    )
    [error] = problem(again, 422)["errors"]
    assert (error["type"], error["field"]) == ("CouponNotApplicableError", "coupon_code")
    payment = await pay(api, provider, number)
    await wait_released(api, number)
    cs = await staff(api, "cs")

    answer = await api.post(
        f"/v1/orders/{number}/cancel", json={"reason": "客户来电要求取消"}, headers=cs
    )

    assert answer.status_code == 200, answer.text
    final = await wait_cancelled(api, number)
    assert (final["paid_fen"], final["refunded_fen"]) == (payable, payable)
    [refund] = await refunds(stack, number)
    assert refund.amount_fen == payable
    assert "客户来电要求取消" in refund.reason
    at_provider = (await provider.get(f"/v1/payments/{payment['payment_id']}")).json()
    assert refund.transaction_id == at_provider["transaction_id"]
    assert (at_provider["paid_fen"], at_provider["refunded_fen"]) == (payable, payable)
    assert sorted(await ledger(stack, number)) == [("payment", payable), ("refund", -payable)]
    [event] = [e for e in final["timeline"] if e["step"] == "cancelled" and not e["package_no"]]
    assert (event["actor_kind"], event["actor_name"]) == ("user", "cs")
    assert await figures(stack) == before

    async def packages_cancelled() -> bool:
        packages = (await view(api, number))["packages"]
        return all(p["status"] == "cancelled" for p in packages)

    await eventually(packages_cancelled, "the packages to be called off")
    assert await figures(stack) == before  # released once, not once per package and order
    async with stack.sessions() as session:
        redemption = await session.scalar(
            select(CouponRedemption.status).where(CouponRedemption.order_no == number)
        )
    assert redemption == "returned"
    reused = await place_order(
        api,
        order_body(lines_of((sku_a, 1)), key="cart-3", customer_id=88, coupon_code="ONCE10"),
    )
    assert reused["discount_fen"] == 1000
    assert answer.json()["status"] == "cancelled"  # the answer is the cancelled order
