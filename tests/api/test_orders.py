"""Order routes over the whole back office (API, worker, dev Temporal, sandbox providers, a fresh
seeded database): placing, idempotent client keys, refusals, storefront isolation, staff lists,
cancels with release and refund, and risk review — each checked on stock, money and timeline."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from core.security import hash_api_key, new_api_key
from models.contracts.order import OrderPolicy
from models.db import (
    ApiKey,
    Coupon,
    CouponRedemption,
    MoneyEntry,
    Order,
    OrderNumber,
    Refund,
    Reservation,
    Sku,
    StockMovement,
    Warehouse,
)
from tests.support.invariants import assert_stock_invariants
from tests.support.stack import Stack, fast_timings, running_stack
from workers.seed import DEMO_PASSWORD, DEMO_STOREFRONT_KEY

SHOP = {"X-API-Key": DEMO_STOREFRONT_KEY}
ADDRESS = {
    "name": "张三",
    "phone": "13800000000",
    "region_code": "310115",
    "detail": "浦东新区世纪大道 100 号",
}
Headers = dict[str, str]
Json = dict[str, Any]

# --- the stack and its clients ---------------------------------------------------------------


@pytest_asyncio.fixture
async def stack(
    request: pytest.FixtureRequest, seeded_engine: AsyncEngine, dev_client: Client, task_queue: str
) -> AsyncIterator[Stack]:
    """The whole back office; indirect parametrization passes running_stack's keywords."""
    options: dict[str, Any] = getattr(request, "param", {})
    async with running_stack(seeded_engine, dev_client, task_queue, **options) as running:
        await unique_order_numbers(running)
        yield running


# Every test gets a fresh database (its order number sequence starts at 1) but the session
# shares one Temporal server, where `order-SO…` of an earlier test may still be running: start
# this module's numbers in a range of their own so workflow ids never meet.
_first_numbers = itertools.count(1_100_000_000, 10_000)


async def unique_order_numbers(stack: Stack) -> None:
    async with stack.sessions() as session:
        await session.execute(
            text("SELECT setval('order_no_seq', :first)"), {"first": next(_first_numbers)}
        )
        await session.commit()


@pytest_asyncio.fixture
async def api(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.api, timeout=30) as client:
        yield client


@pytest_asyncio.fixture
async def provider(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.payments, timeout=30) as client:
        yield client


REVIEW_ALL = {"policy": OrderPolicy(risk_review_over_fen=1)}
review_every_order = pytest.mark.parametrize("stack", [REVIEW_ALL], indirect=True, ids=["review"])

# --- helpers ---------------------------------------------------------------------------------


async def eventually(check: Callable[[], Awaitable[Any]], what: str, seconds: float = 30) -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.25)


