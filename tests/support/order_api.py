"""Shared pieces of the whole-stack order and package route tests: the stack a test module's
`stack` fixture wraps, HTTP clients on it, and helpers for placing, paying, viewing and checking
orders (stock figures, reservations, money) over the real API.

Each test module defines its fixtures as thin wrappers, e.g.::

    @pytest_asyncio.fixture
    async def stack(request, seeded_engine, dev_client, task_queue) -> AsyncIterator[Stack]:
        async with order_stack(request, seeded_engine, dev_client, task_queue) as running:
            yield running
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from core.http import async_client
from models.db import Coupon, MoneyEntry, Package, Refund, Reservation, Warehouse
from tests.support import totp
from tests.support.invariants import assert_stock_invariants
from tests.support.orders import ADDRESS, SHOP, eventually, known_customer
from tests.support.stack import Stack, running_stack
from workers.seed import DEMO_DEVICE_KEYS, DEMO_PASSWORD

Headers = dict[str, str]
Json = dict[str, Any]
Figures = dict[tuple[int, int], tuple[int, int]]

# --- the stack and its clients ---------------------------------------------------------------


@asynccontextmanager
async def order_stack(
    request: pytest.FixtureRequest, engine: AsyncEngine, client: Client, task_queue: str
) -> AsyncIterator[Stack]:
    """The whole back office; indirect parametrization passes running_stack's keywords.

    running_stack gives each stack its own range of order numbers, so workflow ids of tests
    sharing the one Temporal dev server never meet."""
    options: dict[str, Any] = getattr(request, "param", {})
    async with running_stack(engine, client, task_queue, **options) as running:
        yield running


@asynccontextmanager
async def http(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with async_client(base_url=base_url, timeout=30) as client:
        yield client


# --- answers ---------------------------------------------------------------------------------


def problem(answer: httpx.Response, status: int) -> Json:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
    body: Json = answer.json()
    assert body["status"] == status
    return body


async def staff(api: httpx.AsyncClient, role: str) -> Headers:
    """Log in as the demo user of that role (username = role)."""
    body = {"username": role, "password": DEMO_PASSWORD}
    code = await totp.code(api, role)  # admin and finance sign in with a second factor
    if code is not None:
        body["totp_code"] = code
    answer = await api.post("/v1/auth/login", json=body)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


_SIGNED_IN: weakref.WeakKeyDictionary[httpx.AsyncClient, dict[str, Headers]] = (
    weakref.WeakKeyDictionary()
)


async def signed_in(api: httpx.AsyncClient, role: str) -> Headers:
    """staff(api, role) once per client and role, its token reused (it lasts 30 minutes): for
    tests that read as finance or admin again and again, each of whose sign-ins takes a fresh
    30-second TOTP step (a third sign-in within a step waits for the next one). Not for tests
    about signing in, out or changing a user's roles."""
    tokens = _SIGNED_IN.setdefault(api, {})
    if role not in tokens:
        tokens[role] = await staff(api, role)
    return tokens[role]


# --- the demo data ---------------------------------------------------------------------------


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


# --- orders ----------------------------------------------------------------------------------


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


