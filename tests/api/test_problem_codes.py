"""A 422 says which input is wrong in words and in a code with the limits it states, so a
client (the console) can say it in its own language: pydantic's own kinds for the schema's
bounds, and the routes' own for their checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.support.order_api import (
    order_body,
    problem,
    signed_in,
    skus_in,
    staff,
    warehouse_id,
)
from tests.support.orders import SHOP, known_customer
from tests.support.stack import Stack
from workers.seed import DEMO_PASSWORD


async def test_an_invalid_input_carries_its_kind_and_limits(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    [sku, *_] = await skus_in(stack, "SH01")
    await known_customer(api, 4301)
    none = order_body([{"sku_id": sku, "quantity": 0}], key="codes-1", customer_id=4301)
    refused = problem(await api.post("/v1/orders", json=none, headers=SHOP), 422)
    assert refused["errors"] == [
        {"field": "lines.0.quantity", "message": "Input should be greater than 0",
         "code": "greater_than", "ctx": {"gt": 0}},
    ]  # fmt: skip

    ops = await staff(api, "ops")
    starts = datetime.now(UTC) + timedelta(hours=1)
    sale = {
        "name": "限购太多", "sku_id": sku, "warehouse_id": await warehouse_id(stack, "SH01"),
        "price_fen": 1, "quantity": 2, "per_customer_limit": 3,
        "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=1)).isoformat(),
    }  # fmt: skip
    refused = problem(await api.post("/v1/flash-sales", json=sale, headers=ops), 422)
    assert refused["errors"] == [
        {"field": "per_customer_limit", "message": "must not exceed quantity",
         "code": "limit_over_quantity"},
    ]  # fmt: skip
    unknown = {**sale, "per_customer_limit": 1, "sku_id": 987_654}
    refused = problem(await api.post("/v1/flash-sales", json=unknown, headers=ops), 422)
    assert [(e["code"], e["ctx"]) for e in refused["errors"]] == [
        ("unknown_sku", {"sku_id": 987_654})
    ]


def _codes(answer: httpx.Response) -> list[tuple[str, str, dict[str, object]]]:
    return [(e["field"], e.get("code"), e.get("ctx", {})) for e in problem(answer, 422)["errors"]]


async def test_the_admin_pages_checks_carry_their_codes(api: httpx.AsyncClient) -> None:
    """Users, roles, keys and passwords: the checks an admin meets on the console's forms."""
    admin = await signed_in(api, "admin")
    user = {"username": "xiaoli", "display_name": "小李", "password": "Tea-Leaf-2026!",
            "roles": ["cs", "ghost"]}  # fmt: skip
    ghost = await api.post("/v1/admin/users", json=user, headers=admin)
    assert _codes(ghost) == [("roles.1", "unknown_role", {"role": "ghost"})]
    nowhere = {**user, "roles": ["cs"], "warehouse_ids": [987_654]}
    assert _codes(await api.post("/v1/admin/users", json=nowhere, headers=admin)) == [
        ("warehouse_ids.0", "unknown_warehouse", {"warehouse_id": 987_654})
    ]
    for password, code, ctx in (
        ("Tea-Leaf", "password_too_short", {"min_length": 10}),
        ("xiaoli-2026-tea", "password_has_username", {}),
        ("Password123!", "password_common", {}),
    ):
        weak = {**user, "roles": ["cs"], "password": password}
        answer = await api.post("/v1/admin/users", json=weak, headers=admin)
        assert _codes(answer) == [("password", code, ctx)]

    device = {"name": "扫码枪", "role": "device"}
    assert _codes(await api.post("/v1/admin/api-keys", json=device, headers=admin)) == [
        ("warehouse_id", "device_key_needs_warehouse", {})
    ]
    for permissions, field, code in (
        (["orders.create"], "permissions.0", "key_only_permission"),
        (["stock.read", "stock.teleport"], "permissions.1", "unknown_permission"),
    ):
        role = {"name": "sneaky", "permissions": permissions}
        answer = await api.post("/v1/admin/roles", json=role, headers=admin)
        assert _codes(answer) == [(field, code, {"permission": permissions[-1]})]

    preset = await api.patch(
        "/v1/admin/roles/ops", json={"permissions": ["catalog.read"]}, headers=admin
    )
    assert problem(preset, 409)["errors"] == [{"reason": "role_built_in", "role": "ops"}]
    taken = await api.post(
        "/v1/admin/roles", json={"name": "admin", "permissions": ["stock.read"]}, headers=admin
    )
    assert problem(taken, 409)["errors"] == [
        {"field": "name", "reason": "role_exists", "role": "admin"}
    ]
    await api.post("/v1/admin/roles", json={"name": "tea_counter", "permissions": ["stock.count"]},
                   headers=admin)  # fmt: skip
    holder = {**user, "username": "xiaozhao", "roles": ["tea_counter"]}
    assert (await api.post("/v1/admin/users", json=holder, headers=admin)).status_code == 201
    held = await api.delete("/v1/admin/roles/tea_counter", headers=admin)
    assert problem(held, 409)["errors"] == [
        {"reason": "role_held", "role": "tea_counter", "holders": 1}
    ]


