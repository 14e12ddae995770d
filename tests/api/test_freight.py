"""Freight routes: templates with their region rules, and the platform freight policy."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from core.db import SessionFactory
from models.db import AuditEntry, FreightPolicy, FreightRule, FreightTemplate
from tests.api.conftest import Ref
from tests.support.api import assert_audited, my_name, problem_fields, row_count


def rule(*regions: str, default: bool = False, **extra: Any) -> dict[str, Any]:
    return {
        "regions": list(regions),
        "is_default": default,
        "first_units": 1000,
        "first_price_fen": 800,
        "additional_units": 1000,
        "additional_price_fen": 500,
        **extra,
    }


def template_body(**extra: Any) -> dict[str, Any]:
    return {
        "code": "STD",
        "name": "标准快递",
        "charge_by": "weight",
        "rules": [rule("310000", "320000", first_price_fen=600), rule(default=True)],
        **extra,
    }


async def stored_rules(session_factory: SessionFactory) -> list[tuple[int, list[str], bool, int]]:
    async with session_factory() as session:
        rows = await session.scalars(select(FreightRule).order_by(FreightRule.id))
        return [(r.template_id, r.regions, r.is_default, r.first_price_fen) for r in rows]


# --- templates --------------------------------------------------------------------------------


async def test_template_create_get_list_replace_and_audit(
    client: httpx.AsyncClient, user_headers, session_factory: SessionFactory
) -> None:
    headers = await user_headers("ops")
    actor = await my_name(client, headers)
    made = await client.post(
        "/v1/freight-templates",
        json=template_body(free_over_fen=9900, unserviceable_regions=["540000", "650000"]),
        headers=headers,
    )
    assert made.status_code == 201, made.text
    template_id = made.json()["id"]
    assert made.json() == {
        "id": template_id,
        "code": "STD",
        "name": "标准快递",
        "charge_by": "weight",
        "free_over_fen": 9900,
        "unserviceable_regions": ["540000", "650000"],
        "rules": [
            {
                "regions": ["310000", "320000"],
                "is_default": False,
                "first_units": 1000,
                "first_price_fen": 600,
                "additional_units": 1000,
                "additional_price_fen": 500,
            },
            {
                "regions": [],
                "is_default": True,
                "first_units": 1000,
                "first_price_fen": 800,
                "additional_units": 1000,
                "additional_price_fen": 500,
            },
        ],
    }
    got = await client.get(f"/v1/freight-templates/{template_id}", headers=headers)
    assert got.json() == made.json()
    bulky = await client.post(
        "/v1/freight-templates",
        json={
            "code": "BULKY",
            "name": "大件",
            "charge_by": "volume",
            "rules": [rule(default=True, first_units=50000)],
        },
        headers=headers,
    )
    assert bulky.status_code == 201, bulky.text
    listed = (await client.get("/v1/freight-templates", headers=headers)).json()
    assert listed["count"] == 2
    assert [t["code"] for t in listed["data"]] == ["STD", "BULKY"]
    assert listed["data"][0]["rules"] == made.json()["rules"]
    paged = (await client.get("/v1/freight-templates?skip=1&limit=1", headers=headers)).json()
    assert [t["code"] for t in paged["data"]] == ["BULKY"]

    replaced = await client.put(
        f"/v1/freight-templates/{template_id}",
        json={
            "name": "标准快递 2",
            "charge_by": "piece",
            "rules": [rule("440000", first_units=1, additional_units=1, first_price_fen=1200)],
        },
        headers=headers,
    )
    assert replaced.status_code == 200, replaced.text
    again = (await client.get(f"/v1/freight-templates/{template_id}", headers=headers)).json()
    assert (again["code"], again["name"], again["charge_by"]) == ("STD", "标准快递 2", "piece")
    # Fields left out of a PUT are reset, not kept.
    assert again["free_over_fen"] is None
    assert again["unserviceable_regions"] == []
    assert [(r["regions"], r["first_price_fen"]) for r in again["rules"]] == [(["440000"], 1200)]
    rules = await stored_rules(session_factory)
    assert [r for r in rules if r[0] == template_id] == [(template_id, ["440000"], False, 1200)]
    assert len(rules) == 2  # the other template's rule is untouched

    await assert_audited(
        session_factory, actor, "freight_template.create", "freight_template", template_id
    )
    replace = await assert_audited(
        session_factory, actor, "freight_template.replace", "freight_template", template_id
    )
    assert replace.detail == {"rules": 1}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"charge_by": "distance"}, "charge_by"),
        ({"free_over_fen": 12.5}, "free_over_fen"),
        ({"free_over_fen": -1}, "free_over_fen"),
        ({"rules": []}, "rules"),
        ({"rules": [rule("310000", first_price_fen=12.5)]}, "rules.0.first_price_fen"),
        ({"rules": [rule("310000", additional_price_fen="500")]}, "rules.0.additional_price_fen"),
        ({"rules": [rule("310000", first_units=0)]}, "rules.0.first_units"),
        ({"rules": [rule("310000", additional_units=-1000)]}, "rules.0.additional_units"),
        ({"rules": [rule("99999")]}, "rules.0.regions.0"),
        ({"rules": [rule("310000", "3100000")]}, "rules.0.regions.1"),
        ({"rules": [rule("310000", surcharge=1)]}, "rules.0.surcharge"),
        ({"unserviceable_regions": ["99999"]}, "unserviceable_regions.0"),
        ({"volumetric_divisor": 6000}, "volumetric_divisor"),
        ({"code": "标准"}, "code"),
        # The rule set must be consistent.
        ({"rules": [rule(default=True), rule(default=True)]}, "rules"),
        ({"rules": [rule("310000"), rule("320000", "310000")]}, "rules"),
        ({"rules": [rule("310000", "310000")]}, "rules.0.regions"),
        ({"rules": [rule()]}, "rules.0.regions"),
        ({"rules": [rule("310000", default=True)]}, "rules.0.regions"),
        (
            {"rules": [rule("310000"), rule(default=True)], "unserviceable_regions": ["310000"]},
            "unserviceable_regions",
        ),
    ],
)
async def test_template_create_names_the_bad_field(
    client: httpx.AsyncClient,
    user_headers,
    session_factory: SessionFactory,
    change: dict[str, Any],
    field: str,
) -> None:
    headers = await user_headers("admin")
    answer = await client.post(
        "/v1/freight-templates", json={**template_body(), **change}, headers=headers
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["type"] == "/problems/invalid-input"
    assert problem_fields(answer) == [field], answer.text
    assert await row_count(session_factory, FreightTemplate) == 0
    assert await row_count(session_factory, FreightRule) == 0


async def test_template_replace_rejects_bad_input_and_keeps_the_old_rules(
    client: httpx.AsyncClient, user_headers, session_factory: SessionFactory
) -> None:
    headers = await user_headers("admin")
    made = await client.post("/v1/freight-templates", json=template_body(), headers=headers)
    template_id = made.json()["id"]
    path = f"/v1/freight-templates/{template_id}"
    base = {"name": "标准快递", "charge_by": "weight"}
    cases: list[tuple[dict[str, Any], str]] = [
        ({**base, "rules": [rule(default=True), rule(default=True)]}, "rules"),
        ({**base, "rules": [rule("310000"), rule("310000")]}, "rules"),
        ({**base, "rules": [rule("310000", first_price_fen=12.5)]}, "rules.0.first_price_fen"),
        ({**base, "rules": [rule()]}, "rules.0.regions"),
        ({**base, "rules": [rule("310000")], "code": "NEW"}, "code"),
        ({"name": "标准快递", "rules": [rule("310000")]}, "charge_by"),
        (
            {**base, "rules": [rule("310000")], "unserviceable_regions": ["310000"]},
            "unserviceable_regions",
        ),
    ]
    for body, field in cases:
        answer = await client.put(path, json=body, headers=headers)
        assert answer.status_code == 422, (body, answer.text)
        assert problem_fields(answer) == [field], (body, answer.text)
    assert await stored_rules(session_factory) == [
        (template_id, ["310000", "320000"], False, 600),
        (template_id, [], True, 800),
    ]
    assert (await client.get(path, headers=headers)).json() == made.json()

    duplicate = await client.post("/v1/freight-templates", json=template_body(), headers=headers)
    assert duplicate.status_code == 409, duplicate.text
    for answer in (
        await client.get("/v1/freight-templates/999999", headers=headers),
        await client.put(
            "/v1/freight-templates/999999",
            json={**base, "rules": [rule(default=True)]},
            headers=headers,
        ),
    ):
        assert answer.status_code == 404, answer.text
        assert answer.json()["type"] == "/problems/not-found"
    assert await row_count(session_factory, FreightTemplate) == 1


async def test_skus_link_to_a_template_and_unlink(
    client: httpx.AsyncClient, user_headers, ref: Ref, session_factory: SessionFactory
) -> None:
    headers = await user_headers("ops")
    template_id = (
        await client.post("/v1/freight-templates", json=template_body(), headers=headers)
    ).json()["id"]
    linked = await client.patch(
        f"/v1/skus/{ref.sku_id}", json={"freight_template_id": template_id}, headers=headers
    )
    assert linked.status_code == 200, linked.text
    sku = (await client.get(f"/v1/skus/{ref.sku_id}", headers=headers)).json()
    assert sku["freight_template_id"] == template_id
    product = await client.post(
        f"/v1/products/{ref.product_id}/skus",
        json={
            "code": "P1-1KG",
            "name": "坚果礼盒 1kg",
            "barcode": "6900000000055",
            "weight_g": 1040,
            "volume_cm3": 6000,
            "list_price_fen": 17900,
            "freight_template_id": template_id,
        },
        headers=headers,
    )
    assert product.status_code == 201, product.text
    assert product.json()["freight_template_id"] == template_id
    unlinked = await client.patch(
        f"/v1/skus/{ref.sku_id}", json={"freight_template_id": None}, headers=headers
    )
    assert unlinked.status_code == 200, unlinked.text
    sku = (await client.get(f"/v1/skus/{ref.sku_id}", headers=headers)).json()
    assert sku["freight_template_id"] is None


# --- platform policy --------------------------------------------------------------------------


async def test_policy_get_set_and_audit(
    client: httpx.AsyncClient, user_headers, session_factory: SessionFactory
) -> None:
    headers = await user_headers("admin")
    actor = await my_name(client, headers)
    initial = await client.get("/v1/freight-policy", headers=headers)
    assert initial.status_code == 200
    assert initial.json() == {
        "mode": "templates",
        "fixed_fee_fen": 0,
        "free_over_fen": None,
        "combine": "sum",
    }
    body = {"mode": "fixed", "fixed_fee_fen": 1000, "free_over_fen": 9900, "combine": "max"}
    changed = await client.put("/v1/freight-policy", json=body, headers=headers)
    assert changed.status_code == 200, changed.text
    assert changed.json() == body
    assert (await client.get("/v1/freight-policy", headers=headers)).json() == body
    # A PUT replaces the whole policy: what is left out returns to its default.
    back = await client.put("/v1/freight-policy", json={"mode": "templates"}, headers=headers)
    assert back.json() == {
        "mode": "templates",
        "fixed_fee_fen": 0,
        "free_over_fen": None,
        "combine": "sum",
    }
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(FreightPolicy)) == 1
        rows = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "freight_policy.set")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [(r.object_type, r.object_id, r.actor_name, r.client_ip) for r in rows] == [
        ("freight_policy", "1", actor, "10.1.2.3")
    ] * 2
    assert rows[0].detail == body


async def test_policy_rejects_bad_input(
    client: httpx.AsyncClient, user_headers, session_factory: SessionFactory
) -> None:
    headers = await user_headers("ops")
    good = {"mode": "fixed", "fixed_fee_fen": 1000}
    cases: list[tuple[dict[str, Any], str]] = [
        ({**good, "fixed_fee_fen": 12.5}, "fixed_fee_fen"),
        ({**good, "fixed_fee_fen": -100}, "fixed_fee_fen"),
        ({**good, "free_over_fen": 99.9}, "free_over_fen"),
        ({**good, "mode": "free"}, "mode"),
        ({**good, "combine": "min"}, "combine"),
        ({**good, "currency": "CNY"}, "currency"),
        ({"fixed_fee_fen": 1000}, "mode"),
    ]
    for body, field in cases:
        answer = await client.put("/v1/freight-policy", json=body, headers=headers)
        assert answer.status_code == 422, (body, answer.text)
        assert problem_fields(answer) == [field], (body, answer.text)
    async with session_factory() as session:
        policy = await session.get(FreightPolicy, 1)
        assert policy is not None
        assert (policy.mode, policy.fixed_fee_fen) == ("templates", 0)


async def test_freight_access_by_role(
    client: httpx.AsyncClient, user_headers, key_headers, ref: Ref, session_factory
) -> None:
    admin = await user_headers("admin")
    template_id = (
        await client.post("/v1/freight-templates", json=template_body(), headers=admin)
    ).json()["id"]
    writes = [
        ("POST", "/v1/freight-templates", template_body(code="OTHER")),
        (
            "PUT",
            f"/v1/freight-templates/{template_id}",
            {"name": "x", "charge_by": "piece", "rules": [rule(default=True)]},
        ),
        ("PUT", "/v1/freight-policy", {"mode": "fixed", "fixed_fee_fen": 1}),
    ]
    storefront = await key_headers("storefront")
    for headers in (await user_headers("cs"), await user_headers("purchasing"), storefront):
        for path in ("/v1/freight-templates", f"/v1/freight-templates/{template_id}"):
            assert (await client.get(path, headers=headers)).status_code == 200
        assert (await client.get("/v1/freight-policy", headers=headers)).status_code == 200
        for method, path, body in writes:
            answer = await client.request(method, path, json=body, headers=headers)
            assert answer.status_code == 403, (method, path, answer.text)
    device = await key_headers("device", ref.warehouse_id)
    assert (await client.get("/v1/freight-templates", headers=device)).status_code == 403
    assert (await client.get("/v1/freight-policy", headers=device)).status_code == 403
    assert (await client.get("/v1/freight-templates")).status_code == 401
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(FreightTemplate)) == 1
        policy = await session.get(FreightPolicy, 1)
        assert policy is not None
        assert policy.mode == "templates"
    template = (await client.get(f"/v1/freight-templates/{template_id}", headers=admin)).json()
    assert template["name"] == "标准快递"