async def staff(api: httpx.AsyncClient, role: str) -> Headers:
    """Log in as the demo user of that role (username = role)."""
    answer = await api.post("/v1/auth/login", json={"username": role, "password": DEMO_PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def warehouse_id(stack: Stack, code: str) -> int:
    async with stack.sessions() as session:
        found = await session.scalar(select(Warehouse.id).where(Warehouse.code == code))
    assert found is not None
    return found


async def skus_in(stack: Stack, code: str, count: int = 1, *, only: bool = False) -> list[int]:
    """SKUs with at least 10 sellable units in warehouse `code` (and none elsewhere if only)."""
    sql = """
        SELECT s.sku_id FROM stocks s JOIN warehouses w ON w.id = s.warehouse_id
        WHERE w.code = :code AND s.on_hand - s.reserved - s.safety_hold >= 10
          AND (NOT :only OR NOT EXISTS (
                SELECT 1 FROM stocks o
                WHERE o.sku_id = s.sku_id AND o.warehouse_id <> s.warehouse_id AND o.on_hand > 0))
        ORDER BY s.sku_id LIMIT :count"""
    async with stack.sessions() as session:
        found = list(
            (await session.scalars(text(sql), {"code": code, "only": only, "count": count})).all()
        )
    assert len(found) == count, f"the demo data has too few SKUs in {code}"
    return found


async def figures(stack: Stack) -> dict[tuple[int, int], tuple[int, int]]:
    """(on_hand, reserved) of every (SKU, warehouse); the stock invariants checked on the way."""
    async with stack.sessions() as session:
        await assert_stock_invariants(session)
        rows = await session.execute(
            text("SELECT sku_id, warehouse_id, on_hand, reserved FROM stocks")
        )
        return {(r[0], r[1]): (r[2], r[3]) for r in rows}


def lines_of(*pairs: tuple[int, int]) -> list[Json]:
    return [{"sku_id": sku, "quantity": quantity} for sku, quantity in pairs]


def order_body(lines: list[Json], key: str = "cart-1", customer_id: int = 7, **extra: Any) -> Json:
    return {
        "client_order_key": key,
        "customer_id": customer_id,
        "address": ADDRESS,
        "lines": lines,
        **extra,
    }


async def place(api: httpx.AsyncClient, body: Json, headers: Headers = SHOP) -> Json:
    answer = await api.post("/v1/orders", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    order: Json = answer.json()
    return order


async def view(api: httpx.AsyncClient, order_no: str, headers: Headers = SHOP) -> Json:
    answer = await api.get(f"/v1/orders/{order_no}", headers=headers)
    assert answer.status_code == 200, answer.text
    order: Json = answer.json()
    return order


async def wait_status(api: httpx.AsyncClient, order_no: str, status: str) -> Json:
    async def reached() -> Json | None:
        order = await view(api, order_no)
        return order if order["status"] == status else None

    order: Json = await eventually(reached, f"order {order_no} {status}")
    return order


async def wait_released(api: httpx.AsyncClient, order_no: str) -> Json:
    """Until the order is paid and every package is released to its warehouse."""

    async def released() -> Json | None:
        order = await view(api, order_no)
        ready = order["paid_fen"] > 0 and all(p["status"] == "released" for p in order["packages"])
        return order if ready else None

    order: Json = await eventually(released, f"order {order_no} released to the warehouses")
    return order


async def pay(api: httpx.AsyncClient, provider: httpx.AsyncClient, order_no: str) -> Json:
    """Open a payment for the order and settle it at the sandbox provider (signed webhook)."""
    opened = await api.post(f"/v1/orders/{order_no}/payments", headers=SHOP)
    assert opened.status_code == 201, opened.text
    payment: Json = opened.json()
    paid = await provider.post(
        f"/v1/payments/{payment['payment_id']}/simulate", json={"outcome": "succeeded"}
    )
    assert paid.status_code == 200, paid.text
    return payment


async def ledger(stack: Stack, order_no: str) -> list[tuple[str, int]]:
    async with stack.sessions() as session:
        rows = await session.execute(
            select(MoneyEntry.entry_type, MoneyEntry.amount_fen)
            .where(MoneyEntry.order_no == order_no)
            .order_by(MoneyEntry.id)
        )
        return [(kind, amount) for kind, amount in rows]


async def refunds(stack: Stack, order_no: str) -> list[Refund]:
    async with stack.sessions() as session:
        found = await session.scalars(
            select(Refund).where(Refund.order_no == order_no).order_by(Refund.created_at)
        )
        return list(found)


async def reservations(stack: Stack, order_no: str | None = None) -> list[Reservation]:
    async with stack.sessions() as session:
        query = select(Reservation).order_by(Reservation.package_no, Reservation.line_no)
        if order_no is not None:
            query = query.where(Reservation.order_no == order_no)
        return list(await session.scalars(query))


def problem(answer: httpx.Response, status: int) -> Json:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
    body: Json = answer.json()
    assert body["status"] == status
    return body


def steps(order: Json) -> list[str]:
    return [event["step"] for event in order["timeline"]]


def expect_held(
    before: dict[tuple[int, int], tuple[int, int]], held: dict[tuple[int, int], int]
) -> dict[tuple[int, int], tuple[int, int]]:
    """The figures `before` with `held` units more reserved (on_hand unchanged)."""
    return {
        key: (on_hand, reserved + held.get(key, 0)) for key, (on_hand, reserved) in before.items()
    }


async def add_coupon(stack: Stack, code: str, off_fen: int, per_customer_limit: int) -> int:
    async with stack.sessions() as session:
        coupon = Coupon(
            code=code,
            rule={
                "kind": "fixed",
                "amount_off_fen": off_fen,
                "scope": {"all_items": True},
                "per_customer_limit": per_customer_limit,
            },
        )
        session.add(coupon)
        await session.commit()
        return coupon.id


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

    order = await place(api, order_body(lines_of((sku_a, 2), (sku_b, 1)), coupon_code="SAVE10"))

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

    first = await place(api, body)
    again = await place(api, body)
    together = await asyncio.gather(*(place(api, body) for _ in range(3)))

    assert {o["order_no"] for o in [again, *together]} == {first["order_no"]}
    assert again["payable_fen"] == first["payable_fen"]
    assert await figures(stack) == expect_held(before, {(sku, sh01): 3})
    assert len(await reservations(stack)) == 1
    other = await place(api, order_body(lines_of((sku, 3)), key="cart-other"))
    assert other["order_no"] != first["order_no"]
    assert await figures(stack) == expect_held(before, {(sku, sh01): 6})


async def test_out_of_stock_is_409_naming_the_skus_and_reserves_nothing(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    [stocked, short] = await skus_in(stack, "SH01", 2)
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


async def test_a_storefront_sees_only_its_own_orders(stack: Stack, api: httpx.AsyncClient) -> None:
    key, prefix = new_api_key()
    async with stack.sessions() as session:
        session.add(
            ApiKey(name="另一家店", prefix=prefix, key_hash=hash_api_key(key), role="storefront")
        )
        await session.commit()
    other = {"X-API-Key": key}
    [sku] = await skus_in(stack, "SH01")
    mine = await place(api, order_body(lines_of((sku, 1)), key="cart-7"))
    number = mine["order_no"]

    for method, path in (
        ("GET", f"/v1/orders/{number}"),
        ("POST", f"/v1/orders/{number}/payments"),
        ("POST", f"/v1/orders/{number}/cancel"),
        ("POST", f"/v1/orders/{number}/confirm-receipt"),
    ):
        answer = await api.request(
            method, path, headers=other, json={} if path.endswith("cancel") else None
        )
        problem(answer, 404)
    listed = (await api.get("/v1/orders", headers=other)).json()
    assert (listed["count"], listed["data"]) == (0, [])

    theirs = await place(api, order_body(lines_of((sku, 1)), key="cart-7"), headers=other)
    assert theirs["order_no"] != number  # client keys are per storefront
    assert [o["order_no"] for o in (await api.get("/v1/orders", headers=other)).json()["data"]] == [
        theirs["order_no"]
    ]
    assert [o["order_no"] for o in (await api.get("/v1/orders", headers=SHOP)).json()["data"]] == [
        number
    ]
    problem(await api.get(f"/v1/orders/{theirs['order_no']}", headers=SHOP), 404)
    assert (await view(api, number))["status"] == "awaiting_payment"  # untouched by the other
    ops = await staff(api, "ops")
    everyone = (await api.get("/v1/orders", headers=ops)).json()
    assert {o["order_no"] for o in everyone["data"]} == {number, theirs["order_no"]}


FILTERS = {
    "policy": OrderPolicy(risk_review_over_fen=100_000),
    "timings": fast_timings().model_copy(update={"risk_review_sla": timedelta(seconds=1)}),
}


@pytest.mark.parametrize("stack", [FILTERS], indirect=True, ids=["sla-1s"])
async def test_staff_list_orders_by_status_customer_sku_warehouse_and_escalation(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    [sh_sku] = await skus_in(stack, "SH01", only=True)
    [gz_sku] = await skus_in(stack, "GZ01", only=True)
    sh01, gz01 = await warehouse_id(stack, "SH01"), await warehouse_id(stack, "GZ01")
    async with stack.sessions() as session:  # the dearest SKU SH01 holds plenty of
        dear, price, sellable = (
            await session.execute(
                text(
                    "SELECT k.id, k.list_price_fen, s.on_hand - s.reserved - s.safety_hold "
                    "FROM skus k JOIN stocks s ON s.sku_id = k.id "
                    "WHERE s.warehouse_id = :wh AND s.on_hand - s.reserved - s.safety_hold >= 10 "
                    "ORDER BY k.list_price_fen DESC, k.id LIMIT 1"
                ),
                {"wh": sh01},
            )
        ).one()
    big = 100_000 // price + 1
    assert big <= sellable
    a = await place(api, order_body(lines_of((sh_sku, 1)), key="a", customer_id=501))
    b = await place(api, order_body(lines_of((gz_sku, 1)), key="b", customer_id=502))
    c = await place(api, order_body(lines_of((gz_sku, 1)), key="c", customer_id=501))
    d = await place(api, order_body(lines_of((dear, big)), key="d", customer_id=503))
    assert [o["under_review"] for o in (a, b, c, d)] == [False, False, False, True]
    cancelled = await api.post(f"/v1/orders/{c['order_no']}/cancel", json={}, headers=SHOP)
    assert cancelled.status_code == 200, cancelled.text
    await wait_status(api, c["order_no"], "cancelled")

    async def escalated() -> bool:
        return bool((await view(api, d["order_no"]))["escalated"])

    await eventually(escalated, "the risk review SLA to escalate the big order")
    ops = await staff(api, "ops")
    number = {"a": a["order_no"], "b": b["order_no"], "c": c["order_no"], "d": d["order_no"]}

    async def listed(**params: Any) -> set[str]:
        answer = await api.get("/v1/orders", params=params, headers=ops)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert page["count"] == len(page["data"])
        names = {v: k for k, v in number.items()}
        return {names[o["order_no"]] for o in page["data"]}

    assert await listed() == {"a", "b", "c", "d"}
    assert await listed(status="cancelled") == {"c"}
    assert await listed(status="awaiting_payment") == {"a", "b", "d"}
    assert await listed(customer_id=501) == {"a", "c"}
    assert await listed(customer_id=501, status="awaiting_payment") == {"a"}
    assert await listed(sku_id=gz_sku) == {"b", "c"}
    assert await listed(sku_id=dear) == {"d"}
    assert await listed(warehouse_id=gz01) == {"b", "c"}
    assert await listed(warehouse_id=sh01) == {"a", "d"}
    assert await listed(escalated="true") == {"d"}
    assert await listed(escalated="false") == {"a", "b", "c"}
    assert await listed(customer_id=999) == set()
    summary = (await api.get("/v1/orders", params={"escalated": "true"}, headers=ops)).json()
    [row] = summary["data"]
    assert (row["escalated"], row["under_review"], row["payable_fen"]) == (
        True,
        True,
        d["payable_fen"],
    )
    problem(await api.get("/v1/orders", params={"status": "x", "limit": 0}, headers=ops), 422)


# --- cancelling ------------------------------------------------------------------------------


async def test_a_customer_cancel_before_payment_releases_the_stock(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    sku_a, sku_b = await skus_in(stack, "SH01", 2)
    before = await figures(stack)
    order = await place(api, order_body(lines_of((sku_a, 2), (sku_b, 1))))
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
    order = await place(
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
    final = await wait_status(api, number, "cancelled")
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
    reused = await place(
        api,
        order_body(lines_of((sku_a, 1)), key="cart-3", customer_id=88, coupon_code="ONCE10"),
    )
    assert reused["discount_fen"] == 1000
    assert answer.json()["status"] == "cancelled"  # the answer is the cancelled order


# --- risk review -----------------------------------------------------------------------------


@review_every_order
async def test_an_approved_risk_review_lets_the_paid_order_proceed(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    order = await place(api, order_body(lines_of((sku, 1))))
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
    order = await place(api, order_body(lines_of((sku, 2))))
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
    final = await wait_status(api, number, "cancelled")
    assert (final["paid_fen"], final["refunded_fen"]) == (payable, payable)
    assert "released_to_warehouses" not in steps(final)
    [refund] = await refunds(stack, number)
    assert refund.amount_fen == payable
    assert sorted(await ledger(stack, number)) == [("payment", payable), ("refund", -payable)]
    assert await figures(stack) == before
    async with stack.sessions() as session:
        row = await session.get(Order, number)
    assert row is not None and "同一地址多笔订单" in (row.cancel_reason or "")