async def test_a_new_password_carries_the_rule_it_breaks(api: httpx.AsyncClient) -> None:
    ops = await staff(api, "ops")
    change = {"current_password": DEMO_PASSWORD, "new_password": "aaaaaaaaaaaa"}
    answer = await api.post("/v1/auth/password", json=change, headers=ops)
    assert _codes(answer) == [("new_password", "password_guessable", {})]


async def test_the_back_offices_other_checks_carry_their_codes(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    """Levels, freight quotes, reports, transfers, purchase orders, references and the ledger:
    each check names its kind, and the values its words state."""
    ops, admin = await staff(api, "ops"), await signed_in(api, "admin")
    sh = await warehouse_id(stack, "SH01")
    [sku, *_] = await skus_in(stack, "SH01")
    levels = [{"code": "LV1", "name": "一级", "growth_threshold": 0},
              {"code": "LV2", "name": "二级", "growth_threshold": 0}]  # fmt: skip
    same = await api.put("/v1/loyalty/settings/levels", json={"levels": levels}, headers=ops)
    assert _codes(same) == [("levels.1.growth_threshold", "repeats_another_level", {"value": 0})]

    cart = {"region_code": "310101", "lines": [{"sku_id": 987_654, "quantity": 1}]}
    assert _codes(await api.post("/v1/freight-quote", json=cart, headers=ops)) == [
        ("lines", "unknown_skus", {"sku_ids": "987654"})
    ]
    reversed_ = {"date_from": "2026-12-02", "date_to": "2026-12-01"}
    answer = await api.get("/v1/reports/orders", params=reversed_, headers=ops)
    assert _codes(answer) == [("date_from", "date_range_reversed", {})]
    answer = await api.get(
        "/v1/reports/stock/stockouts", params={"date_from": "1900-01-01"}, headers=admin
    )
    assert _codes(answer) == [
        ("date_from", "date_out_of_range", {"earliest": "1970-01-01", "latest": "2999-12-31"})
    ]

    here = {"from_warehouse_id": sh, "to_warehouse_id": sh,
            "lines": [{"sku_id": sku, "quantity": 1}]}  # fmt: skip
    assert _codes(await api.post("/v1/transfers", json=here, headers=ops)) == [
        ("to_warehouse_id", "same_warehouse", {})
    ]
    po = {"supplier_id": 987_654, "lines": [{"sku_id": sku, "warehouse_id": sh, "quantity": 1}]}
    assert _codes(await api.post("/v1/purchase-orders", json=po, headers=admin)) == [
        ("supplier_id", "unknown_supplier", {"supplier_id": 987_654})
    ]
    key = {"name": "扫码枪", "role": "device", "warehouse_id": 987_654}
    assert _codes(await api.post("/v1/admin/api-keys", json=key, headers=admin)) == [
        ("warehouse_id", "unknown_object", {"id": 987_654})
    ]
    unlock = await api.post("/v1/admin/login-addresses/not-an-ip/unlock", headers=admin)
    assert _codes(unlock) == [("address", "not_an_ip_address", {})]
    assert _codes(await api.get("/v1/ledger", headers=admin)) == [("order_no", "order_or_po", {})]


def _reasons(answer: httpx.Response) -> list[dict[str, object]]:
    return list(problem(answer, 409)["errors"])


async def test_a_conflict_a_console_form_meets_names_its_reason(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    """A 409 a staff form can meet says why by a `reason` and the values its words state, so
    the console says it in the page's language (the English detail stays for other clients)."""
    ops, admin = await staff(api, "ops"), await signed_in(api, "admin")
    coupon = {"code": "TEA10", "rule": {"kind": "percent", "percent_off": 10}}
    assert (await api.post("/v1/coupons", json=coupon, headers=ops)).status_code == 201
    again = await api.post("/v1/coupons", json=coupon, headers=ops)
    assert _reasons(again) == [{"field": "code", "reason": "coupon_exists", "coupon": "TEA10"}]
    assert problem(again, 409)["detail"] == "coupon TEA10 already exists"

    segment = {"name": "茶客", "rules": [{"kind": "no_order_in", "days": 180}]}
    assert (await api.post("/v1/segments", json=segment, headers=ops)).status_code == 201
    assert _reasons(await api.post("/v1/segments", json=segment, headers=ops)) == [
        {"field": "name", "reason": "segment_exists", "segment": "茶客"}
    ]

    confirm = await api.post("/v1/auth/totp/confirm", json={"code": "123456"}, headers=ops)
    assert _reasons(confirm) == [{"reason": "no_totp_enrolment"}]

    supplier = {"code": "TEA-NEW", "name": "新茶园"}  # pending until approved
    made = await api.post("/v1/suppliers", json=supplier, headers=admin)
    assert made.status_code == 201, made.text
    [sku, *_] = await skus_in(stack, "SH01")
    line = {"sku_id": sku, "warehouse_id": await warehouse_id(stack, "SH01"), "quantity": 1}
    po = {"supplier_id": made.json()["id"], "lines": [line]}
    assert _reasons(await api.post("/v1/purchase-orders", json=po, headers=admin)) == [
        {"field": "supplier_id", "reason": "supplier_not_approved", "supplier": "TEA-NEW"}
    ]
