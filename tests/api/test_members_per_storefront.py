"""Points, levels and issued coupons belong to the customer record (issue 16, DESIGN §6.7), over
HTTP on the whole back office:

- two storefronts naming their customers by the same key are two customers: one earns on a
  completed order and spends, the other has nothing of it, gets its own points and spends them;
- a storefront reads its own customers' points by its own key, never another storefront's;
- a coupon issued to a segment is used only by the customers it was issued to, once per issued
  coupon, given back when the order is cancelled or refunded whole; a public coupon works for
  anyone."""

from __future__ import annotations

import itertools
import os
from datetime import UTC, datetime

import httpx
from sqlalchemy import select

from models.db import CouponBatch, CouponRedemption, CustomerCoupon, PointsEntry, Segment
from models.domain.points import earned
from tests.api.test_loyalty import delivered_order, ledgers_balance
from tests.support.after_sale_api import open_after_sale, shown_as
from tests.support.members import a_coupon, another_storefront, batch_done, past_order
from tests.support.order_api import Json, order_body, place_order, problem, skus_in, staff
from tests.support.orders import SHOP, eventually, known_customer, wait_cancelled
from tests.support.stack import Stack

_keys = itertools.count(7_500_000_000 + os.getpid() * 1_000)


async def points(api: httpx.AsyncClient, customer: int, headers: dict[str, str]) -> httpx.Response:
    return await api.get(f"/v1/customers/{customer}/points", headers=headers)


async def balance(api: httpx.AsyncClient, customer: int, headers: dict[str, str]) -> int:
    answer = await points(api, customer, headers)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["balance"])


