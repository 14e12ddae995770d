"""Coupon routes: what is created over HTTP is what pricing loads, with its usage."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from core.db import SessionFactory
from models.db import Coupon, CouponRedemption
from services.pricing_inputs import UnknownCouponError, coupon_offer
from tests.api.conftest import Ref, created
from tests.api.pricing_helpers import coupon_body, priced
from tests.support.api import (
    MakeHeaders,
    assert_audited,
    assert_problem,
    my_name,
    problem_fields,
    row_count,
)

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
