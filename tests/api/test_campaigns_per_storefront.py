"""Flash-sale limits and group-buy membership belong to the customer record (issue 16, DESIGN
§6.8), over HTTP on the whole back office: two storefronts naming their customers by the same
key are two customers —

- each has their own per-customer flash limit (the look and the gate count the record), the
  same customer twice is still refused, and a cancelled order gives back its own customer's
  count only;
- both may join the same group, while the same customer twice is refused; the group shows each
  member by their storefront's key, as before."""

from __future__ import annotations

import itertools
import os
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, text

from models.contracts.group_buy import GroupMember, GroupRecord, GroupView
from models.db import FlashClaim, GroupBuyMember, OrderNumber
from services import flash_gate
from services.group_buys import record_group
from tests.api.test_group_buys import buyer, create_offer
from tests.support.flash_sales import create_flash_sale, flash_sale, wait_flash_status
from tests.support.members import another_storefront
from tests.support.order_api import Headers, order_body, problem, skus_in, staff, warehouse_id
from tests.support.orders import SHOP, eventually, known_customer
from tests.support.stack import Stack

_keys = itertools.count(7_600_000_000 + os.getpid() * 1_000)


async def buy_as(
    api: httpx.AsyncClient, headers: Headers, sale: dict[str, Any], customer: int, key: str
) -> httpx.Response:
    body = order_body([{"sku_id": sale["sku_id"], "quantity": 1}], key=key, customer_id=customer)
    body["flash_sale_id"] = sale["id"]
    return await api.post("/v1/orders", json=body, headers=headers)


async def shop_of(stack: Stack, record_id: int) -> int:
    async with stack.sessions() as session:
        found = await session.scalar(
            text("SELECT api_key_id FROM customers WHERE id = :id"), {"id": record_id}
        )
    assert found is not None
    return int(found)


