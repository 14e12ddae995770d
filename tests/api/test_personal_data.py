"""Personal data (DESIGN §9): staff see an order's phone, name and address masked; revealing
them needs pii.read and leaves an audit row naming what was shown, never the values; the
storefront that sent them sees its own orders' data whole."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from models.db import AuditEntry
from tests.support.order_api import lines_of, only_in, order_body, place_order, staff, view
from tests.support.orders import ADDRESS, SHOP
from tests.support.stack import Stack


async def test_staff_see_a_masked_contact_until_an_audited_reveal(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    sku = await only_in(stack, "SH01")
    placed = await place_order(api, order_body(lines_of((sku, 1)), key="pii-1"))
    order_no = placed["order_no"]
    whole = {**ADDRESS, "masked": False}
    assert placed["contact"] == whole  # the storefront sent it
    assert (await view(api, order_no, SHOP))["contact"] == whole

    ops = await staff(api, "ops")
    seen = await api.get(f"/v1/orders/{order_no}", headers=ops)
    assert seen.status_code == 200, seen.text
    assert seen.json()["contact"] == {
        "name": "张*",
        "phone": "138****0000",
        "region_code": ADDRESS["region_code"],
        "detail": "浦东新区****",
        "masked": True,
    }
    assert ADDRESS["phone"] not in seen.text and "100 号" not in seen.text

    refused = await api.post(f"/v1/orders/{order_no}/reveal", headers=ops)
    assert refused.status_code == 403, refused.text
    assert "pii.read" in refused.json()["detail"]

    cs = await staff(api, "cs")
    revealed = await api.post(f"/v1/orders/{order_no}/reveal", headers=cs)
    assert revealed.status_code == 200, revealed.text
    assert revealed.json() == whole
    # Revealing shows it once; the order view stays masked.
    assert (await view(api, order_no, cs))["contact"]["masked"] is True

    async with stack.sessions() as session:
        rows = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.path == f"/v1/orders/{order_no}/reveal")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [(r.actor_name, r.status_code) for r in rows] == [("ops", 403), ("cs", 200)]
    granted = rows[1]
    assert (granted.action, granted.object_type, granted.object_id) == (
        "order.reveal_contact",
        "order",
        order_no,
    )
    assert granted.detail == {"fields": ["name", "phone", "detail"]}
    assert ADDRESS["phone"] not in str(granted.detail)


async def test_another_storefronts_order_stays_hidden_from_a_reveal(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    sku = await only_in(stack, "SH01")
    order_no = (await place_order(api, order_body(lines_of((sku, 1)), key="pii-2")))["order_no"]
    admin = await staff(api, "admin")
    assert (await api.post("/v1/orders/SO-NOPE/reveal", headers=admin)).status_code == 404
    assert (await api.post(f"/v1/orders/{order_no}/reveal", headers=admin)).json()["phone"] == (
        ADDRESS["phone"]
    )
    refused = await api.post(f"/v1/orders/{order_no}/reveal", headers=SHOP)
    assert refused.status_code == 403  # the storefront has its data already; no pii.read
