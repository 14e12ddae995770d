"""Separation of duties (DESIGN §9) on the whole back office: nobody approves a purchase order
they drafted, nor decides an after-sale they filed, even holding every role there is."""

from __future__ import annotations

import httpx

from models.domain.access import STAFF_ROLES
from tests.support import totp
from tests.support.after_sale_api import delivered, shown_as
from tests.support.api import PASSWORD, Headers, bearer
from tests.support.order_api import only_in, problem, staff, warehouse_id
from tests.support.purchasing import supplier_with_products
from tests.support.stack import Stack

ON_BEHALF = "代客售后"


async def _everything(api: httpx.AsyncClient, username: str, *extra_roles: str) -> Headers:
    """A user holding every staff role (and `extra_roles`), logged in."""
    admin = await staff(api, "admin")
    created = await api.post(
        "/v1/admin/users",
        json={
            "username": username,
            "display_name": username,
            "password": PASSWORD,
            "roles": sorted(STAFF_ROLES) + list(extra_roles),
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    answer = await api.post("/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    # Holding admin and finance, they must enrol a second factor before anything else.
    restricted = bearer(answer.json()["access_token"])
    enrolment = await api.post("/v1/auth/totp/enrol", headers=restricted)
    assert enrolment.status_code == 201, enrolment.text
    totp.enrolled(username, enrolment.json()["secret"])
    code = await totp.code(api, username)
    confirmed = await api.post("/v1/auth/totp/confirm", json={"code": code}, headers=restricted)
    assert confirmed.status_code == 200, confirmed.text
    return bearer(confirmed.json()["access_token"])


async def test_nobody_approves_a_po_they_drafted(stack: Stack, api: httpx.AsyncClient) -> None:
    boss = await _everything(api, "boss")
    supplier, skus = await supplier_with_products(stack)
    sh = await warehouse_id(stack, "SH01")
    body = {
        "supplier_id": supplier,
        "lines": [{"sku_id": skus[0], "warehouse_id": sh, "quantity": 10, "unit_price_fen": 250}],
    }
    drafted = await api.post("/v1/purchase-orders", json=body, headers=boss)
    assert drafted.status_code == 201, drafted.text
    po_no = drafted.json()["po_no"]
    # Someone else submits it, so only the drafting stands between the boss and the approval.
    submitted = await api.post(
        f"/v1/purchase-orders/{po_no}/submit", headers=await staff(api, "purchasing")
    )
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["required_roles"] == ["purchasing_manager"]

    refused = problem(
        await api.post(
            f"/v1/purchase-orders/{po_no}/approve",
            json={"role": "purchasing_manager"},
            headers=boss,
        ),
        409,
    )
    assert "drafted this PO and cannot approve it" in refused["detail"], refused
    still = await api.get(f"/v1/purchase-orders/{po_no}", headers=boss)
    assert still.json()["status"] == "pending_approval"

    approved = await api.post(
        f"/v1/purchase-orders/{po_no}/approve",
        json={},
        headers=await staff(api, "purchasing_manager"),
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] in {"approved", "sent"}


async def test_nobody_decides_an_after_sale_they_filed(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> None:
    admin = await staff(api, "admin")
    role = await api.post(
        "/v1/admin/roles",
        json={"name": ON_BEHALF, "permissions": ["aftersales.request"]},
        headers=admin,
    )
    assert role.status_code == 201, role.text
    boss = await _everything(api, "boss", ON_BEHALF)
    order = await delivered(stack, api, carrier, [(await only_in(stack, "SH01"), 2)])
    # Customer service files it for the customer who phoned in.
    filed = await api.post(
        f"/v1/orders/{order['order_no']}/after-sales",
        json={
            "client_request_key": "phoned-in",
            "type": "refund_only",
            "lines": [{"line_no": 1, "quantity": 1}],
            "reason": "电话反映: 包装破损",
        },
        headers=boss,
    )
    assert filed.status_code == 201, filed.text
    as_no = filed.json()["as_no"]
    shown = await shown_as(api, as_no, "requested", headers=boss)
    assert shown["requested_by"] == "user:boss"

    refused = problem(
        await api.post(f"/v1/after-sales/{as_no}/decision", json={"approve": True}, headers=boss),
        403,
    )
    assert "boss filed this after-sale and cannot decide it" in refused["detail"], refused
    assert (await shown_as(api, as_no, "requested", headers=boss))["decided_by"] is None

    decided = await api.post(
        f"/v1/after-sales/{as_no}/decision",
        json={"approve": True},
        headers=await staff(api, "cs"),
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["decided_by"] is not None
    assert decided.json()["decided_by"] != "user:boss"