async def test_two_storefronts_same_customer_key_each_have_their_own_flash_limit(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    key = next(_keys)
    other = await another_storefront(stack)
    mine = (await known_customer(api, key))["id"]
    theirs = (await known_customer(api, key, other))["id"]
    ops = await staff(api, "ops")
    [sku] = await skus_in(stack, "SH01")
    sh01 = await warehouse_id(stack, "SH01")
    sale = await create_flash_sale(
        api, ops, sku_id=sku, warehouse_id=sh01, price_fen=1, quantity=3, limit=1
    )
    await wait_flash_status(api, sale["id"], "open", ops)

    first = await buy_as(api, SHOP, sale, key, f"fl-{key}-1")
    assert first.status_code == 201, first.text
    # The other storefront's customer with the same key is another buyer: their own limit.
    second = await buy_as(api, other, sale, key, f"fl-{key}-2")
    assert second.status_code == 201, second.text
    # The same customer again is over the limit, on either storefront.
    for headers, client_key in ((SHOP, f"fl-{key}-3"), (other, f"fl-{key}-4")):
        refused = problem(await buy_as(api, headers, sale, key, client_key), 409)
        assert refused["errors"][0]["reason"] == "over_limit"
    shown = await flash_sale(api, sale["id"], ops)
    assert (shown["sold"], shown["remaining"]) == (2, 1)
    # Each claim names the storefront's key, as its order does, and its own customer record.
    async with stack.sessions() as session:
        claims = (
            await session.execute(
                select(FlashClaim.order_no, FlashClaim.customer_id, FlashClaim.customer_record_id)
                .where(FlashClaim.flash_sale_id == sale["id"])
                .order_by(FlashClaim.customer_record_id)
            )
        ).all()
    assert sorted(tuple(c) for c in claims) == sorted(
        [(first.json()["order_no"], key, mine), (second.json()["order_no"], key, theirs)]
    )
    assert first.json()["customer_id"] == second.json()["customer_id"] == key

    # My customer's order cancelled gives back my customer's count, not theirs.
    number = first.json()["order_no"]
    cancelled = await api.post(f"/v1/orders/{number}/cancel", json={}, headers=SHOP)
    assert cancelled.status_code == 200, cancelled.text

    async def released() -> bool:
        async with stack.sessions() as session:
            claim = await session.get(FlashClaim, number)
        return claim is not None and claim.status == "released"

    await eventually(released, "my customer's unit given back")
    again = await buy_as(api, SHOP, sale, key, f"fl-{key}-5")
    assert again.status_code == 201, again.text
    still = problem(await buy_as(api, other, sale, key, f"fl-{key}-6"), 409)
    assert still["errors"][0]["reason"] == "over_limit"
    shown = await flash_sale(api, sale["id"], ops)
    assert (shown["sold"], shown["remaining"], shown["released_orders"]) == (2, 1, 1)


async def test_the_gate_itself_counts_the_customer_record(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    """The gate's own statement (what decides when the look lets buyers through together):
    claims for two storefronts' customer `key`, then refuses the first one's second claim."""
    key = next(_keys)
    other = await another_storefront(stack)
    shops = [await shop_of(stack, (await known_customer(api, key, h))["id"]) for h in (SHOP, other)]
    ops = await staff(api, "ops")
    [sku] = await skus_in(stack, "SH01")
    sh01 = await warehouse_id(stack, "SH01")
    sale = await create_flash_sale(
        api, ops, sku_id=sku, warehouse_id=sh01, price_fen=1, quantity=3, limit=1
    )
    await wait_flash_status(api, sale["id"], "open", ops)

    async with stack.sessions() as session:  # one transaction, rolled back: no orders made

        async def claim(shop: int, client_key: str) -> flash_gate.GateResult:
            return await flash_gate.claim(
                session, flash_sale_id=sale["id"], api_key_id=shop, client_key=client_key,
                today=date.today(), customer_id=key, sku_id=sku, quantity=1,
            )  # fmt: skip

        answers = [
            (await claim(shops[0], f"g-{key}-1")).answer,
            (await claim(shops[1], f"g-{key}-2")).answer,
            (await claim(shops[0], f"g-{key}-3")).answer,
            (await claim(shops[1], f"g-{key}-4")).answer,
        ]
        bought = (
            await session.execute(
                text(
                    "SELECT c.api_key_id, b.bought FROM flash_buyers b "
                    "JOIN customers c ON c.id = b.customer_id WHERE b.flash_sale_id = :f"
                ),
                {"f": sale["id"]},
            )
        ).all()
        await session.rollback()
    assert answers == ["claimed", "claimed", "over_limit", "over_limit"]
    assert sorted(tuple(b) for b in bought) == sorted([(shops[0], 1), (shops[1], 1)])


async def test_two_storefronts_same_customer_key_both_join_one_group(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    key = next(_keys)
    other = await another_storefront(stack)
    mine = (await known_customer(api, key))["id"]
    theirs = (await known_customer(api, key, other))["id"]
    [sku] = await skus_in(stack, "SH01")
    offer = await create_offer(api, sku, size=3)

    opened = await api.post(
        "/v1/group-buys", json={**buyer(f"gp-{key}-1", key), "offer_id": offer["id"]}, headers=SHOP
    )
    assert opened.status_code == 201, opened.text
    group_no = opened.json()["group"]["group_no"]

    def join(headers: Headers, client_key: str) -> Any:
        return api.post(
            f"/v1/group-buys/{group_no}/members", json=buyer(client_key, key), headers=headers
        )

    joined = await join(other, f"gp-{key}-2")
    assert joined.status_code == 201, joined.text  # another storefront's customer `key`
    group = joined.json()["group"]
    # Shown by the storefront's key, as before: two members, both `key`.
    assert [(m["customer_id"], m["status"]) for m in group["member_list"]] == [
        (key, "joined"),
        (key, "joined"),
    ]
    assert (group["members"], group["opened_by"]) == (2, key)
    # The same customer twice is refused, from either storefront.
    for headers, client_key in ((SHOP, f"gp-{key}-3"), (other, f"gp-{key}-4")):
        twice = problem(await join(headers, client_key), 409)
        assert twice["errors"][0]["type"] == "AlreadyInGroupError"

    async def members() -> list[tuple[Any, ...]] | None:
        async with stack.sessions() as session:
            rows = (
                await session.execute(
                    select(
                        GroupBuyMember.order_no,
                        GroupBuyMember.customer_id,
                        GroupBuyMember.customer_record_id,
                    ).where(GroupBuyMember.group_no == group_no)
                )
            ).all()
        return sorted(tuple(r) for r in rows) if len(rows) == 2 else None

    assert await eventually(members, "both members recorded") == sorted(
        [
            (opened.json()["order"]["order_no"], key, mine),
            (joined.json()["order"]["order_no"], key, theirs),
        ]
    )


async def test_a_member_who_joined_before_joins_named_their_record_is_recorded_by_their_order(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    """A group in flight when this came in holds members without their record: its projection
    finds it by the member's order number (whose storefront it is) and key."""
    key = next(_keys)
    other = await another_storefront(stack)
    mine = (await known_customer(api, key))["id"]
    theirs = (await known_customer(api, key, other))["id"]
    shops = [await shop_of(stack, record) for record in (mine, theirs)]
    [sku] = await skus_in(stack, "SH01")
    offer = await create_offer(api, sku, size=3)
    now = datetime.now(UTC)
    numbers = [f"SO{key}{n}"[:24] for n in (1, 2)]
    view = GroupView(
        group_no=f"GB{key}1"[:24], offer_id=offer["id"], sku_id=sku, price_fen=1, size=3,
        status="forming", opened_by=key, opened_at=now, deadline=now + timedelta(hours=1),
        members=[
            GroupMember(customer_id=key, order_no=numbers[0], joined_at=now),
            GroupMember(customer_id=key, order_no=numbers[1], joined_at=now),
        ],
    )  # fmt: skip
    async with stack.sessions() as session:  # one transaction, rolled back
        for number, shop in zip(numbers, shops, strict=True):
            session.add(OrderNumber(order_no=number, api_key_id=shop, client_order_key=number))
        await session.flush()
        await record_group(session, GroupRecord(view=view, version=1))
        rows = (
            await session.execute(
                select(GroupBuyMember.order_no, GroupBuyMember.customer_record_id).where(
                    GroupBuyMember.group_no == view.group_no
                )
            )
        ).all()
        await session.rollback()
    assert sorted(tuple(r) for r in rows) == [(numbers[0], mine), (numbers[1], theirs)]