async def place_order(api: httpx.AsyncClient, body: Json, headers: Headers = SHOP) -> Json:
    await known_customer(api, body["customer_id"], headers)
    answer = await api.post("/v1/orders", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    order: Json = answer.json()
    return order


async def view(api: httpx.AsyncClient, order_no: str, headers: Headers = SHOP) -> Json:
    answer = await api.get(f"/v1/orders/{order_no}", headers=headers)
    assert answer.status_code == 200, answer.text
    order: Json = answer.json()
    return order


def steps(order: Json) -> list[str]:
    return [event["step"] for event in order["timeline"]]


async def open_payment(api: httpx.AsyncClient, order_no: str) -> Json:
    answer = await api.post(f"/v1/orders/{order_no}/payments", headers=SHOP)
    assert answer.status_code == 201, answer.text
    payment: Json = answer.json()
    return payment


async def pay(api: httpx.AsyncClient, provider: httpx.AsyncClient, order_no: str) -> Json:
    """Open a payment for the order and settle it at the sandbox provider (signed webhook)."""
    payment = await open_payment(api, order_no)
    paid = await provider.post(
        f"/v1/payments/{payment['payment_id']}/simulate", json={"outcome": "succeeded"}
    )
    assert paid.status_code == 200, paid.text
    return payment


async def wait_released(api: httpx.AsyncClient, order_no: str) -> Json:
    """Until the order is paid and every package is released to its warehouse."""

    async def released() -> Json | None:
        order = await view(api, order_no)
        ready = order["paid_fen"] > 0 and all(p["status"] == "released" for p in order["packages"])
        return order if ready else None

    order: Json = await eventually(released, f"order {order_no} released to the warehouses")
    return order


# --- stock and money in the database ---------------------------------------------------------


async def figures(stack: Stack) -> Figures:
    """(on_hand, reserved) of every (SKU, warehouse); the stock invariants checked on the way."""
    async with stack.sessions() as session:
        await assert_stock_invariants(session)
        rows = await session.execute(
            text("SELECT sku_id, warehouse_id, on_hand, reserved FROM stocks")
        )
        return {(r[0], r[1]): (r[2], r[3]) for r in rows}


def expect_held(before: Figures, held: dict[tuple[int, int], int]) -> Figures:
    """The figures `before` with `held` units more reserved (on_hand unchanged)."""
    return {
        key: (on_hand, reserved + held.get(key, 0)) for key, (on_hand, reserved) in before.items()
    }


async def reservations(stack: Stack, order_no: str | None = None) -> list[Reservation]:
    async with stack.sessions() as session:
        query = select(Reservation).order_by(Reservation.package_no, Reservation.line_no)
        if order_no is not None:
            query = query.where(Reservation.order_no == order_no)
        return list(await session.scalars(query))


async def money_entries(stack: Stack, order_no: str) -> list[tuple[str, int, str]]:
    """(entry type, amount, ref no) of the order's money ledger, in order."""
    async with stack.sessions() as session:
        rows = await session.execute(
            select(MoneyEntry.entry_type, MoneyEntry.amount_fen, MoneyEntry.ref_no)
            .where(MoneyEntry.order_no == order_no)
            .order_by(MoneyEntry.id)
        )
        return [(kind, amount, ref) for kind, amount, ref in rows]


async def ledger(stack: Stack, order_no: str) -> list[tuple[str, int]]:
    """(entry type, amount) of the order's money ledger, in order."""
    return [(kind, amount) for kind, amount, _ in await money_entries(stack, order_no)]


async def refunds(stack: Stack, order_no: str) -> list[Refund]:
    async with stack.sessions() as session:
        found = await session.scalars(
            select(Refund).where(Refund.order_no == order_no).order_by(Refund.created_at)
        )
        return list(found)


# --- packages ---------------------------------------------------------------------------------

DEVICE = {code: {"X-API-Key": key} for code, key in DEMO_DEVICE_KEYS.items()}
RECEIVER = {
    "name": "王五",
    "phone": "13700000000",
    "region_code": "310112",
    "detail": "闵行区七莘路 300 号",
}


async def only_in(stack: Stack, code: str) -> int:
    """A SKU with plenty of sellable units in warehouse `code` and none anywhere else."""
    [sku] = await skus_in(stack, code, only=True)
    return sku


async def paid_order(
    stack: Stack, api: httpx.AsyncClient, lines: list[tuple[int, int]], key: str = "cart-1"
) -> Json:
    """Place and pay an order; answer it once every package is released to its warehouse."""
    body = order_body(
        [{"sku_id": sku, "quantity": quantity} for sku, quantity in lines],
        key=key,
        customer_id=31,
        address=RECEIVER,
    )
    number = (await place_order(api, body))["order_no"]
    async with http(stack.payments) as provider:
        await pay(api, provider, number)
    return await wait_released(api, number)


async def package(api: httpx.AsyncClient, number: str, headers: Headers) -> Json:
    answer = await api.get(f"/v1/packages/{number}", headers=headers)
    assert answer.status_code == 200, answer.text
    found: Json = answer.json()
    return found


async def wait_package(api: httpx.AsyncClient, number: str, status: str, headers: Headers) -> Json:
    async def reached() -> Json | None:
        found = await package(api, number, headers)
        return found if found["status"] == status else None

    found: Json = await eventually(reached, f"package {number} {status}")
    return found


async def package_row(stack: Stack, number: str) -> Package:
    async with stack.sessions() as session:
        row = await session.get(Package, number)
    assert row is not None
    return row


async def events_of(stack: Stack, number: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(step, actor kind, actor name, detail) of the package's timeline rows, in the order the
    timeline shows them (the steps' own order: their rows are written by activities that may
    run side by side)."""
    async with stack.sessions() as session:
        rows = await session.execute(
            text(
                "SELECT step, actor_kind, actor_name, detail FROM order_events "
                "WHERE package_no = :number ORDER BY at, seq, id"
            ),
            {"number": number},
        )
        return [(r[0], r[1], r[2], dict(r[3])) for r in rows]


async def recorded(stack: Stack, number: str, step: str) -> list[tuple[str, str, str, Json]]:
    """The package's timeline once `step` is in it (the projection trails the workflow)."""

    async def written() -> list[tuple[str, str, str, Json]] | None:
        found = await events_of(stack, number)
        return found if step in [e[0] for e in found] else None

    found: list[tuple[str, str, str, Json]] = await eventually(written, f"{number} {step} recorded")
    return found


async def track(carrier: httpx.AsyncClient, tracking_no: str, *codes: str) -> None:
    for code in codes:
        pushed = await carrier.post(f"/_sandbox/tracking/{tracking_no}/events", json={"code": code})
        assert pushed.status_code == 201, pushed.text
