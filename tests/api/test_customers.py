"""Customers as records (DESIGN §6.7, §9): the storefront upserts them by its own customer key,
orders must name one of its customers (422 otherwise), staff find them by phone, name or order
number and see them masked until an audited reveal; a customer's orders, after-sales and
coupons."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy import func, select, text

from models.db import AuditEntry, Customer, OrderNumber
from tests.support.members import a_coupon, another_storefront, batch_done, past_order, upsert
from tests.support.order_api import (
    figures,
    lines_of,
    only_in,
    order_body,
    place_order,
    problem,
    staff,
)
from tests.support.orders import ADDRESS, SHOP
from tests.support.stack import Stack

MASKED_ADDRESS = {
    "name": "张*",
    "phone": "138****0000",
    "region_code": ADDRESS["region_code"],
    "detail": "浦东新区****",
    "masked": True,
}


async def test_the_storefront_upserts_by_its_key_and_orders_must_name_a_known_customer(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    sku = await only_in(stack, "SH01")
    before = await figures(stack)

    unknown = await api.post(
        "/v1/orders", json=order_body(lines_of((sku, 1)), customer_id=9001), headers=SHOP
    )

    [error] = problem(unknown, 422)["errors"]
    assert error["field"] == "customer_id"
    assert "customer 9001 is unknown to this storefront" in error["message"]
    assert await figures(stack) == before  # nothing reserved, no number taken
    async with stack.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OrderNumber)) == 0

    made = await upsert(api, 9001, "王小明", "13912345678")
    assert made["customer_key"] == 9001
    assert made["masked"] is False  # the storefront sent it and sees it whole
    assert made["contact"]["phone"] == "13912345678"
    again = await upsert(api, 9001, "王小明", "13987654321")
    assert again["id"] == made["id"]
    assert again["contact"]["phone"] == "13987654321"
    async with stack.sessions() as session:
        rows = (await session.scalars(select(Customer).where(Customer.customer_key == 9001))).all()
        actions = (
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.object_type == "customer")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [(r.phone, r.channel) for r in rows] == [("13987654321", "app")]
    assert actions == ["customer.create", "customer.update"]

    placed = await place_order(api, order_body(lines_of((sku, 1)), customer_id=9001))
    assert placed["customer_id"] == 9001

    # Another storefront's customer 9001 is another customer: its order is refused until it
    # sends its own.
    other = await another_storefront(stack)
    refused = await api.post(
        "/v1/orders",
        json=order_body(lines_of((sku, 1)), key="o-1", customer_id=9001),
        headers=other,
    )
    assert problem(refused, 422)["errors"][0]["field"] == "customer_id"
    theirs = await upsert(api, 9001, "李四", "13700000000", headers=other)
    assert theirs["id"] != made["id"]


async def test_customers_upsert_is_the_storefronts_and_checks_its_input(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    ops = await staff(api, "ops")
    body = {"name": "王小明", "phone": "13912345678"}
    assert (await api.put("/v1/customers/5", json=body, headers=ops)).status_code == 403
    for bad, field in (
        ({"name": "王小明", "phone": "call me"}, "phone"),
        ({"name": "", "phone": "13912345678"}, "name"),
        ({**body, "addresses": [{**ADDRESS, "region_code": "999999"}]}, "addresses.0.region_code"),
    ):
        answer = await api.put("/v1/customers/5", json=bad, headers=SHOP)
        assert field in [e["field"] for e in problem(answer, 422)["errors"]], answer.text
    too_big = await api.put(f"/v1/customers/{2**63}", json=body, headers=SHOP)
    assert problem(too_big, 422)["errors"][0]["field"] == "customer_key"


async def test_staff_find_customers_masked_and_a_reveal_is_audited(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    sku = await only_in(stack, "SH01")
    await upsert(api, 302, "李四", "13911112222")
    order_no = (await place_order(api, order_body(lines_of((sku, 1)), key="c-1", customer_id=301)))[
        "order_no"
    ]
    # The storefront sends its customer again, with the name they have now.
    zhang = await upsert(api, 301, "张三丰", "13800000000")
    cs = await staff(api, "cs")

    async def found(q: str) -> list[int]:
        answer = await api.get("/v1/customers", params={"q": q}, headers=cs)
        assert answer.status_code == 200, answer.text
        return [c["customer_key"] for c in answer.json()["data"]]

    assert await found("1380") == [301]  # a phone's first digits
    assert await found("李") == [302]  # part of a name
    assert await found(order_no) == [301]  # an order number
    assert await found("nobody") == []
    assert await found("%") == []  # a wildcard is a character, not a pattern

    shown = (await api.get(f"/v1/customers/{zhang['id']}", headers=cs)).json()
    assert shown["masked"] is True
    assert shown["contact"]["phone"] == "138****0000"
    assert shown["contact"]["name"] == "张**"
    assert shown["addresses"] == [MASKED_ADDRESS]
    listed = (await api.get("/v1/customers", params={"q": "1380"}, headers=cs)).text
    assert "13800000000" not in listed and "100 号" not in listed

    ops = await staff(api, "ops")
    assert (await api.post(f"/v1/customers/{zhang['id']}/reveal", headers=ops)).status_code == 403
    revealed = await api.post(f"/v1/customers/{zhang['id']}/reveal", headers=cs)
    assert revealed.status_code == 200, revealed.text
    assert revealed.json()["contact"]["phone"] == "13800000000"
    assert revealed.json()["addresses"] == [{**ADDRESS, "masked": False}]
    assert (await api.post("/v1/customers/999999/reveal", headers=cs)).status_code == 404
    async with stack.sessions() as session:
        rows = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.path == f"/v1/customers/{zhang['id']}/reveal")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [(r.actor_name, r.status_code) for r in rows] == [("ops", 403), ("cs", 200)]
    assert (rows[1].action, rows[1].object_id) == ("customer.reveal_contact", str(zhang["id"]))
    assert rows[1].detail == {"fields": ["name", "phone", "addresses"]}
    assert "13800000000" not in str(rows[1].detail)
    warehouse = await staff(api, "warehouse_manager")
    assert (await api.get("/v1/customers", headers=warehouse)).status_code == 403


async def test_a_customers_orders_after_sales_and_coupons(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    sku = await only_in(stack, "SH01")
    me = await upsert(api, 401, "赵六", "13600000000")
    await upsert(api, 402, "钱七", "13600000001")
    mine = [
        (await place_order(api, order_body(lines_of((sku, 1)), key=f"m-{n}", customer_id=401)))[
            "order_no"
        ]
        for n in range(2)
    ]
    await place_order(api, order_body(lines_of((sku, 1)), key="theirs", customer_id=402))
    await past_order(stack, "SO-AS-1", 401, days_ago=3, paid_fen=5000)
    now = datetime.now(UTC)
    async with stack.sessions() as session:
        await session.execute(
            text(
                "INSERT INTO after_sales (as_no, order_no, type, status, reason, evidence_urls, "
                "goods_fen, freight_fen, refund_fen, return_coupons, requested_by, requested_at, "
                "last_progress_at, status_seq) VALUES ('AS-TEST-1', 'SO-AS-1', 'refund_only', "
                "'refunded', '不想要了', '[]'::jsonb, 2000, 0, 2000, false, 'storefront', :at, "
                ":at, 3)"
            ),
            {"at": now},
        )
        await session.commit()
    cs = await staff(api, "cs")
    path = f"/v1/customers/{me['id']}"

    orders = (await api.get(f"{path}/orders", headers=cs)).json()
    assert orders["count"] == 3
    assert {o["order_no"] for o in orders["data"]} == {*mine, "SO-AS-1"}
    after_sales = (await api.get(f"{path}/after-sales", headers=cs)).json()
    assert [(a["as_no"], a["refund_fen"]) for a in after_sales["data"]] == [("AS-TEST-1", 2000)]
    assert (await api.get(f"{path}/coupons", headers=cs)).json() == {"data": [], "count": 0}

    coupon = await a_coupon(stack, "WELCOME")
    ops = await staff(api, "ops")
    segment = await api.post(
        "/v1/segments",
        json={"name": "赵六们", "rules": [{"kind": "paid_at_least", "min_fen": 5000, "days": 30}]},
        headers=ops,
    )
    assert segment.status_code == 201, segment.text
    batch = await api.post(
        f"/v1/segments/{segment.json()['id']}/coupon-batches",
        json={"coupon_id": coupon},
        headers=ops,
    )
    assert batch.status_code == 201, batch.text
    await batch_done(api, batch.json()["id"], ops)
    coupons = (await api.get(f"{path}/coupons", headers=cs)).json()
    assert [(c["code"], c["batch_id"], c["used"]) for c in coupons["data"]] == [
        ("WELCOME", batch.json()["id"], False)
    ]
    missing = await api.get("/v1/customers/999999/orders", headers=cs)
    assert missing.status_code == 404
