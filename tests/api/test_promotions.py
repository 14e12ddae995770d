"""Promotions, coupons and carriers' tracking ranges: what staff store is what pricing loads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from activities.pricing_inputs import (
    UnknownCouponError,
    coupon_offer,
    live_promotions,
    sku_facts,
)
from core.db import SessionFactory
from models.contracts.pricing import (
    CartLine,
    CouponOffer,
    FreightPolicy,
    FreightSetup,
    PricedOrder,
    PricingRequest,
    Promotions,
)
from models.db import (
    AuditEntry,
    Carrier,
    Coupon,
    CouponRedemption,
    Promotion,
    TrackingAllocation,
    TrackingRange,
)
from models.domain.pricing import price_order
from tests.api.conftest import Ref
from tests.support.api import (
    Headers,
    MakeHeaders,
    assert_audited,
    assert_problem,
    my_name,
    problem_fields,
    row_count,
)

AT = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
ALL = {"all_items": True}


def spend_tier(**extra: Any) -> dict[str, Any]:
    return {
        "kind": "spend_tier",
        "name": "满150减20",
        "rule": {
            "scope": ALL,
            "tiers": [
                {"threshold_fen": 15000, "off_fen": 2000},
                {"threshold_fen": 30000, "off_fen": 5000},
            ],
        },
        **extra,
    }


def coupon_body(code: str = "SUMMER10", **rule: Any) -> dict[str, Any]:
    terms = {"kind": "percent", "percent_off": 10, "max_off_fen": 1500, "min_spend_fen": 10000}
    return {"code": code, "rule": {**terms, **rule}}


async def created(client: httpx.AsyncClient, path: str, body: Any, headers: Headers) -> Any:
    answer = await client.post(path, json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return answer.json()


async def priced(
    session_factory: SessionFactory,
    ref: Ref,
    quantity: int,
    *,
    promotions: Promotions | None = None,
    coupon: CouponOffer | None = None,
) -> PricedOrder:
    """Price `quantity` × the reference SKU (99.00 元) with fixed 8.00 元 freight."""
    async with session_factory() as session:
        catalog = await sku_facts(session, {ref.sku_id})
    return price_order(
        PricingRequest(
            at=AT,
            customer_id=7,
            destination_region="310115",
            lines=[CartLine(sku_id=ref.sku_id, quantity=quantity)],
            catalog=catalog,
            promotions=promotions or Promotions(),
            coupon=coupon,
            freight=FreightSetup(policy=FreightPolicy(mode="fixed", fixed_fee_fen=800)),
        )
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


# --- coupons ----------------------------------------------------------------------------------


async def test_a_coupon_created_over_http_is_what_pricing_loads_with_its_usage(
    client: httpx.AsyncClient, user_headers: MakeHeaders, session_factory: SessionFactory, ref: Ref
) -> None:
    headers = await user_headers("ops")
    actor = await my_name(client, headers)
    body = coupon_body(per_customer_limit=1, valid_until="2030-07-01T00:00:00Z")
    made = await created(client, "/v1/coupons", body, headers)
    assert made["code"] == "SUMMER10"
    assert made["rule"]["valid_until"] == "2030-07-01T00:00:00Z"
    assert (await client.get("/v1/coupons/SUMMER10", headers=headers)).json() == made
    listed = (await client.get("/v1/coupons", headers=headers)).json()
    assert (listed["count"], listed["data"]) == (1, [made])

    async with session_factory() as session:
        offer = await coupon_offer(session, "SUMMER10", 7)
    assert (offer.coupon_id, offer.code, offer.used_by_customer) == (made["id"], "SUMMER10", 0)
    assert offer.valid_until == datetime(2030, 7, 1, tzinfo=UTC)
    order = await priced(session_factory, ref, 2, coupon=offer)
    assert (order.coupon_id, order.discount_fen) == (made["id"], 1500)  # 10 % capped at 15 元
    assert order.payable_fen == 2 * 9900 - 1500 + 800

    async with session_factory() as session:
        session.add(CouponRedemption(coupon_id=made["id"], order_no="SO1", customer_id=7))
        session.add(CouponRedemption(coupon_id=made["id"], order_no="SO2", customer_id=8))
        await session.commit()
        assert (await coupon_offer(session, "SUMMER10", 7)).used_by_customer == 1
    redemptions = await client.get("/v1/coupons/SUMMER10/redemptions", headers=headers)
    assert redemptions.json() == {
        "data": [
            {"order_no": "SO1", "customer_id": 7, "status": "used"},
            {"order_no": "SO2", "customer_id": 8, "status": "used"},
        ],
        "count": 2,
    }
    mine = await client.get("/v1/coupons/SUMMER10/redemptions?customer_id=8", headers=headers)
    assert [r["order_no"] for r in mine.json()["data"]] == ["SO2"]

    stopped = await client.patch("/v1/coupons/SUMMER10", json={"active": False}, headers=headers)
    assert stopped.json()["active"] is False
    async with session_factory() as session:
        with pytest.raises(UnknownCouponError):
            await coupon_offer(session, "SUMMER10", 7)
    await assert_audited(session_factory, actor, "coupon.create", "coupon", "SUMMER10")
    row = await assert_audited(session_factory, actor, "coupon.update", "coupon", "SUMMER10")
    assert row.detail == {"active": False}


async def test_a_duplicate_coupon_code_is_409_and_unknown_codes_404(
    client: httpx.AsyncClient, user_headers: MakeHeaders, session_factory: SessionFactory
) -> None:
    headers = await user_headers("admin")
    await created(client, "/v1/coupons", coupon_body(), headers)
    fixed = coupon_body(kind="fixed", percent_off=0, amount_off_fen=500)
    again = await client.post("/v1/coupons", json=fixed, headers=headers)
    assert again.status_code == 409, again.text
    assert_problem(again)
    assert await row_count(session_factory, Coupon) == 1
    for path in ("/v1/coupons/NOPE", "/v1/coupons/NOPE/redemptions"):
        assert (await client.get(path, headers=headers)).status_code == 404
    assert (
        await client.patch("/v1/coupons/NOPE", json={"active": False}, headers=headers)
    ).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (coupon_body(kind="fixed"), "rule.amount_off_fen"),
        (coupon_body(kind="fixed", amount_off_fen=500), "rule.percent_off"),
        (coupon_body(kind="fixed", amount_off_fen=5.5), "rule.amount_off_fen"),
        (coupon_body(kind="cash"), "rule.kind"),
        (coupon_body(percent_off=0), "rule.percent_off"),
        (coupon_body(percent_off=120), "rule.percent_off"),
        (coupon_body(min_spend_fen="10000"), "rule.min_spend_fen"),
        (coupon_body(per_customer_limit=0), "rule.per_customer_limit"),
        (coupon_body(scope={}), "rule.scope"),
        (coupon_body(scope={"category_ids": [999999]}), "rule.scope.category_ids"),
        (coupon_body(valid_from="2030-07-01T00:00:00"), "rule.valid_from"),
        (
            coupon_body(valid_from="2030-07-01T00:00:00Z", valid_until="2030-07-01T00:00:00Z"),
            "rule.valid_until",
        ),
        (coupon_body(coupon_id=3), "rule.coupon_id"),
        (coupon_body(used_by_customer=0), "rule.used_by_customer"),
        (coupon_body(code="满减券"), "code"),
        (coupon_body(code=""), "code"),
    ],
)
async def test_a_bad_coupon_is_422_naming_the_field(
    client: httpx.AsyncClient,
    user_headers: MakeHeaders,
    session_factory: SessionFactory,
    body: dict[str, Any],
    field: str,
) -> None:
    answer = await client.post("/v1/coupons", json=body, headers=await user_headers("ops"))
    assert answer.status_code == 422, answer.text
    assert field in problem_fields(answer)
    assert await row_count(session_factory, Coupon) == 0


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


# --- tracking ranges --------------------------------------------------------------------------


async def new_carrier(session_factory: SessionFactory, code: str) -> int:
    async with session_factory() as session:
        carrier = Carrier(code=code, name=code, tracking_mode="prepurchased_range")
        session.add(carrier)
        await session.commit()
        return carrier.id


def tracking_range(first: int, last: int, prefix: str = "SF", low: int = 100) -> dict[str, Any]:
    return {"prefix": prefix, "first_number": first, "last_number": last, "low_watermark": low}


async def test_tracking_ranges_report_remaining_and_low_and_refuse_overlaps(
    client: httpx.AsyncClient, user_headers: MakeHeaders, session_factory: SessionFactory
) -> None:
    headers = await user_headers("ops")
    actor = await my_name(client, headers)
    sf, yt = await new_carrier(session_factory, "SF"), await new_carrier(session_factory, "YT")
    path = f"/v1/carriers/{sf}/tracking-ranges"
    wide = await created(client, path, tracking_range(1, 150), headers)
    assert (wide["next_number"], wide["remaining"], wide["low"]) == (1, 150, False)
    narrow = await created(client, path, tracking_range(1000, 1049), headers)
    assert (narrow["remaining"], narrow["low"]) == (50, True)
    sfx = await created(client, path, tracking_range(100, 200, prefix="SFX"), headers)
    await assert_audited(
        session_factory, actor, "tracking_range.create", "tracking_range", wide["id"]
    )

    for first, last in ((150, 160), (990, 1000), (1, 2000), (20, 30)):
        clash = await client.post(path, json=tracking_range(first, last), headers=headers)
        assert clash.status_code == 409, (first, last, clash.text)
        assert_problem(clash)
    other_carrier = await client.post(
        f"/v1/carriers/{yt}/tracking-ranges", json=tracking_range(140, 151), headers=headers
    )
    assert other_carrier.status_code == 409  # tracking numbers are unique across carriers

    # Numbers 1–100 of the first range have been given to packages.
    async with session_factory() as session:
        await session.execute(
            update(TrackingRange).where(TrackingRange.id == wide["id"]).values(next_number=101)
        )
        session.add(
            TrackingAllocation(package_no="PK1", carrier_id=sf, tracking_no="SF" + "0" * 11 + "7")
        )
        await session.commit()
    used = await client.post(path, json=tracking_range(5, 9), headers=headers)
    assert used.status_code == 409, used.text
    assert "SF000000000007" in used.json()["detail"]

    listed = (await client.get(path, headers=headers)).json()
    assert listed["count"] == 3
    assert [(r["id"], r["remaining"], r["low"]) for r in listed["data"]] == [
        (wide["id"], 50, True),
        (narrow["id"], 50, True),
        (sfx["id"], 101, False),
    ]
    other = (await client.get(f"/v1/carriers/{yt}/tracking-ranges", headers=headers)).json()
    assert other == {"data": [], "count": 0}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (tracking_range(200, 100), "last_number"),
        (tracking_range(-1, 100), "first_number"),
        (tracking_range(1, 2**31), "last_number"),
        (tracking_range(1, 100, prefix="sf-1"), "prefix"),
        (tracking_range(1, 100, low=-5), "low_watermark"),
        ({"prefix": "SF", "first_number": 1}, "last_number"),
    ],
)
async def test_a_bad_tracking_range_is_422_naming_the_field(
    client: httpx.AsyncClient,
    user_headers: MakeHeaders,
    session_factory: SessionFactory,
    body: dict[str, Any],
    field: str,
) -> None:
    carrier = await new_carrier(session_factory, "SF")
    answer = await client.post(
        f"/v1/carriers/{carrier}/tracking-ranges", json=body, headers=await user_headers("admin")
    )
    assert answer.status_code == 422, answer.text
    assert problem_fields(answer) == [field]
    assert await row_count(session_factory, TrackingRange) == 0


async def test_tracking_ranges_of_an_unknown_carrier_are_404(
    client: httpx.AsyncClient, user_headers: MakeHeaders
) -> None:
    headers = await user_headers("admin")
    assert (
        await client.get("/v1/carriers/999/tracking-ranges", headers=headers)
    ).status_code == 404
    answer = await client.post(
        "/v1/carriers/999/tracking-ranges", json=tracking_range(1, 10), headers=headers
    )
    assert answer.status_code == 404
    assert_problem(answer)
