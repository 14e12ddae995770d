"""Placing orders over the whole back office (API, worker, dev Temporal, sandbox providers, a
fresh seeded database): the priced and reserved answer, idempotent client keys, and refusals —
each checked on stock, reservations and the order itself."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, text

from models.db import Order, OrderNumber, Sku, StockMovement
from tests.support.order_api import (
    Json,
    add_coupon,
    expect_held,
    figures,
    lines_of,
    order_body,
    place_order,
    problem,
    reservations,
    skus_in,
    staff,
    steps,
    view,
    warehouse_id,
)
from tests.support.orders import ADDRESS, SHOP, known_customer
from tests.support.stack import Stack

# --- placing ---------------------------------------------------------------------------------


async def test_placing_answers_the_priced_reserved_order_with_packages_and_deadline(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    sku_a, sku_b = await skus_in(stack, "SH01", 2)
    sh01 = await warehouse_id(stack, "SH01")
    policy = await api.put(
        "/v1/freight-policy",
        json={"mode": "fixed", "fixed_fee_fen": 800},
        headers=await staff(api, "admin"),
    )
    assert policy.status_code == 200, policy.text
    coupon_id = await add_coupon(stack, "SAVE10", 1000, per_customer_limit=5)
    async with stack.sessions() as session:
        prices = dict(
            (
                await session.execute(
                    select(Sku.id, Sku.list_price_fen).where(Sku.id.in_([sku_a, sku_b]))
                )
            ).all()
        )
    before = await figures(stack)
    sent_at = datetime.now(UTC)

    order = await place_order(
        api, order_body(lines_of((sku_a, 2), (sku_b, 1)), coupon_code="SAVE10")
    )

    assert order["order_no"].startswith("SO")
    assert order["status"] == "awaiting_payment"
    assert order["under_review"] is False
    lines = order["lines"]
    assert [(li["line_no"], li["sku_id"], li["quantity"]) for li in lines] == [
        (1, sku_a, 2),
        (2, sku_b, 1),
    ]
    for line in lines:
        assert line["unit_price_fen"] == prices[line["sku_id"]]  # the server's price
        assert line["list_amount_fen"] == line["unit_price_fen"] * line["quantity"]
        assert line["paid_fen"] == line["list_amount_fen"] - line["discount_fen"]
        assert {(a["source"], a["source_id"]) for a in line["allocations"]} == {
            ("coupon", coupon_id)
        }
        assert sum(a["amount_fen"] for a in line["allocations"]) == line["discount_fen"] > 0
    goods = sum(li["list_amount_fen"] for li in lines)
    assert order["goods_list_fen"] == goods
    assert order["discount_fen"] == sum(li["discount_fen"] for li in lines) == 1000
    assert order["freight_fen"] == 800
    assert order["payable_fen"] == goods - 1000 + 800
    assert order["payable_fen"] == sum(li["paid_fen"] for li in lines) + order["freight_fen"]
    assert order["paid_fen"] == order["refunded_fen"] == 0
    deadline = datetime.fromisoformat(order["payment_deadline"])
    window = timedelta(minutes=30)
    assert sent_at + window - timedelta(seconds=5) <= deadline
    assert deadline <= datetime.now(UTC) + window + timedelta(seconds=5)
    [package] = order["packages"]
    assert package["package_no"].startswith("PK" + order["order_no"][2:])
    assert package["warehouse_id"] == sh01  # the destination's preferred warehouse fills it
    assert [(p["line_no"], p["sku_id"], p["quantity"]) for p in package["lines"]] == [
        (1, sku_a, 2),
        (2, sku_b, 1),
    ]
    assert steps(order) == ["placed"]
    assert order["timeline"][0]["actor_kind"] == "storefront"

    assert await view(api, order["order_no"]) == order
    assert await figures(stack) == expect_held(before, {(sku_a, sh01): 2, (sku_b, sh01): 1})
    held = await reservations(stack, order["order_no"])
    assert [(r.sku_id, r.warehouse_id, r.quantity, r.status) for r in held] == [
        (sku_a, sh01, 2, "held"),
        (sku_b, sh01, 1, "held"),
    ]


async def test_the_same_client_order_key_returns_the_same_order(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    sh01 = await warehouse_id(stack, "SH01")
    before = await figures(stack)
    body = order_body(lines_of((sku, 3)), key="cart-same")

    first = await place_order(api, body)
    again = await place_order(api, body)
    together = await asyncio.gather(*(place_order(api, body) for _ in range(3)))

    assert {o["order_no"] for o in [again, *together]} == {first["order_no"]}
    assert again["payable_fen"] == first["payable_fen"]
    assert await figures(stack) == expect_held(before, {(sku, sh01): 3})
    assert len(await reservations(stack)) == 1
    other = await place_order(api, order_body(lines_of((sku, 3)), key="cart-other"))
    assert other["order_no"] != first["order_no"]
    assert await figures(stack) == expect_held(before, {(sku, sh01): 6})


async def test_out_of_stock_is_409_naming_the_skus_and_reserves_nothing(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    [stocked, short] = await skus_in(stack, "SH01", 2)
    await known_customer(api, 7)
    async with stack.sessions() as session:  # a SKU the demo data has none of anywhere
        empty = await session.scalar(
            text(
                "SELECT sku_id FROM stocks GROUP BY sku_id HAVING SUM(on_hand) = 0 "
                "ORDER BY sku_id LIMIT 1"
            )
        )
    assert empty is not None
    before = await figures(stack)

    answer = await api.post(
        "/v1/orders",
        json=order_body(lines_of((stocked, 1), (short, 999), (empty, 1))),
        headers=SHOP,
    )

    body = problem(answer, 409)
    [error] = body["errors"]
    assert error["type"] == "OutOfStockError"
    assert error["field"] == "lines"
    assert error["sku_ids"] == sorted([short, empty])
    assert await figures(stack) == before
    assert await reservations(stack) == []
    async with stack.sessions() as session:
        movements = await session.scalar(
            select(func.count())
            .select_from(StockMovement)
            .where(StockMovement.movement_type == "reservation")
        )
        orders = await session.scalar(select(func.count()).select_from(Order))
    assert (movements, orders) == (0, 0)


async def test_an_unknown_sku_is_422_and_reserves_nothing(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    await known_customer(api, 7)
    before = await figures(stack)

    answer = await api.post(
        "/v1/orders", json=order_body(lines_of((sku, 1), (987654, 1))), headers=SHOP
    )

    [error] = problem(answer, 422)["errors"]
    assert (error["type"], error["field"], error["sku_ids"]) == (
        "InvalidOrderError",
        "lines",
        [987654],
    )
    assert await figures(stack) == before
    assert await reservations(stack) == []


async def test_invalid_input_is_422_naming_the_field(stack: Stack, api: httpx.AsyncClient) -> None:
    [sku] = await skus_in(stack, "SH01")
    await known_customer(api, 7)
    good = order_body(lines_of((sku, 1)))
    no_address = {k: v for k, v in good.items() if k != "address"}

    def with_line(**line: Any) -> Json:
        return {**good, "lines": [{"sku_id": sku, **line}]}

    def with_region(code: str) -> Json:
        return {**good, "address": {**ADDRESS, "region_code": code}}

    cases: list[tuple[str, Json, str]] = [
        ("float quantity", with_line(quantity=1.5), "lines.0.quantity"),
        ("whole float", with_line(quantity=2.0), "lines.0.quantity"),
        ("zero quantity", with_line(quantity=0), "lines.0.quantity"),
        ("client price", with_line(quantity=1, price_fen=1), "lines.0.price_fen"),
        ("no lines", {**good, "lines": []}, "lines"),
        ("missing address", no_address, "address"),
        ("short region", with_region("31011"), "address.region_code"),
        ("bad region", with_region("999999"), "address.region_code"),
    ]
    before = await figures(stack)
    for name, body, field in cases:
        answer = await api.post("/v1/orders", json=body, headers=SHOP)
        fields = [e["field"] for e in problem(answer, 422)["errors"]]
        assert field in fields, (name, answer.text)
    async with stack.sessions() as session:
        numbers = await session.scalar(select(func.count()).select_from(OrderNumber))
    assert numbers == 0  # refused before an order number was even taken

    # A well-formed region the goods do not ship to: refused by the order process itself.
    async with stack.sessions() as session:
        food = await session.scalar(
            text(
                "SELECT s.sku_id FROM stocks s JOIN skus k ON k.id = s.sku_id "
                "JOIN freight_templates t ON t.id = k.freight_template_id "
                "WHERE '650000' = ANY(t.unserviceable_regions) AND s.on_hand - s.reserved >= 5 "
                "ORDER BY s.sku_id LIMIT 1"
            )
        )
    far_west = {**ADDRESS, "region_code": "650102"}
    answer = await api.post(
        "/v1/orders",
        json=order_body(lines_of((food, 1)), key="cart-far", address=far_west),
        headers=SHOP,
    )
    [error] = problem(answer, 422)["errors"]
    assert (error["type"], error["field"], error["sku_ids"]) == (
        "UnserviceableRegionError",
        "address.region_code",
        [food],
    )
    assert await figures(stack) == before
    assert await reservations(stack) == []
