"""Members' levels and points over HTTP on the whole back office (issue 16, DESIGN §6.7): a member
places an order, it completes, they earn points and growth value and reach a level; the next
order spends points (a discount allocated to lines) and gets the level's discount and free
shipping; a refund of one line gives back the points it bore, pro rata; a cancelled order gives
back all it spent; the points, money and stock ledgers balance."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from sqlalchemy import select

from models.db import OrderLine, PointsEntry
from models.domain.points import LineShare, earned, points_back, points_fen_of
from tests.support.after_sale_api import open_after_sale, shown_as
from tests.support.invariants import (
    assert_stock_invariants,
    points_accounts_off_ledger,
    unbalanced_orders,
)
from tests.support.order_api import Json, order_body, place_order, problem, skus_in, staff, view
from tests.support.orders import (
    SHOP,
    deliver,
    eventually,
    known_customer,
    pack_and_hand_over,
    pay,
    wait_cancelled,
)
from tests.support.stack import Stack

_customers = itertools.count(7_000_000_000 + os.getpid() * 1_000)
RULES = {"earn_per_yuan": 2, "growth_per_yuan": 1, "fen_per_point": 1, "max_percent": 30}


@pytest_asyncio.fixture
async def manager(stack: Stack, api: httpx.AsyncClient) -> AsyncIterator[dict[str, str]]:
    """ops, who keeps the levels and rules; the levels are taken away again after the test
    (other tests' customers share the database)."""
    headers = await staff(api, "ops")
    yield headers
    cleared = await api.put("/v1/loyalty/settings/levels", headers=headers, json={"levels": []})
    assert cleared.status_code == 200, cleared.text


async def points_of(api: httpx.AsyncClient, customer: int, headers: dict[str, str]) -> Json:
    answer = await api.get(f"/v1/customers/{customer}/points", headers=headers)
    assert answer.status_code == 200, answer.text
    found: Json = answer.json()
    return found


async def ledger_of(api: httpx.AsyncClient, customer: int, headers: dict[str, str]) -> list[Json]:
    answer = await api.get(f"/v1/customers/{customer}/points/ledger?sort=at", headers=headers)
    assert answer.status_code == 200, answer.text
    rows: list[Json] = answer.json()["data"]
    return rows


async def delivered_order(
    api: httpx.AsyncClient, provider: httpx.AsyncClient, carrier: httpx.AsyncClient, order: Json
) -> Json:
    """Pay the placed order, pick, pack, hand over and deliver its one package."""
    number = order["order_no"]
    await pay(api, provider, number)

    async def released() -> Json | None:
        shown = await view(api, number)
        ready = shown["paid_fen"] > 0 and all(p["status"] == "released" for p in shown["packages"])
        return shown if ready else None

    paid = await eventually(released, f"{number} released")
    [parcel] = paid["packages"]
    await deliver(carrier, await pack_and_hand_over(api, parcel))

    async def arrived() -> Json | None:
        shown = await view(api, number)
        return shown if shown["status"] == "delivered" else None

    found: Json = await eventually(arrived, f"{number} delivered")
    return found


async def ledgers_balance(stack: Stack) -> None:
    async with stack.sessions() as session:
        assert await points_accounts_off_ledger(session) == []
        assert await unbalanced_orders(session) == []
        await assert_stock_invariants(session)


async def test_a_member_earns_a_level_spends_points_and_gets_them_back_pro_rata(
    stack: Stack,
    api: httpx.AsyncClient,
    provider: httpx.AsyncClient,
    carrier: httpx.AsyncClient,
    manager: dict[str, str],
) -> None:
    customer = next(_customers)
    record = (await known_customer(api, customer))["id"]  # staff name the customer record
    rules = await api.put("/v1/loyalty/settings/rules", headers=manager, json=RULES)
    assert rules.status_code == 200, rules.text
    level = {"code": "GOLD", "name": "金卡", "growth_threshold": 1, "discount_percent": 5,
             "free_shipping": True}  # fmt: skip
    levels = await api.put("/v1/loyalty/settings/levels", headers=manager, json={"levels": [level]})
    assert levels.status_code == 200, levels.text
    gold = levels.json()["levels"][0]["id"]
    problem(await api.put("/v1/loyalty/settings/rules", headers=SHOP, json=RULES), 403)

    # First order: no level, no points yet; completes and earns.
    sku_a, sku_b = await skus_in(stack, "SH01", 2, only=True)
    first = await place_order(
        api,
        order_body([{"sku_id": sku_a, "quantity": 2}], key=f"m-{customer}-1", customer_id=customer),
    )
    assert [d for ln in first["lines"] for d in ln["allocations"]] == []
    first = await delivered_order(api, provider, carrier, first)
    confirmed = await api.post(f"/v1/orders/{first['order_no']}/confirm-receipt", headers=SHOP)
    assert confirmed.status_code == 200, confirmed.text
    goods = first["paid_fen"] - first["freight_fen"]
    want_points, want_growth = earned(goods, 2), earned(goods, 1)

    async def earned_shown() -> Json | None:
        shown = await points_of(api, record, manager)
        return shown if shown["balance"] > 0 else None

    account = await eventually(earned_shown, "points earned on completion")
    assert (account["balance"], account["growth"]) == (want_points, want_growth)
    assert account["level"]["code"] == "GOLD"
    assert [(c["from_level_id"], c["to_level_id"]) for c in account["level_history"]] == [
        (None, gold)
    ]
    [earn] = await ledger_of(api, record, manager)
    assert (earn["kind"], earn["points"], earn["order_no"]) == (
        "earn", want_points, first["order_no"]
    )  # fmt: skip

    # Second order: the level's 5 % and free shipping, then points (capped at 30 %).
    lines = [{"sku_id": sku_a, "quantity": 3}, {"sku_id": sku_b, "quantity": 1}]
    body = order_body(lines, key=f"m-{customer}-2", customer_id=customer, points=want_points)
    second = await place_order(api, body)
    sources = [a["source"] for ln in second["lines"] for a in ln["allocations"]]
    assert "level" in sources and "points" in sources
    assert second["freight_fen"] == 0
    after_level = second["goods_list_fen"] - sum(
        a["amount_fen"] for ln in second["lines"] for a in ln["allocations"]
        if a["source"] != "points"
    )  # fmt: skip
    used = min(want_points, after_level * 30 // 100)
    assert second["points_used"] == used
    points_fen = [points_fen_of(ln) for ln in second["lines"]]
    assert sum(points_fen) == used and all(fen > 0 for fen in points_fen)
    assert second["payable_fen"] == after_level - used
    assert (await points_of(api, record, manager))["balance"] == want_points - used
    # The same request again is the same order: nothing spent twice.
    again = await place_order(api, body)
    assert again["order_no"] == second["order_no"]
    assert (await points_of(api, record, manager))["balance"] == want_points - used

    # Refund the second line: the points it bore come back, pro rata.
    second = await delivered_order(api, provider, carrier, second)
    line_two = second["lines"][1]
    as_no = await open_after_sale(
        api, second["order_no"], f"as-{customer}", "refund_only", [(line_two["line_no"], 1)]
    )
    cs = await staff(api, "cs")
    decided = await api.post(f"/v1/after-sales/{as_no}/decision", headers=cs,
                             json={"approve": True})  # fmt: skip
    assert decided.status_code == 200, decided.text
    await shown_as(api, as_no, "refunded")
    shares = [
        LineShare(ln["quantity"], points_fen_of(ln), int(ln["line_no"] == line_two["line_no"]))
        for ln in second["lines"]
    ]
    back = points_back(used, shares, 0)
    assert 0 < back < used
    account = await points_of(api, record, manager)
    assert account["balance"] == want_points - used + back
    kinds = [(row["kind"], row["points"]) for row in await ledger_of(api, record, manager)]
    assert kinds == [("earn", want_points), ("spend", -used), ("refund", back)]
    async with stack.sessions() as session:
        stored = await session.scalar(
            select(OrderLine.allocations).where(
                OrderLine.order_no == second["order_no"], OrderLine.line_no == line_two["line_no"]
            )
        )
    assert points_fen_of({"allocations": stored}) == points_fen[1]
    await ledgers_balance(stack)


async def test_a_cancelled_order_gives_back_the_points_it_spent(
    stack: Stack, api: httpx.AsyncClient, manager: dict[str, str]
) -> None:
    customer = next(_customers)
    record = (await known_customer(api, customer))["id"]
    admin = await staff(api, "cs")
    granted = await api.post(
        f"/v1/customers/{record}/points/adjustments",
        headers=admin,
        json={"key": "welcome", "points": 500, "reason": "开卡礼"},
    )
    assert granted.status_code == 201, granted.text
    assert granted.json()["balance"] == 500
    twice = await api.post(
        f"/v1/customers/{record}/points/adjustments",
        headers=admin,
        json={"key": "welcome", "points": 500, "reason": "开卡礼"},
    )
    assert twice.json()["balance"] == 500  # the same key books once
    [sku] = await skus_in(stack, "SH01", 1, only=True)
    lines = [{"sku_id": sku, "quantity": 1}]
    await known_customer(api, customer)
    too_many = order_body(lines, key=f"c-{customer}-0", customer_id=customer, points=501)
    refused = problem(await api.post("/v1/orders", headers=SHOP, json=too_many), 409)
    assert refused["type"].endswith("PointsNotApplicableError"), refused
    order = await place_order(
        api, order_body(lines, key=f"c-{customer}-1", customer_id=customer, points=200)
    )
    spent = order["points_used"]
    assert 0 < spent <= 200
    assert (await points_of(api, record, manager))["balance"] == 500 - spent
    cancelled = await api.post(
        f"/v1/orders/{order['order_no']}/cancel", headers=SHOP, json={"reason": "不想要了"}
    )
    assert cancelled.status_code == 200, cancelled.text
    await wait_cancelled(api, order["order_no"])

    async def given_back() -> Json | None:
        shown = await points_of(api, record, manager)
        return shown if shown["balance"] == 500 else None

    await eventually(given_back, "points back on cancel")
    async with stack.sessions() as session:
        rows = (
            await session.execute(
                select(PointsEntry.kind, PointsEntry.points, PointsEntry.key)
                .where(PointsEntry.customer_id == record)
                .order_by(PointsEntry.id)
            )
        ).all()
    number = order["order_no"]
    assert [tuple(r) for r in rows] == [
        ("adjust", 500, "adjust:welcome"),
        ("spend", -spent, f"{number}:spend"),
        ("refund", spent, f"{number}:cancel"),
    ]
    await ledgers_balance(stack)
