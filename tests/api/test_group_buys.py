"""Group buys (拼团) over the whole back office: operations create an offer; the storefront
opens a group and customers join it, each with an order at the group price; at N paid members
every order ships; stopping the offer early fails every forming group and refunds each paid
member exactly once (the money ledger says so); a full or closed group, a second join by the
same customer, and a stopped offer are refused with 409."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.support.order_api import (
    ledger,
    pay,
    problem,
    skus_in,
    staff,
    view,
    wait_released,
)
from tests.support.orders import ADDRESS, SHOP, eventually, known_customer, wait_cancelled
from tests.support.stack import Stack

PRICE_FEN = 1_990

Json = dict[str, Any]


async def create_offer(api: httpx.AsyncClient, sku: int, size: int, **extra: Any) -> Json:
    now = datetime.now(UTC)
    body = {
        "name": "两人团",
        "sku_id": sku,
        "group_price_fen": PRICE_FEN,
        "group_size": size,
        "time_limit_minutes": 60,
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat(),
        **extra,
    }
    answer = await api.post("/v1/group-buy-offers", json=body, headers=await staff(api, "ops"))
    assert answer.status_code == 201, answer.text
    offer: Json = answer.json()
    return offer


def buyer(key: str, customer_id: int) -> Json:
    return {"client_order_key": key, "customer_id": customer_id, "address": ADDRESS}


async def open_group(api: httpx.AsyncClient, offer_id: int, key: str, customer_id: int) -> Json:
    await known_customer(api, customer_id)
    answer = await api.post(
        "/v1/group-buys", json={**buyer(key, customer_id), "offer_id": offer_id}, headers=SHOP
    )
    assert answer.status_code == 201, answer.text
    joined: Json = answer.json()
    return joined


async def join(api: httpx.AsyncClient, group_no: str, key: str, customer_id: int) -> httpx.Response:
    await known_customer(api, customer_id)
    return await api.post(
        f"/v1/group-buys/{group_no}/members", json=buyer(key, customer_id), headers=SHOP
    )


async def group_of(api: httpx.AsyncClient, group_no: str) -> Json:
    answer = await api.get(f"/v1/group-buys/{group_no}", headers=SHOP)
    assert answer.status_code == 200, answer.text
    group: Json = answer.json()
    return group


async def wait_group(api: httpx.AsyncClient, group_no: str, status: str) -> Json:
    async def reached() -> Json | None:
        group = await group_of(api, group_no)
        return group if group["status"] == status else None

    found: Json = await eventually(reached, f"group {group_no} {status}")
    return found


async def test_a_group_of_two_completes_and_both_orders_ship(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    refused = await api.post(
        "/v1/group-buy-offers",
        json={"name": "x", "sku_id": sku, "group_price_fen": 1, "group_size": 2,
              "time_limit_minutes": 1, "starts_at": "2026-01-01T00:00:00Z",
              "ends_at": "2026-01-02T00:00:00Z"},
        headers=SHOP,
    )  # fmt: skip
    assert refused.status_code == 403
    offer = await create_offer(api, sku, size=2)
    assert (offer["status"], offer["figures"]["forming"]) == ("live", 0)

    opened = await open_group(api, offer["id"], "gb-1", customer_id=501)
    group_no, first = opened["group"]["group_no"], opened["order"]
    assert opened["group"]["status"] == "forming"
    assert [(m["customer_id"], m["status"]) for m in opened["group"]["member_list"]] == [
        (501, "joined")
    ]
    [line] = first["lines"]
    assert (line["sku_id"], line["quantity"], line["unit_price_fen"]) == (sku, 1, PRICE_FEN)
    assert first["payable_fen"] == PRICE_FEN + first["freight_fen"]
    # A resend of the same open is the same member and order, not a second group.
    again = await open_group(api, offer["id"], "gb-1", customer_id=501)
    assert (again["group"]["group_no"], again["order"]["order_no"]) == (
        group_no,
        first["order_no"],
    )

    twice = problem(await join(api, group_no, "gb-1b", customer_id=501), 409)
    assert twice["errors"][0]["type"] == "AlreadyInGroupError"
    answer = await join(api, group_no, "gb-2", customer_id=502)
    assert answer.status_code == 201, answer.text
    second = answer.json()["order"]
    full = problem(await join(api, group_no, "gb-3", customer_id=503), 409)
    assert full["errors"][0]["type"] == "GroupFullError"

    await pay(api, provider, first["order_no"])
    await eventually(
        lambda: _paid_count(api, group_no, 1), f"group {group_no} with one paid member"
    )
    # One of two paid: the paid order waits for its group, nothing released to a warehouse.
    waiting = await view(api, first["order_no"])
    assert waiting["status"] == "paid"
    assert {p["status"] for p in waiting["packages"]} == {"pending"}

    await pay(api, provider, second["order_no"])
    done = await wait_group(api, group_no, "completed")
    assert [m["status"] for m in done["member_list"]] == ["completed", "completed"]
    for order in (first, second):
        released = await wait_released(api, order["order_no"])
        assert "group_completed" in [e["step"] for e in released["timeline"]]
        assert await ledger(stack, order["order_no"]) == [("payment", order["payable_fen"])]
    closed = problem(await join(api, group_no, "gb-4", customer_id=504), 409)
    assert closed["errors"][0]["type"] == "GroupClosedError"
    figures = (await api.get(f"/v1/group-buy-offers/{offer['id']}", headers=SHOP)).json()
    assert figures["figures"] == {
        "forming": 0, "completed": 1, "failed": 0, "members": 0, "paid_members": 2
    }  # fmt: skip
    listed = await api.get(
        "/v1/group-buys", params={"offer_id": offer["id"], "status": "completed"}, headers=SHOP
    )
    assert [g["group_no"] for g in listed.json()["data"]] == [group_no]


async def _paid_count(api: httpx.AsyncClient, group_no: str, paid: int) -> bool | None:
    return (await group_of(api, group_no))["paid"] == paid or None


async def test_stopping_the_offer_fails_forming_groups_and_refunds_each_paid_member_once(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    offer = await create_offer(api, sku, size=3)
    opened = await open_group(api, offer["id"], "gs-1", customer_id=601)
    group_no, first = opened["group"]["group_no"], opened["order"]
    answer = await join(api, group_no, "gs-2", customer_id=602)
    assert answer.status_code == 201, answer.text
    second = answer.json()["order"]
    await pay(api, provider, first["order_no"])
    await eventually(lambda: _paid_count(api, group_no, 1), "one paid member")

    ops = await staff(api, "ops")
    stopped = await api.post(
        f"/v1/group-buy-offers/{offer['id']}/stop", json={"reason": "库存调整"}, headers=ops
    )
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["status"] == "stopped"
    failed = await wait_group(api, group_no, "failed")
    assert failed["reason"] == "offer stopped: 库存调整"
    assert [m["status"] for m in failed["member_list"]] == ["failed", "failed"]

    paid = await wait_cancelled(api, first["order_no"])
    assert paid["refunded_fen"] == first["payable_fen"]
    payable = first["payable_fen"]
    await eventually(
        lambda: _ledger_is(stack, first["order_no"], [("payment", payable), ("refund", -payable)]),
        "the paid member refunded",
    )
    unpaid = await wait_cancelled(api, second["order_no"])
    assert unpaid["refunded_fen"] == 0
    assert await ledger(stack, second["order_no"]) == []

    await known_customer(api, 603)
    refused = await api.post(
        "/v1/group-buys", json={**buyer("gs-3", 603), "offer_id": offer["id"]}, headers=SHOP
    )
    assert problem(refused, 409)["errors"][0]["type"] == "GroupClosedError"
    again = await api.post(
        f"/v1/group-buy-offers/{offer['id']}/stop", json={"reason": "再来"}, headers=ops
    )
    assert again.status_code == 409
    assert (await api.get("/v1/group-buys/GB9999999999", headers=SHOP)).status_code == 404
    unknown = await api.post(  # an unknown offer in the body: the body's fault, as OpenAPI says
        "/v1/group-buys", json={**buyer("gs-4", 603), "offer_id": 999_999}, headers=SHOP
    )
    assert problem(unknown, 422)["errors"][0]["field"] == "offer_id"
    # Still exactly one refund after everything settled.
    assert await ledger(stack, first["order_no"]) == [("payment", payable), ("refund", -payable)]


async def _ledger_is(stack: Stack, order_no: str, expected: list[tuple[str, int]]) -> bool | None:
    return await ledger(stack, order_no) == expected or None