async def test_two_storefronts_same_customer_key_earn_and_spend_separately(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> None:
    key = next(_keys)
    other = await another_storefront(stack)
    mine = (await known_customer(api, key))["id"]
    theirs = (await known_customer(api, key, other))["id"]
    assert mine != theirs
    cs = await staff(api, "cs")
    [sku] = await skus_in(stack, "SH01", 1, only=True)
    lines = [{"sku_id": sku, "quantity": 1}]

    # The demo storefront's customer completes an order and earns (default rules: 1 a yuan).
    first = await place_order(api, order_body(lines, key=f"ps-{key}-1", customer_id=key))
    first = await delivered_order(api, provider, carrier, first)
    confirmed = await api.post(f"/v1/orders/{first['order_no']}/confirm-receipt", headers=SHOP)
    assert confirmed.status_code == 200, confirmed.text
    want = earned(first["paid_fen"] - first["freight_fen"], 1)
    assert want > 0

    async def earned_shown() -> int | None:
        held = await balance(api, mine, cs)
        return held if held > 0 else None

    assert await eventually(earned_shown, "points earned") == want
    # The other storefront's customer with the same key has none of it, and cannot spend it.
    assert await balance(api, theirs, cs) == 0
    assert await balance(api, key, other) == 0  # read by its own key, as a storefront does
    assert await balance(api, key, SHOP) == want
    body = order_body(lines, key=f"ps-{key}-2", customer_id=key, points=1)
    refused = problem(await api.post("/v1/orders", headers=other, json=body), 409)
    assert refused["type"].endswith("PointsNotApplicableError"), refused

    # Points given to the other storefront's customer are theirs; each spends their own.
    granted = await api.post(
        f"/v1/customers/{theirs}/points/adjustments",
        headers=cs,
        json={"key": f"gift-{key}", "points": 40, "reason": "补偿"},
    )
    assert granted.status_code == 201, granted.text
    spent_there = await place_order(
        api, order_body(lines, key=f"ps-{key}-3", customer_id=key, points=40), other
    )
    assert spent_there["points_used"] == 40
    spent_here = await place_order(
        api, order_body(lines, key=f"ps-{key}-4", customer_id=key, points=30)
    )
    assert spent_here["points_used"] == 30
    assert await balance(api, theirs, cs) == 0
    assert await balance(api, mine, cs) == want - 30
    async with stack.sessions() as session:
        rows = (
            await session.execute(
                select(PointsEntry.customer_id, PointsEntry.kind, PointsEntry.points)
                .where(PointsEntry.customer_id.in_([mine, theirs]))
                .order_by(PointsEntry.id)
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        (mine, "earn", want),
        (theirs, "adjust", 40),
        (theirs, "spend", -40),
        (mine, "spend", -30),
    ]
    await ledgers_balance(stack)


async def test_a_storefront_reads_only_its_own_customers_points(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    key, only_theirs = next(_keys), next(_keys)
    other = await another_storefront(stack)
    mine = (await known_customer(api, key))["id"]
    await known_customer(api, only_theirs, other)
    cs = await staff(api, "cs")
    granted = await api.post(
        f"/v1/customers/{mine}/points/adjustments",
        headers=cs,
        json={"key": "welcome", "points": 70, "reason": "开卡礼"},
    )
    assert granted.status_code == 201, granted.text
    assert await balance(api, key, SHOP) == 70
    ledger = await api.get(f"/v1/customers/{key}/points/ledger", headers=SHOP)
    assert [(r["kind"], r["points"]) for r in ledger.json()["data"]] == [("adjust", 70)]
    # The other storefront has no customer `key`: its key, or our record's id, reads nothing.
    for path in (f"/v1/customers/{key}/points", f"/v1/customers/{mine}/points",
                 f"/v1/customers/{key}/points/ledger"):  # fmt: skip
        problem(await api.get(path, headers=other), 404)
    problem(await points(api, only_theirs, SHOP), 404)  # theirs, not ours
    problem(await points(api, 999_999_999_999, cs), 404)  # no such record


async def issued_to(stack: Stack, api: httpx.AsyncClient, code: str, customer_key: int) -> int:
    """A coupon issued (by a segment batch) to the demo storefront's customer `customer_key`
    only: the segment is those who paid a singular amount lately."""
    amount = 98_765_432
    await past_order(stack, f"SO-CP-{customer_key}", customer_key, days_ago=1, paid_fen=amount)
    ops = await staff(api, "ops")
    rules = [{"kind": "paid_at_least", "min_fen": amount, "days": 2}]
    segment = await api.post("/v1/segments", json={"name": code, "rules": rules}, headers=ops)
    assert segment.status_code == 201, segment.text
    coupon = await a_coupon(stack, code)
    started = await api.post(
        f"/v1/segments/{segment.json()['id']}/coupon-batches",
        json={"coupon_id": coupon},
        headers=ops,
    )
    assert started.status_code == 201, started.text
    done = await batch_done(api, started.json()["id"], ops)
    assert done["issued"] == 1
    return coupon


async def test_an_issued_coupon_is_its_customers_once_and_back_after_a_cancel(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    holder, stranger = next(_keys), next(_keys)
    record = (await known_customer(api, holder))["id"]
    await known_customer(api, stranger)
    other = await another_storefront(stack)
    await known_customer(api, holder, other)  # the same key at another storefront
    code = f"VIP{holder % 100_000}"
    coupon = await issued_to(stack, api, code, holder)
    [sku] = await skus_in(stack, "SH01", 1, only=True)
    lines = [{"sku_id": sku, "quantity": 2}]

    def cart(n: int, customer: int) -> Json:
        return order_body(lines, key=f"ic-{holder}-{n}", customer_id=customer, coupon_code=code)

    for who, headers in ((stranger, SHOP), (holder, other)):
        refused = problem(await api.post("/v1/orders", headers=headers, json=cart(1, who)), 422)
        assert refused["type"].endswith("CouponNotApplicableError"), refused
        assert "not_issued" in refused["detail"], refused
    first = await place_order(api, cart(2, holder))
    assert first["discount_fen"] == 1000
    again = problem(await api.post("/v1/orders", headers=SHOP, json=cart(3, holder)), 422)
    assert "already_used" in again["detail"], again
    async with stack.sessions() as session:
        issued = await session.scalar(
            select(CustomerCoupon).where(CustomerCoupon.coupon_id == coupon)
        )
        assert issued is not None
        assert (issued.customer_id, issued.used_order_no) == (record, first["order_no"])
        redeemed = await session.scalar(
            select(CouponRedemption.customer_id).where(
                CouponRedemption.order_no == first["order_no"]
            )
        )
        assert redeemed == record  # the record, not the storefront's key

    # Cancelled before payment: the coupon is the customer's to use again.
    cancelled = await api.post(
        f"/v1/orders/{first['order_no']}/cancel", headers=SHOP, json={"reason": "换个地址"}
    )
    assert cancelled.status_code == 200, cancelled.text
    await wait_cancelled(api, first["order_no"])

    async def given_back() -> bool:
        async with stack.sessions() as session:
            used = await session.scalar(
                select(CustomerCoupon.used_order_no).where(CustomerCoupon.coupon_id == coupon)
            )
        return used is None

    await eventually(given_back, "issued coupon given back")
    second = await place_order(api, cart(4, holder))
    assert second["discount_fen"] == 1000
    shown = await api.get(f"/v1/customers/{record}/coupons", headers=await staff(api, "cs"))
    assert [(c["code"], c["used"]) for c in shown.json()["data"]] == [(code, True)]

    # A public coupon (never issued) still works for anyone.
    public = f"ALL{holder % 100_000}"
    await a_coupon(stack, public)
    body = order_body(lines, key=f"ic-{holder}-5", customer_id=stranger, coupon_code=public)
    assert (await place_order(api, body))["discount_fen"] == 1000


async def test_an_issued_coupon_comes_back_with_the_refund_that_completes_the_order(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> None:
    """The coupon rules already in place: a refund of the whole order returns its coupon; an
    issued one is then unused again, for the customer's next order."""
    holder = next(_keys)
    record = (await known_customer(api, holder))["id"]
    code = f"BACK{holder % 100_000}"
    coupon = await a_coupon(stack, code)
    async with stack.sessions() as session:  # issued to the holder (as a batch does)
        segment = Segment(name=f"退款还券{holder}", rules=[])
        session.add(segment)
        await session.flush()
        batch = CouponBatch(segment_id=segment.id, coupon_id=coupon, rules=[],
                            as_of=datetime.now(UTC),
                            total=1, created_by="test")  # fmt: skip
        session.add(batch)
        await session.flush()
        session.add(CustomerCoupon(batch_id=batch.id, customer_id=record, coupon_id=coupon))
        await session.commit()
    [sku] = await skus_in(stack, "SH01", 1, only=True)
    lines = [{"sku_id": sku, "quantity": 1}]
    body = order_body(lines, key=f"rb-{holder}-1", customer_id=holder, coupon_code=code)
    order = await delivered_order(api, provider, carrier, await place_order(api, body))
    assert order["discount_fen"] == 1000
    again = order_body(lines, key=f"rb-{holder}-2", customer_id=holder, coupon_code=code)
    assert "already_used" in problem(await api.post("/v1/orders", headers=SHOP, json=again),
                                     422)["detail"]  # fmt: skip

    as_no = await open_after_sale(
        api, order["order_no"], f"rb-{holder}", "refund_only", [(order["lines"][0]["line_no"], 1)]
    )
    decided = await api.post(
        f"/v1/after-sales/{as_no}/decision", headers=await staff(api, "cs"), json={"approve": True}
    )
    assert decided.status_code == 200, decided.text
    await shown_as(api, as_no, "refunded")
    async with stack.sessions() as session:
        used = await session.scalar(
            select(CustomerCoupon.used_order_no).where(CustomerCoupon.coupon_id == coupon)
        )
    assert used is None
    after = order_body(lines, key=f"rb-{holder}-3", customer_id=holder, coupon_code=code)
    assert (await place_order(api, after))["discount_fen"] == 1000
