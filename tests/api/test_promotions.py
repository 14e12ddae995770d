"""Promotion routes: what is created over HTTP is what pricing loads; who may read and write."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from core.db import SessionFactory
from models.contracts.pricing import Promotions
from models.db import AuditEntry, Promotion
from services.pricing_inputs import live_promotions
from tests.api.conftest import Ref, created
from tests.api.pricing_helpers import ALL, AT, coupon_body, priced, spend_tier
from tests.support.api import (
    MakeHeaders,
    assert_audited,
    assert_problem,
    my_name,
    problem_fields,
    row_count,
)


async def loaded_promotions(session_factory: SessionFactory, at: datetime = AT) -> Promotions:
    async with session_factory() as session:
        return await live_promotions(session, at)


# --- promotions -------------------------------------------------------------------------------


async def test_a_spend_tier_created_over_http_is_what_pricing_loads_and_applies(
    client: httpx.AsyncClient, user_headers: MakeHeaders, session_factory: SessionFactory, ref: Ref
) -> None:
    headers = await user_headers("ops")
    made = await created(client, "/v1/promotions", spend_tier(), headers)
    assert made["rule"] == {
        "scope": {"all_items": True, "sku_ids": [], "category_ids": []},
        "tiers": [
            {"threshold_fen": 15000, "off_fen": 2000},
            {"threshold_fen": 30000, "off_fen": 5000},
        ],
        "repeat": False,
        "max_off_fen": None,
    }
    got = await client.get(f"/v1/promotions/{made['id']}", headers=headers)
    assert got.json() == made

    promotions = await loaded_promotions(session_factory)
    [tier] = promotions.spend_tiers
    assert (tier.promotion_id, tier.name) == (made["id"], "满150减20")
    assert (tier.valid_from, tier.valid_until) == (None, None)  # the row's columns decide

    before = await priced(session_factory, ref, 2)
    after = await priced(session_factory, ref, 2, promotions=promotions)
    assert before.payable_fen == 2 * 9900 + 800
    assert after.payable_fen == 2 * 9900 - 2000 + 800
    assert [(d.source, d.source_id, d.amount_fen) for d in after.discounts] == [
        ("spend_tier", made["id"], 2000)
    ]
    four = await priced(session_factory, ref, 4, promotions=promotions)
    assert four.discount_fen == 5000  # the highest tier reached


async def test_validity_and_active_decide_what_pricing_loads(
    client: httpx.AsyncClient, user_headers: MakeHeaders, session_factory: SessionFactory
) -> None:
    headers = await user_headers("admin")
    window = {"valid_from": "2030-06-01T00:00:00+08:00", "valid_until": "2030-06-19T00:00:00+08:00"}
    made = await created(client, "/v1/promotions", spend_tier(**window), headers)
    assert made["valid_from"] == "2030-05-31T16:00:00Z"
    assert "valid_from" not in made["rule"]
    assert len((await loaded_promotions(session_factory, AT)).spend_tiers) == 1
    assert (await loaded_promotions(session_factory, AT - timedelta(days=1))).spend_tiers == []
    assert (await loaded_promotions(session_factory, AT + timedelta(days=18))).spend_tiers == []

    path = f"/v1/promotions/{made['id']}"
    extended = await client.patch(path, json={"valid_until": None}, headers=headers)
    assert extended.status_code == 200, extended.text
    assert extended.json()["valid_until"] is None
    assert (
        len((await loaded_promotions(session_factory, AT + timedelta(days=365))).spend_tiers) == 1
    )

    stopped = await client.patch(path, json={"active": False, "name": "已停"}, headers=headers)
    assert (stopped.json()["active"], stopped.json()["name"]) == (False, "已停")
    assert (await loaded_promotions(session_factory)).spend_tiers == []


async def test_item_discount_and_gift_list_filters_and_audit(
    client: httpx.AsyncClient, user_headers: MakeHeaders, session_factory: SessionFactory, ref: Ref
) -> None:
    headers = await user_headers("ops")
    actor = await my_name(client, headers)
    discount = await created(
        client,
        "/v1/promotions",
        {
            "kind": "item_discount",
            "name": "坚果九折",
            "rule": {"scope": {"sku_ids": [ref.sku_id]}, "kind": "percent", "percent_off": 10},
        },
        headers,
    )
    gift = await created(
        client,
        "/v1/promotions",
        {
            "kind": "gift",
            "name": "满100赠",
            "rule": {"scope": {"category_ids": [ref.category_id]}, "threshold_fen": 10000}
            | {"gift_sku_id": ref.sku_id},
            "active": False,
        },
        headers,
    )
    listed = (await client.get("/v1/promotions", headers=headers)).json()
    assert (listed["count"], [p["id"] for p in listed["data"]]) == (2, [discount["id"], gift["id"]])
    by_kind = (await client.get("/v1/promotions?kind=gift", headers=headers)).json()
    assert [p["id"] for p in by_kind["data"]] == [gift["id"]]
    live = (await client.get("/v1/promotions?active=true", headers=headers)).json()
    assert [p["id"] for p in live["data"]] == [discount["id"]]
    assert (await client.get("/v1/promotions?limit=1&skip=1", headers=headers)).json()["data"][0][
        "id"
    ] == gift["id"]

    await client.patch(f"/v1/promotions/{gift['id']}", json={"active": True}, headers=headers)
    promotions = await loaded_promotions(session_factory)
    assert [p.promotion_id for p in promotions.item_discounts] == [discount["id"]]
    assert [(g.promotion_id, g.gift_sku_id) for g in promotions.gifts] == [(gift["id"], ref.sku_id)]
    one = await priced(session_factory, ref, 2, promotions=promotions)
    assert one.discount_fen == 1980
    assert [line.is_gift for line in one.lines] == [False, True]

    row = await assert_audited(session_factory, actor, "promotion.create", "promotion", gift["id"])
    assert row.detail == {"kind": "gift"}
    row = await assert_audited(session_factory, actor, "promotion.update", "promotion", gift["id"])
    assert row.detail == {"active": True}


def _with(rule: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**rule, **changes}


_TIERS = spend_tier()["rule"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            spend_tier(rule=_with(_TIERS, tiers=[{"threshold_fen": 100, "off_fen": 0}])),
            "rule.tiers.0.off_fen",
        ),
        (
            spend_tier(rule=_with(_TIERS, tiers=[{"threshold_fen": 100, "off_fen": 12.5}])),
            "rule.tiers.0.off_fen",
        ),
        (
            spend_tier(rule=_with(_TIERS, tiers=[{"threshold_fen": "100", "off_fen": 10}])),
            "rule.tiers.0.threshold_fen",
        ),
        (spend_tier(rule=_with(_TIERS, tiers=[])), "rule.tiers"),
        (spend_tier(rule=_with(_TIERS, tiers=[_TIERS["tiers"][0]] * 2)), "rule"),
        (spend_tier(rule=_with(_TIERS, repeat=True)), "rule"),
        (spend_tier(rule=_with(_TIERS, max_off_fen=-1)), "rule.max_off_fen"),
        (spend_tier(rule=_with(_TIERS, scope={})), "rule.scope"),
        (spend_tier(rule=_with(_TIERS, scope={"sku_ids": [999999]})), "rule.scope.sku_ids"),
        (spend_tier(rule=_with(_TIERS, promotion_id=5)), "rule.promotion_id"),
        (spend_tier(rule=_with(_TIERS, valid_from="2030-01-01T00:00:00Z")), "rule.valid_from"),
        (spend_tier(rule={"tiers": _TIERS["tiers"]}), "rule.scope"),
        (spend_tier(kind="bundle"), "kind"),
        (spend_tier(name=""), "name"),
        (spend_tier(valid_from="2030-06-01T00:00:00"), "valid_from"),
        (
            spend_tier(valid_from="2030-06-02T00:00:00Z", valid_until="2030-06-01T00:00:00Z"),
            "valid_until",
        ),
        (
            {"kind": "item_discount", "name": "x", "rule": {"scope": ALL, "kind": "percent"}},
            "rule.percent_off",
        ),
        (
            {
                "kind": "item_discount",
                "name": "x",
                "rule": {"scope": ALL, "kind": "percent", "percent_off": 101},
            },
            "rule.percent_off",
        ),
        (
            {
                "kind": "gift",
                "name": "x",
                "rule": {"scope": ALL, "threshold_fen": 100, "gift_sku_id": 999999},
            },
            "rule.gift_sku_id",
        ),
    ],
)
async def test_a_bad_promotion_is_422_naming_the_field_and_nothing_is_stored(
    client: httpx.AsyncClient,
    user_headers: MakeHeaders,
    session_factory: SessionFactory,
    body: dict[str, Any],
    field: str,
) -> None:
    answer = await client.post("/v1/promotions", json=body, headers=await user_headers("ops"))
    assert answer.status_code == 422, answer.text
    assert field in problem_fields(answer)
    assert await row_count(session_factory, Promotion) == 0


async def test_promotion_patch_checks_the_window_it_would_leave_and_unknown_is_404(
    client: httpx.AsyncClient, user_headers: MakeHeaders
) -> None:
    headers = await user_headers("ops")
    made = await created(
        client, "/v1/promotions", spend_tier(valid_until="2030-07-01T00:00:00Z"), headers
    )
    path = f"/v1/promotions/{made['id']}"
    late = await client.patch(path, json={"valid_from": "2030-08-01T00:00:00Z"}, headers=headers)
    assert late.status_code == 422
    assert problem_fields(late) == ["valid_until"]
    null_name = await client.patch(path, json={"name": None}, headers=headers)
    assert problem_fields(null_name) == ["name"]
    rule = await client.patch(path, json={"rule": {}}, headers=headers)
    assert problem_fields(rule) == ["rule"]
    assert (await client.get(path, headers=headers)).json() == made
    missing = await client.get("/v1/promotions/999999", headers=headers)
    assert missing.status_code == 404
    assert_problem(missing)


# --- permissions ------------------------------------------------------------------------------


async def test_cs_and_storefront_read_but_may_not_write_and_anonymous_is_401(
    client: httpx.AsyncClient,
    user_headers: MakeHeaders,
    key_headers: MakeHeaders,
    session_factory: SessionFactory,
) -> None:
    ops = await user_headers("ops")
    made = await created(client, "/v1/promotions", spend_tier(), ops)
    await created(client, "/v1/coupons", coupon_body(), ops)
    cs, storefront = await user_headers("cs"), await key_headers("storefront")
    for headers in (cs, storefront):
        assert (await client.get("/v1/promotions", headers=headers)).json()["count"] == 1
        assert (await client.get("/v1/coupons/SUMMER10", headers=headers)).status_code == 200
        writes = [
            await client.post("/v1/promotions", json=spend_tier(), headers=headers),
            await client.patch(f"/v1/promotions/{made['id']}", json={}, headers=headers),
            await client.post("/v1/coupons", json=coupon_body("OTHER"), headers=headers),
            await client.patch("/v1/coupons/SUMMER10", json={"active": False}, headers=headers),
        ]
        assert [w.status_code for w in writes] == [403] * 4
        assert all("promotions.write" in w.json()["detail"] for w in writes)
    tracking = await client.get("/v1/carriers/1/tracking-ranges", headers=cs)
    assert tracking.status_code == 403
    assert "tracking.read" in tracking.json()["detail"]
    assert await row_count(session_factory, Promotion) == 1
    for path in ("/v1/promotions", "/v1/coupons", "/v1/carriers/1/tracking-ranges"):
        anonymous = await client.get(path)
        assert anonymous.status_code == 401
        assert_problem(anonymous)
    assert (await client.post("/v1/promotions", json=spend_tier())).status_code == 401
    assert await row_count(session_factory, AuditEntry) >= 9  # every refused write is recorded
