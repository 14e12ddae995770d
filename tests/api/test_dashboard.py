"""GET /v1/dashboard over the whole back office: each figure agrees with the list behind it the
moment it is read, today sits beside yesterday (orders, paid money, the hourly chart), each role
gets the panels its permissions open, and a warehouse-scoped user counts only their
warehouses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from models.domain.access import allowed
from tests.support.api import PASSWORD, bearer, login
from tests.support.order_api import (
    lines_of,
    order_body,
    pay,
    place_order,
    problem,
    skus_in,
    staff,
    wait_released,
    warehouse_id,
)
from tests.support.orders import SHOP
from tests.support.stack import Stack

Json = dict[str, Any]
STAFF = ("admin", "ops", "purchasing", "purchasing_manager", "finance", "cs", "warehouse_manager")


def figure(board: Json, key: str) -> Json:
    [found] = [f for p in board["panels"] for f in p["figures"] if f["key"] == key]
    return found


def series(board: Json, key: str) -> list[int]:
    [found] = [c["values"] for c in board["charts"] if c["key"] == key]
    return found


def hour_now() -> int:
    return (datetime.now(UTC) + timedelta(hours=8)).hour


async def board_of(api: httpx.AsyncClient, headers: dict[str, str]) -> Json:
    answer = await api.get("/v1/dashboard", headers=headers)
    assert answer.status_code == 200, answer.text
    body: Json = answer.json()
    return body


async def count_of(api: httpx.AsyncClient, headers: dict[str, str], **filters: str) -> int:
    listed = await api.get("/v1/orders", params={**filters, "limit": 1}, headers=headers)
    assert listed.status_code == 200, listed.text
    return int(listed.json()["count"])


async def test_figures_agree_with_the_lists_and_yesterday_sits_beside_today(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    ops = await staff(api, "ops")
    before = await board_of(api, ops)
    [sku] = await skus_in(stack, "SH01")
    waiting = await place_order(api, order_body(lines_of((sku, 1)), key="dash-1"))
    paid = await place_order(api, order_body(lines_of((sku, 2)), key="dash-2"))
    await pay(api, provider, paid["order_no"])
    await wait_released(api, paid["order_no"])
    hour = hour_now()

    board = await board_of(api, ops)
    assert figure(board, "orders.today")["value"] == figure(before, "orders.today")["value"] + 2
    assert figure(board, "orders.awaiting_payment")["value"] == await count_of(
        api, ops, status="awaiting_payment"
    )
    assert waiting["order_no"] != paid["order_no"]
    paid_today = figure(board, "orders.paid_today")
    assert paid_today["unit"] == "fen"
    assert paid_today["value"] == figure(before, "orders.paid_today")["value"] + paid["payable_fen"]
    assert series(board, "orders.paid_per_day")[-1] == paid_today["value"]
    today = series(board, "orders.per_hour.today")
    if hour == hour_now():  # the hour did not turn while the orders were placed
        assert today[hour] - series(before, "orders.per_hour.today")[hour] == 2
    assert sum(today) == figure(board, "orders.today")["value"]
    to_ship = await count_of(api, ops, status="paid") + await count_of(
        api, ops, status="fulfilling"
    )
    assert figure(board, "orders.to_ship")["value"] == to_ship

    # The paid order moves to yesterday, business time: today loses it, yesterday shows it.
    async with stack.sessions() as session:
        for table, column in (("orders", "placed_at"), ("payments", "paid_at")):
            await session.execute(
                text(
                    f"UPDATE {table} SET {column} = {column} - interval '1 day' WHERE order_no = :n"
                ),
                {"n": paid["order_no"]},
            )
        await session.commit()
    moved = await board_of(api, ops)
    assert figure(moved, "orders.today")["value"] == figure(board, "orders.today")["value"] - 1
    assert (
        figure(moved, "orders.today")["previous"] == figure(board, "orders.today")["previous"] + 1
    )
    assert figure(moved, "orders.paid_today")["value"] == paid_today["value"] - paid["payable_fen"]
    assert figure(moved, "orders.paid_today")["previous"] == (
        paid_today["previous"] + paid["payable_fen"]
    )
    assert (
        series(moved, "orders.paid_per_day")[-2] == figure(moved, "orders.paid_today")["previous"]
    )
    assert (
        sum(series(moved, "orders.per_hour.yesterday"))
        == (figure(moved, "orders.today")["previous"])
    )


async def test_each_role_gets_the_panels_its_permissions_open(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    expected = {
        "orders": "orders.read",
        "after_sales": "aftersales.review",
        "purchasing": "purchase.read",
        "finance": "finance.read",
    }
    for role in STAFF:
        board = await board_of(api, await staff(api, role))
        keys = [p["key"] for p in board["panels"]]
        for panel, permission in expected.items():
            assert (panel in keys) == allowed(frozenset({role}), permission), (role, panel)
        assert "warehouse" in keys  # every staff role reads packages or low stock
        assert bool(board["charts"]) == ("orders" in keys), role
    problem(await api.get("/v1/dashboard", headers=SHOP), 403)  # a storefront key
    problem(await api.get("/v1/dashboard"), 401)


async def test_a_scoped_manager_counts_only_their_warehouses(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    admin = await staff(api, "admin")
    sh01, gz01 = await warehouse_id(stack, "SH01"), await warehouse_id(stack, "GZ01")
    created = await api.post(
        "/v1/admin/users",
        json={
            "username": "dash-sh01",
            "display_name": "上海仓主管",
            "password": PASSWORD,
            "roles": ["warehouse_manager"],
            "warehouse_ids": [sh01],
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    scoped = bearer((await login(api, "dash-sh01", PASSWORD)).json()["access_token"])
    [sku] = await skus_in(stack, "GZ01", only=True)
    order = await place_order(api, order_body(lines_of((sku, 1)), key="dash-gz"))
    await pay(api, provider, order["order_no"])
    released = await wait_released(api, order["order_no"])
    [package] = released["packages"]
    assert package["warehouse_id"] == gz01

    before_scoped = figure(await board_of(api, scoped), "warehouse.flagged_packages")["value"]
    before_all = figure(await board_of(api, admin), "warehouse.flagged_packages")["value"]
    async with stack.sessions() as session:  # the package as a weight hold would leave it
        await session.execute(
            text("UPDATE packages SET status = 'weight_hold' WHERE package_no = :p"),
            {"p": package["package_no"]},
        )
        await session.commit()
    assert figure(await board_of(api, admin), "warehouse.flagged_packages")["value"] == (
        before_all + 1
    )
    assert figure(await board_of(api, scoped), "warehouse.flagged_packages")["value"] == (
        before_scoped
    )
