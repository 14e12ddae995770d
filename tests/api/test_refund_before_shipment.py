"""Refund-only before shipment over HTTP on the whole back office (issue 6 item 2): the units
leave their package before it is picked — no longer reserved, a release row in the stock ledger,
the package's lines shrink — the provider refunds their allocated amount, the rest of the package
is picked, shipped and delivered, and both ledgers balance. The whole order taken out this way
ends cancelled with exactly the payment refunded."""

from __future__ import annotations

import httpx
from sqlalchemy import select, text

from models.db import PackageLine, PickAllocation, StockMovement
from tests.api.test_waves import assert_location_holds
from tests.support.order_api import (
    Json,
    figures,
    only_in,
    paid_order,
    problem,
    refunds,
    reservations,
    view,
)
from tests.support.orders import SHOP, deliver, eventually, pack_and_hand_over
from tests.support.picking import plan_now
from tests.support.stack import Stack


async def _ask(api: httpx.AsyncClient, order_no: str, key: str, *lines: tuple[int, int]) -> Json:
    body = {
        "client_request_key": key,
        "type": "refund_only",
        "lines": [{"line_no": no, "quantity": q} for no, q in lines],
        "reason": "不想要了",
    }
    answer = await api.post(f"/v1/orders/{order_no}/after-sales", headers=SHOP, json=body)
    assert answer.status_code == 201, answer.text
    found: Json = answer.json()
    return found


async def _refunded(api: httpx.AsyncClient, as_no: str) -> Json:
    async def done() -> Json | None:
        shown = await api.get(f"/v1/after-sales/{as_no}", headers=SHOP)
        body: Json = shown.json()
        return body if shown.status_code == 200 and body["status"] == "refunded" else None

    found: Json = await eventually(done, f"{as_no} refunded")
    return found


async def _money(stack: Stack, order_no: str) -> int:
    async with stack.sessions() as session:
        total = await session.scalar(
            text("SELECT SUM(amount_fen) FROM money_ledger WHERE order_no = :o"), {"o": order_no}
        )
    return int(total or 0)


async def test_a_unit_taken_out_before_picking_is_refunded_and_the_rest_ships(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> None:
    sku = await only_in(stack, "SH01")
    before = await figures(stack)
    order = await paid_order(stack, api, [(sku, 3)])
    number, line = order["order_no"], order["lines"][0]
    [parcel] = order["packages"]
    opened = await _ask(api, number, "before-1", (line["line_no"], 1))
    assert opened["refund_fen"] == line["paid_fen"] // 3
    assert opened["sla_due_at"] is None  # nothing to decide: it never left the warehouse
    done = await _refunded(api, opened["as_no"])
    assert done["decided_by"] == "system:after-sale"

    [held] = await reservations(stack, number)
    assert (held.status, held.quantity) == ("held", 2)
    key = next(k for k in before if k[0] == sku)
    assert (await figures(stack))[key] == (before[key][0], before[key][1] + 2)
    async with stack.sessions() as session:
        released = (
            await session.scalars(
                select(StockMovement.reserved_delta).where(
                    StockMovement.ref_type == "after_sale",
                    StockMovement.ref_no == opened["as_no"],
                    StockMovement.movement_type == "release",
                )
            )
        ).all()
        boxed = await session.scalar(
            select(PackageLine.quantity).where(PackageLine.package_no == parcel["package_no"])
        )
    assert (list(released), boxed) == ([-1], 2)
    assert await _money(stack, number) == order["payable_fen"] - opened["refund_fen"]

    await deliver(carrier, await pack_and_hand_over(api, parcel))

    async def delivered() -> Json | None:
        shown = await view(api, number)
        return shown if shown["status"] == "delivered" else None

    await eventually(delivered, "order delivered")
    assert (await figures(stack))[key] == (before[key][0] - 2, before[key][1])
    body = {
        "client_request_key": "after-1",
        "type": "refund_only",
        "lines": [{"line_no": line["line_no"], "quantity": 3}],
        "reason": "质量问题",
    }
    refused = problem(
        await api.post(f"/v1/orders/{number}/after-sales", headers=SHOP, json=body), 409
    )
    assert "2" in refused["detail"], refused  # 3 bought, 1 refunded already: at most 2


async def test_the_whole_order_taken_out_before_picking_ends_cancelled_refunded_once(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    sku = await only_in(stack, "SH01")
    before = await figures(stack)
    order = await paid_order(stack, api, [(sku, 2)])
    number, line = order["order_no"], order["lines"][0]
    opened = await _ask(api, number, "all-1", (line["line_no"], 2))
    assert opened["refund_fen"] == order["payable_fen"]  # goods and freight: all of it

    async def cancelled() -> Json | None:
        shown = await view(api, number)
        return shown if shown["status"] == "cancelled" else None

    shown = await eventually(cancelled, "order cancelled")
    assert shown["refunded_fen"] == order["payable_fen"]
    assert [r.amount_fen for r in await refunds(stack, number)] == [order["payable_fen"]]
    assert await _money(stack, number) == 0
    assert await figures(stack) == before  # nothing reserved, nothing moved
    assert [r.status for r in await reservations(stack, number)] == ["released"]


async def test_a_package_in_a_wave_gives_up_all_its_units_or_none(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    sku = await only_in(stack, "SH01")
    before = await figures(stack)
    order = await paid_order(stack, api, [(sku, 2)])
    number, line = order["order_no"], order["lines"][0]
    [parcel] = order["packages"]
    [wave] = await plan_now(api, parcel["warehouse_id"])
    body = {
        "client_request_key": "part-1",
        "type": "refund_only",
        "lines": [{"line_no": line["line_no"], "quantity": 1}],
        "reason": "不想要了",
    }
    part = problem(await api.post(f"/v1/orders/{number}/after-sales", headers=SHOP, json=body), 409)
    assert f"being picked in wave {wave['wave_no']}" in part["detail"]
    assert [r.quantity for r in await reservations(stack, number)] == [2]  # nothing changed
    opened = await _ask(api, number, "all-1", (line["line_no"], 2))
    await _refunded(api, opened["as_no"])
    async with stack.sessions() as session:
        holds = (
            await session.scalars(
                select(PickAllocation.status).where(
                    PickAllocation.package_no == parcel["package_no"]
                )
            )
        ).all()
    assert holds and set(holds) == {"cancelled"}  # its picks left the wave
    await assert_location_holds(stack)
    assert await figures(stack) == before
