"""Transfers between warehouses (DESIGN §6.9) over the whole back office (PostgreSQL, the dev
server, a worker): SH01 → GZ01 requested, approved by the source's manager, picked in a wave,
shipped, received with short, over and damaged units — with the units on the books exactly
once after every step and both ledgers equal to the figures; rejected, cancelled after picking,
refused commands."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from models.db import Location, LocationStock, OutboundOrder, UserWarehouse
from tests.support.api import PASSWORD, add_user, bearer, login
from tests.support.order_api import DEVICE, problem, skus_in, staff, warehouse_id
from tests.support.stack import Stack
from tests.support.transfers import (
    books,
    movements,
    pick_transfer,
    request_transfer,
)


async def _manager_of(stack: Stack, api: httpx.AsyncClient, name: str, code: str) -> dict[str, str]:
    """A warehouse manager limited to one warehouse."""
    user = await add_user(stack.sessions, name, "warehouse_manager")
    async with stack.sessions() as session:
        session.add(UserWarehouse(user_id=user, warehouse_id=await warehouse_id(stack, code)))
        await session.commit()
    return bearer((await login(api, name, PASSWORD)).json()["access_token"])


async def test_sh01_to_gz01_keeps_every_unit_once_from_request_to_receipt(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    sh, gz = await warehouse_id(stack, "SH01"), await warehouse_id(stack, "GZ01")
    [sku] = await skus_in(stack, "SH01")
    start = await books(stack, sku, sh, gz)
    ops = await staff(api, "ops")

    # Requested: reserved at the source at once, so it is not sold twice; nothing moved yet.
    asked = await request_transfer(api, sh, gz, [(sku, 5)], ops, request_key="tr-1")
    assert asked.status_code == 201, asked.text
    number = asked.json()["transfer_no"]
    assert number.startswith("TR") and asked.json()["status"] == "requested"
    requested = await books(stack, sku, sh, gz)
    assert requested.source == (start.source[0], start.source[1] + 5, start.source[2])
    assert requested.destination == start.destination and requested.units == start.units
    again = await request_transfer(api, sh, gz, [(sku, 5)], ops, request_key="tr-1")
    assert again.status_code == 201 and again.json()["transfer_no"] == number
    assert (await books(stack, sku, sh, gz)) == requested  # the same request, reserved once

    # Approval belongs to a manager of the SOURCE: GZ01's is refused, SH01's decides.
    gz_manager = await _manager_of(stack, api, "gz-manager", "GZ01")
    problem(await api.post(f"/v1/transfers/{number}/approve", headers=gz_manager), 403)
    problem(await api.post(f"/v1/transfers/{number}/approve", headers=ops), 403)
    sh_manager = await _manager_of(stack, api, "sh-manager", "SH01")
    approved = await api.post(f"/v1/transfers/{number}/approve", headers=sh_manager)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    async with stack.sessions() as session:  # released to the source's floor like a package
        outbound = await session.get(OutboundOrder, number)
        assert outbound is not None and (outbound.warehouse_id, outbound.status) == (sh, "waiting")
    assert (await books(stack, sku, sh, gz)) == requested

    # Picked through a wave like any outbound: still on hand (and reserved) at the source.
    picked = await pick_transfer(api, DEVICE["SH01"], sh, number)
    assert picked["wave_no"] and picked["lines"][0]["picked"] == 5
    assert (await books(stack, sku, sh, gz)) == requested
    problem(
        await api.post(
            f"/v1/transfers/{number}/receive",
            json={"receipt_key": "early", "lines": [{"line_no": 1, "good": 5}]},
            headers=DEVICE["GZ01"],
        ),
        409,
    )

    # Shipped: off the source's books, in transit at the destination, the same units.
    shipped = await api.post(f"/v1/transfers/{number}/ship", headers=sh_manager)
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["status"] == "in_transit" and shipped.json()["lines"][0]["shipped"] == 5
    on_road = await books(stack, sku, sh, gz)
    assert on_road.source == (start.source[0] - 5, start.source[1], start.source[2])
    assert on_road.destination == (start.destination[0], 0, start.destination[2] + 5)
    assert on_road.units == start.units
    stock = (await api.get("/v1/stock", params={"sku_id": sku, "warehouse_id": gz},
                           headers=ops)).json()["data"]  # fmt: skip
    assert [row["in_transit"] for row in stock] == [start.destination[2] + 5]
    problem(await api.post(f"/v1/transfers/{number}/cancel", json={"reason": "晚了"},
                           headers=ops), 409)  # fmt: skip

    # Received at GZ01 by its device: 2 good, 1 damaged, 2 short (lost on the way).
    receipt = {"receipt_key": "gz-r1", "lines": [{"line_no": 1, "good": 2, "damaged": 1}]}
    problem(
        await api.post(f"/v1/transfers/{number}/receive", json=receipt, headers=DEVICE["SH01"]),
        403,
    )
    received = await api.post(
        f"/v1/transfers/{number}/receive", json=receipt, headers=DEVICE["GZ01"]
    )
    assert received.status_code == 200, received.text
    shown = received.json()
    assert shown["status"] == "closed"
    [line] = shown["lines"]
    assert (line["shipped"], line["good"], line["damaged"], line["short"], line["over"]) == (
        5, 2, 1, 2, 0,
    )  # fmt: skip
    steps = [e["step"] for e in shown["timeline"]]
    assert steps == ["requested", "approved", "picked", "shipped", "received", "closed"]
    done = await books(stack, sku, sh, gz)
    assert done.destination == (start.destination[0] + 3, 0, start.destination[2])
    assert done.units == start.units - 2  # exactly the short, written off in transit
    assert await movements(stack, number) == {
        "reservation": 5,
        "transfer_out": -10,  # on hand −5 and reserved −5 in one row per batch
        "transfer_shipped": 5,
        "transfer_arrived": -3,
        "transfer_lost": -2,
        "transfer_in": 3,
    }
    async with stack.sessions() as session:  # good at receiving, damaged blocked at damage
        places = dict(
            (
                await session.execute(
                    select(Location.kind, LocationStock.quantity)
                    .join(Location, Location.id == LocationStock.location_id)
                    .where(LocationStock.sku_id == sku, LocationStock.warehouse_id == gz,
                           Location.kind.in_(("receiving", "damage")))
                )
            ).all()
        )  # fmt: skip
        blocked = await session.scalar(
            select(LocationStock.disabled)
            .join(Location, Location.id == LocationStock.location_id)
            .where(LocationStock.sku_id == sku, Location.kind == "damage",
                   LocationStock.warehouse_id == gz)
        )  # fmt: skip
    assert places == {"receiving": 2, "damage": 1} and blocked is True

    # The device resends (its answer was lost): the same answer, nothing booked twice.
    resent = await api.post(f"/v1/transfers/{number}/receive", json=receipt, headers=DEVICE["GZ01"])
    assert resent.status_code == 200 and resent.json()["status"] == "closed"
    assert await books(stack, sku, sh, gz) == done
    other = {"receipt_key": "gz-r2", "lines": [{"line_no": 1, "good": 5}]}
    problem(
        await api.post(f"/v1/transfers/{number}/receive", json=other, headers=DEVICE["GZ01"]), 409
    )

    listed = (await api.get("/v1/transfers", params={"to_warehouse_id": gz}, headers=ops)).json()
    assert [t["transfer_no"] for t in listed["data"]] == [number]
    note = await api.get(f"/v1/transfers/{number}/note.pdf", headers=ops)
    assert note.status_code == 200 and note.content.startswith(b"%PDF")


async def test_over_delivered_units_are_recorded_and_put_on_hand(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    sh, gz = await warehouse_id(stack, "SH01"), await warehouse_id(stack, "GZ01")
    [sku] = await skus_in(stack, "SH01")
    start = await books(stack, sku, sh, gz)
    manager = await staff(api, "warehouse_manager")
    number = (await request_transfer(api, sh, gz, [(sku, 2)], manager)).json()["transfer_no"]
    assert (await api.post(f"/v1/transfers/{number}/approve", headers=manager)).status_code == 200
    await pick_transfer(api, DEVICE["SH01"], sh, number)
    assert (await api.post(f"/v1/transfers/{number}/ship", headers=manager)).status_code == 200
    receipt = {"receipt_key": "over", "lines": [{"line_no": 1, "good": 3}]}
    received = await api.post(f"/v1/transfers/{number}/receive", json=receipt, headers=manager)
    assert received.status_code == 200, received.text
    [line] = received.json()["lines"]
    assert (line["good"], line["short"], line["over"]) == (3, 0, 1)
    done = await books(stack, sku, sh, gz)
    assert done.units == start.units + 1 and done.destination[2] == start.destination[2]


async def test_rejected_or_cancelled_after_picking_gives_everything_back(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    sh, gz = await warehouse_id(stack, "SH01"), await warehouse_id(stack, "GZ01")
    [sku] = await skus_in(stack, "SH01")
    start = await books(stack, sku, sh, gz)
    manager = await staff(api, "warehouse_manager")

    first = (await request_transfer(api, sh, gz, [(sku, 1)], manager)).json()["transfer_no"]
    problem(await api.post(f"/v1/transfers/{first}/reject", json={"reason": " "},
                           headers=manager), 422)  # fmt: skip
    rejected = await api.post(
        f"/v1/transfers/{first}/reject", json={"reason": "库存不足以调拨"}, headers=manager
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert await books(stack, sku, sh, gz) == start
    assert await movements(stack, first) == {"reservation": 1, "release": -1}

    second = (await request_transfer(api, sh, gz, [(sku, 2)], manager)).json()["transfer_no"]
    assert (await api.post(f"/v1/transfers/{second}/approve", headers=manager)).status_code == 200
    await pick_transfer(api, DEVICE["SH01"], sh, second)
    cancelled = await api.post(
        f"/v1/transfers/{second}/cancel", json={"reason": "不调了"}, headers=manager
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert await books(stack, sku, sh, gz) == start  # the picked units are back, unreserved
    async with stack.sessions() as session:
        held = await session.scalar(
            select(LocationStock.reserved).where(LocationStock.sku_id == sku,
                                                 LocationStock.warehouse_id == sh,
                                                 LocationStock.reserved > 0)
        )  # fmt: skip
    assert held is None
    problem(await api.post(f"/v1/transfers/{second}/ship", headers=manager), 409)


async def test_refused_requests_reserve_nothing(stack: Stack, api: httpx.AsyncClient) -> None:
    sh, gz = await warehouse_id(stack, "SH01"), await warehouse_id(stack, "GZ01")
    [sku] = await skus_in(stack, "SH01")
    start = await books(stack, sku, sh, gz)
    manager = await staff(api, "warehouse_manager")
    short = problem(await request_transfer(api, sh, gz, [(sku, 10_000_000)], manager), 409)
    assert short["errors"][0]["sku_ids"] == [sku]
    same = problem(await request_transfer(api, sh, sh, [(sku, 1)], manager), 422)
    assert same["errors"][0]["field"] == "to_warehouse_id"
    twice = problem(await request_transfer(api, sh, gz, [(sku, 1), (sku, 1)], manager), 422)
    assert twice["errors"][0]["field"] == "lines.1.sku_id"
    problem(await request_transfer(api, sh, gz, [(sku, 1)], await staff(api, "finance")), 403)
    assert await books(stack, sku, sh, gz) == start
    assert (await api.get("/v1/transfers", headers=manager)).json()["count"] == 0
