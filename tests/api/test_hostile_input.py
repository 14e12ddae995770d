"""Hostile and out-of-range input (issue 12, items 1-3): every path, query and body value is
bounded by what PostgreSQL holds and refused at the edge as a 422 naming the field — no 500, no
request left hanging while an activity retries, nothing reserved. A 500 that does happen tells a
keep-alive client the connection is closing."""

from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, text

from api.deps import AppDeps, Session
from api.main import create_app
from models.db import Order, Reservation, StockMovement
from sandbox.common import serve
from tests.support.api import MakeHeaders
from tests.support.input_bounds import unchecked_inputs
from tests.support.order_api import figures, lines_of, order_body, problem, skus_in
from tests.support.orders import ADDRESS, SHOP
from tests.support.stack import Stack

BEYOND_INT64 = "9223372036854775808"  # 2**63


def fields_of(body: dict[str, Any]) -> list[str]:
    return [error["field"] for error in body.get("errors", [])]


def test_every_route_input_is_bounded_and_checked_for_storable_text() -> None:
    """The guard for routes added later: every int path/query/body value has bounds inside
    bigint, every text value is checked for NUL and lone surrogates, every instant for fitting
    UTC's years."""
    assert unchecked_inputs(create_app()) == []


# --- item 1: the storefront's order ----------------------------------------------------------


async def test_hostile_orders_are_refused_naming_the_field_and_reserve_nothing(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    before = await figures(stack)
    hostile: list[tuple[dict[str, Any], str]] = [
        (order_body(lines_of((99999999999, 1)), key="k-big"), "lines.0.sku_id"),
        (order_body(lines_of((10**30, 1)), key="k-huge"), "lines.0.sku_id"),
        (order_body(lines_of((2**63, 1)), key="k-2-63"), "lines.0.sku_id"),
        (order_body(lines_of((sku, 1)), key="k-cust", customer_id=2**63), "customer_id"),
        (
            order_body(lines_of((sku, 1)), key="k-nul", address={**ADDRESS, "name": "张\x00三"}),
            "address.name",
        ),
        (
            order_body(
                lines_of((sku, 1)), key="k-surrogate", address={**ADDRESS, "detail": "路\ud800"}
            ),
            "address.detail",
        ),
        (
            order_body(
                lines_of((sku, 1)), key="k-region", address={**ADDRESS, "region_code": "990000"}
            ),
            "address.region_code",
        ),
        (order_body(lines_of((sku, 1)), key="k\x00nul"), "client_order_key"),
    ]
    for body, field in hostile:
        # ensure_ascii: a lone surrogate travels as its JSON escape, as a client would send it
        answer = await api.post(
            "/v1/orders",
            content=json.dumps(body, ensure_ascii=True),
            headers={**SHOP, "Content-Type": "application/json"},
        )
        refused = problem(answer, 422)
        assert field in fields_of(refused), (field, refused)

    assert await figures(stack) == before  # nothing reserved, on hand untouched
    async with stack.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Reservation)) == 0
        assert await session.scalar(select(func.count()).select_from(Order)) == 0
        reservation_rows = select(func.count()).where(StockMovement.movement_type == "reservation")
        assert await session.scalar(reservation_rows) == 0


# --- item 2: out-of-range integers everywhere ------------------------------------------------


async def test_out_of_range_integers_are_422_naming_the_field(
    client: httpx.AsyncClient, user_headers: MakeHeaders
) -> None:
    admin = await user_headers("admin")
    asked: list[tuple[str, str, Any, str]] = [
        ("GET", f"/v1/skus/{BEYOND_INT64}", None, "sku_id"),
        ("GET", "/v1/skus/2147483648", None, "sku_id"),  # beyond the integer column
        ("GET", f"/v1/stock?sku_id={BEYOND_INT64}", None, "sku_id"),
        ("GET", f"/v1/skus?skip={BEYOND_INT64}", None, "skip"),
        ("GET", "/v1/after-sales?stuck_days=889604153", None, "stuck_days"),
        ("GET", f"/v1/orders?customer_id={BEYOND_INT64}", None, "customer_id"),
        ("GET", "/v1/orders/SO%00", None, "order_no"),
        ("GET", "/v1/products?q=%00", None, "q"),
        ("GET", "/v1/orders?placed_from=0001-01-01T00:00:00%2B10:00", None, "placed_from"),
        ("GET", "/v1/admin/audit-log?since=9999-12-31T23:59:59-10:00", None, "since"),
        (
            "POST",
            "/v1/purchase-orders",
            {"supplier_id": 12345678901234567890, "lines": [{"sku_id": 1, "warehouse_id": 1}]},
            "supplier_id",
        ),
        ("POST", "/v1/warehouses/1/counts", {"location_ids": [-1]}, "location_ids"),
        (
            "POST",
            "/v1/stock/adjustments",
            {
                "sku_id": 1,
                "warehouse_id": 1,
                "location_id": -5,
                "quantity_delta": 1,
                "reason": "r1",
            },
            "location_id",
        ),
    ]
    for method, path, body, field in asked:
        answer = await client.request(method, path, json=body, headers=admin)
        refused = problem(answer, 422)
        assert any(f == field or f.startswith(f"{field}.") for f in fields_of(refused)), (
            path,
            refused,
        )


async def test_a_data_error_past_validation_is_a_422_not_a_500(deps: AppDeps) -> None:
    """The backstop for a value no schema bounded: PostgreSQL's refusal is invalid input."""
    app: FastAPI = create_app(deps)

    @app.get("/v1/unbounded")
    async def unbounded(session: Session) -> None:
        await session.execute(text("SELECT CAST(:v AS integer)"), {"v": 2**40})

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.get("/v1/unbounded")
    refused = problem(answer, 422)
    assert refused["type"] == "/problems/invalid-input"


# --- item 3: a 500 closes the connection and says so -----------------------------------------


async def test_a_500_tells_the_client_the_connection_closes(deps: AppDeps) -> None:
    app: FastAPI = create_app(deps)

    @app.get("/v1/broken")
    async def broken() -> None:
        raise RuntimeError("a bug")

    async with serve(app) as url, httpx.AsyncClient(base_url=url) as keep_alive:
        answer = await keep_alive.get("/v1/broken")
        body = problem(answer, 500)
        assert answer.headers["connection"] == "close"
        assert body["detail"] == "internal error; it has been logged"
        # The client believed the header: the next request opens a new connection and answers.
        assert (await keep_alive.get("/healthz")).status_code == 200
