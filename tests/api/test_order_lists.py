"""Who sees which orders over the whole back office: a storefront only its own, staff every
order, listed by status, customer, SKU, warehouse and risk-review escalation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from core.security import hash_api_key, new_api_key
from models.contracts.order import OrderPolicy
from models.db import ApiKey
from tests.support.order_api import (
    lines_of,
    order_body,
    place_order,
    problem,
    skus_in,
    staff,
    view,
    warehouse_id,
)
from tests.support.orders import SHOP, eventually, wait_status
from tests.support.stack import Stack, fast_timings

# --- visibility and lists ---------------------------------------------------------------------


async def test_a_storefront_sees_only_its_own_orders(stack: Stack, api: httpx.AsyncClient) -> None:
    key, prefix = new_api_key()
    async with stack.sessions() as session:
        session.add(
            ApiKey(name="另一家店", prefix=prefix, key_hash=hash_api_key(key), role="storefront")
        )
        await session.commit()
    other = {"X-API-Key": key}
    [sku] = await skus_in(stack, "SH01")
    mine = await place_order(api, order_body(lines_of((sku, 1)), key="cart-7"))
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

    theirs = await place_order(api, order_body(lines_of((sku, 1)), key="cart-7"), headers=other)
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
    a = await place_order(api, order_body(lines_of((sh_sku, 1)), key="a", customer_id=501))
    b = await place_order(api, order_body(lines_of((gz_sku, 1)), key="b", customer_id=502))
    c = await place_order(api, order_body(lines_of((gz_sku, 1)), key="c", customer_id=501))
    d = await place_order(api, order_body(lines_of((dear, big)), key="d", customer_id=503))
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
