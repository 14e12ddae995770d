"""End to end over HTTP (issue 4): 20 paid orders in one warehouse → plan → two devices pick
(one pick comes up short and nothing else is left) → put wall → pack → labels and slips →
handed over. Every package ships; the short unit is refunded; both ledgers balance."""

from __future__ import annotations

import asyncio
import io

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import func, select, text

from models.contracts.order import OrderPolicy
from models.db import Stock
from services.stock_ledger import sellable_units
from tests.api.test_waves import assert_location_holds, device_key
from tests.support.order_api import (
    DEVICE,
    RECEIVER,
    Json,
    http,
    only_in,
    order_body,
    package,
    pay,
    place_order,
    skus_in,
    view,
    wait_released,
)
from tests.support.orders import eventually, pack_and_hand_over
from tests.support.picking import claim, pick_task, plan_now, scan_id, sort_wave
from tests.support.stack import Stack

CANCEL_LINE = {"policy": OrderPolicy(short_pick_policy="cancel_line")}


async def sellable(stack: Stack, sku_id: int) -> int:
    async with stack.sessions() as session:
        units = await session.scalar(
            select(func.sum(sellable_units())).where(Stock.sku_id == sku_id)
        )
    return int(units or 0)


async def place_and_pay(
    stack: Stack, api: httpx.AsyncClient, carts: list[list[tuple[int, int]]]
) -> list[Json]:
    numbers = []
    for n, cart in enumerate(carts):
        body = order_body(
            [{"sku_id": sku, "quantity": q} for sku, q in cart],
            key=f"wave-cart-{n}",
            customer_id=100 + n,
            address=RECEIVER,
        )
        numbers.append((await place_order(api, body))["order_no"])
    async with http(stack.payments) as provider:
        for number in numbers:
            await pay(api, provider, number)
    return [await wait_released(api, number) for number in numbers]


async def pick_with(
    api: httpx.AsyncClient, device: dict[str, str], short_once: asyncio.Event
) -> int:
    """Pick tasks until none are left; the first stop of the big line is found one short."""
    tasks = 0
    while (task := await claim(api, device)) is not None:
        tasks += 1
        while task["next"]["action"] == "pick":
            stop = task["next"]["stop"]
            if stop["remaining"] > 10 and not short_once.is_set():
                short_once.set()
                answer = await api.post(
                    f"/v1/pick-tasks/{task['task_no']}/short",
                    headers=device,
                    json={"scan_id": scan_id("short"), "found": stop["remaining"] - 1},
                )
                assert answer.status_code == 200, answer.text
                task = answer.json()
                continue
            task = await pick_task(api, device, task)
    return tasks


@pytest.mark.parametrize("stack", [CANCEL_LINE], indirect=True, ids=["cancel-line"])
async def test_twenty_orders_are_planned_picked_sorted_packed_labelled_and_shipped(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    scarce = await only_in(stack, "SH01")
    plenty = [s for s in await skus_in(stack, "SH01", count=9) if s != scarce][:8]
    everything = await sellable(stack, scarce)
    carts = (
        [[(plenty[n % 8], 1)] for n in range(11)]  # 55 %: single unit
        + [[(plenty[0], 2)], [(plenty[1], 3)]]  # 10 %: single line, several units
        + [[(plenty[n % 8], 1), (plenty[(n + 3) % 8], 2)] for n in range(6)]  # 30 %: multi-line
        + [[(scarce, everything)]]  # every unit of it: a short pick cannot be made good
    )
    orders = await place_and_pay(stack, api, carts)
    assert len(orders) == 20
    warehouse = orders[0]["packages"][0]["warehouse_id"]
    assert {p["warehouse_id"] for o in orders for p in o["packages"]} == {warehouse}

    waves = await plan_now(api, warehouse)
    assert sum(w["orders"] for w in waves) == 20
    assert {w["profile"] for w in waves} == {"single_unit", "single_line", "multi_line"}
    second = await device_key(stack, "SH01", "pda-sh01-e2e")
    short_once = asyncio.Event()
    counts = await asyncio.gather(
        pick_with(api, DEVICE["SH01"], short_once), pick_with(api, second, short_once)
    )
    assert short_once.is_set() and sum(counts) >= len(waves)
    sorted_units = 0
    for wave in waves:
        sorted_units += len(await sort_wave(api, DEVICE["SH01"], wave["wave_no"]))
    assert sorted_units == sum(q for cart in carts if len(cart) > 1 for _, q in cart)

    labels: dict[str, bytes] = {}
    for order in orders:
        for parcel in order["packages"]:
            tracking_no = await pack_and_hand_over(api, parcel)
            label = await api.get(
                f"/v1/packages/{parcel['package_no']}/label.pdf", headers=DEVICE["SH01"]
            )
            assert label.status_code == 200 and label.headers["content-type"] == "application/pdf"
            text_of = "".join(p.extract_text() for p in PdfReader(io.BytesIO(label.content)).pages)
            assert tracking_no in text_of and parcel["package_no"] in text_of
            labels[parcel["package_no"]] = label.content
    # A reprint is the same document (and never asks the carrier again).
    first = next(iter(labels))
    again = await api.get(f"/v1/packages/{first}/label.pdf", headers=DEVICE["SH01"])
    assert again.content == labels[first]
    slip = await api.get(f"/v1/packages/{first}/packing-slip.pdf", headers=DEVICE["SH01"])
    assert slip.status_code == 200 and slip.content.startswith(b"%PDF")

    for order in orders:
        for parcel in order["packages"]:
            assert (await package(api, parcel["package_no"], DEVICE["SH01"]))["status"] == "shipped"
    # The short order: one unit refunded, the rest shipped.
    short_order = orders[-1]

    async def refunded() -> Json | None:
        shown = await view(api, short_order["order_no"])
        return shown if shown["refunded_fen"] > 0 else None

    shown = await eventually(refunded, "the short unit refunded")
    unit_price = shown["lines"][0]["paid_fen"] // everything
    assert shown["refunded_fen"] in (unit_price, unit_price + 1)
    assert "short_refunded" in [e["step"] for e in shown["timeline"]]
    for wave in waves:
        listed = (await api.get(f"/v1/waves/{wave['wave_no']}", headers=DEVICE["SH01"])).json()
        assert listed["status"] == "done"
    await assert_location_holds(stack)
    async with stack.sessions() as session:
        unbalanced = (
            await session.execute(
                text(
                    """SELECT o.order_no FROM orders o
                       LEFT JOIN (SELECT order_no, SUM(amount_fen) AS total FROM money_ledger
                                  GROUP BY order_no) m USING (order_no)
                       WHERE o.paid_fen - o.refunded_fen <> COALESCE(m.total, 0)"""
                )
            )
        ).all()
    assert unbalanced == []
