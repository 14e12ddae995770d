"""Levels and points as pure rules (DESIGN §6.7) and as discounts of pricing (§7): the level
discount and the points discount allocated to lines, earning, levels, giving back pro rata,
yearly expiry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.contracts.pricing import (
    CartLine,
    CouponOffer,
    FreightPolicy,
    FreightSetup,
    MemberTerms,
    PointsOffer,
    PricingRequest,
    SkuFacts,
)
from models.domain.business_day import BUSINESS_TZ
from models.domain.points import (
    LineShare,
    PointsNotApplicableError,
    earned,
    expiring,
    expiry_cutoff,
    expiry_year,
    level_for,
    points_back,
    points_fen_of,
)
from models.domain.pricing import price_order

AT = datetime(2026, 11, 11, 2, 0, tzinfo=UTC)
CATALOG = [
    SkuFacts(sku_id=1, category_id=10, list_price_fen=10_000),
    SkuFacts(sku_id=2, category_id=20, list_price_fen=3_333),
]
FIXED_FREIGHT = FreightSetup(policy=FreightPolicy(mode="fixed", fixed_fee_fen=800))
GOLD = MemberTerms(level_id=3, name="gold", discount_percent=5, free_shipping=True)


def request(**extra: object) -> PricingRequest:
    return PricingRequest.model_validate(
        {
            "at": AT,
            "customer_id": 42,
            "destination_region": "310115",
            "lines": [CartLine(sku_id=1, quantity=2), CartLine(sku_id=2, quantity=3)],
            "catalog": CATALOG,
            "freight": FIXED_FREIGHT,
            **extra,
        }
    )


def test_a_level_takes_its_percentage_off_every_line_and_ships_free() -> None:
    priced = price_order(request(member=GOLD))
    # goods 20_000 + 9_999 = 29_999; 5 % = 1_499 fen (rounded down)
    assert [d.model_dump(include={"source", "amount_fen"}) for d in priced.discounts] == [
        {"source": "level", "amount_fen": 1_499}
    ]
    level_fen = [
        sum(a.amount_fen for a in ln.allocations if a.source == "level") for ln in priced.lines
    ]
    assert level_fen == [1_000, 499]  # ⌊999.4⌋ and ⌊499.6⌋ in proportion, remainder to the largest
    assert priced.goods_paid_fen == 28_500
    assert priced.freight_fen == 0 and priced.freight.basis == "member_free"
    assert priced.payable_fen == 28_500


def test_a_level_without_free_shipping_pays_freight() -> None:
    silver = MemberTerms(level_id=2, discount_percent=0, free_shipping=False)
    priced = price_order(request(member=silver))
    assert priced.discounts == [] and priced.freight_fen == 800
    assert priced.payable_fen == 29_999 + 800


def test_points_come_last_capped_and_allocated_to_lines() -> None:
    coupon = CouponOffer(coupon_id=7, kind="fixed", amount_off_fen=999)
    offer = PointsOffer(requested=50_000, balance=60_000, fen_per_point=1, max_percent=50)
    priced = price_order(request(coupon=coupon, member=GOLD, points=offer))
    assert [d.source for d in priced.discounts] == ["coupon", "level", "points"]
    # after the coupon 29_000; level 5 % = 1_450; left 27_550; cap 50 % = 13_775 points
    assert priced.points_used == 13_775
    points = [points_fen_of(line) for line in priced.lines]
    assert sum(points) == 13_775
    assert priced.goods_paid_fen == 27_550 - 13_775
    for line in priced.lines:  # per line: paid = list − Σ allocations, never below 0
        assert line.paid_fen == line.list_amount_fen - sum(a.amount_fen for a in line.allocations)
        assert line.paid_fen >= 0


def test_points_below_the_cap_are_spent_as_asked_at_the_rate() -> None:
    offer = PointsOffer(requested=300, balance=300, fen_per_point=10, max_percent=50)
    priced = price_order(request(points=offer))
    assert priced.points_used == 300
    assert priced.discount_fen == 3_000
    assert priced.payable_fen == 29_999 - 3_000 + 800


def test_more_points_than_the_balance_is_refused() -> None:
    offer = PointsOffer(requested=301, balance=300)
    with pytest.raises(PointsNotApplicableError) as refused:
        price_order(request(points=offer))
    assert refused.value.reason == "insufficient"


def test_earning_rounds_down_and_never_goes_negative() -> None:
    assert earned(12_345, 1) == 123
    assert earned(12_345, 3) == 370
    assert earned(-500, 1) == 0


def test_the_level_is_the_highest_threshold_reached() -> None:
    thresholds = {1: 0, 2: 1_000, 3: 5_000}
    assert level_for(999, thresholds) == 1
    assert level_for(1_000, thresholds) == 2
    assert level_for(80_000, thresholds) == 3
    assert level_for(10, {2: 1_000}) is None


def test_refunds_give_back_points_pro_rata_and_the_last_one_the_rest() -> None:
    # 1_000 points over two lines bearing 667 and 333 fen (1 fen a point), 3 and 1 units.
    first = points_back(1_000, [LineShare(3, 667, 1), LineShare(1, 333, 0)], 0)
    assert first == 222  # ⌊1_000 × ⌊667/3⌋ / 1_000⌋
    second = points_back(1_000, [LineShare(3, 667, 1), LineShare(1, 333, 1)], first)
    assert second == 555 - 222
    last = points_back(1_000, [LineShare(3, 667, 3), LineShare(1, 333, 1)], first + second)
    assert first + second + last == 1_000


@settings(max_examples=200, deadline=None)
@given(
    used=st.integers(1, 100_000),
    lines=st.lists(st.tuples(st.integers(1, 9), st.integers(0, 50_000)), min_size=1, max_size=4),
    data=st.data(),
)
def test_points_back_never_exceed_the_points_spent(
    used: int, lines: list[tuple[int, int]], data: st.DataObject
) -> None:
    refunded = [0] * len(lines)
    back = 0
    while any(r < q for r, (q, _) in zip(refunded, lines, strict=True)):
        index = data.draw(st.sampled_from([i for i, (q, _) in enumerate(lines) if refunded[i] < q]))
        refunded[index] += data.draw(st.integers(1, lines[index][0] - refunded[index]))
        shares = [LineShare(q, fen, r) for (q, fen), r in zip(lines, refunded, strict=True)]
        step = points_back(used, shares, back)
        assert step >= 0
        back += step
        assert back <= used
    assert back == (used if sum(fen for _, fen in lines) else 0)


def test_expiry_takes_unused_old_credits_only() -> None:
    assert expiring(credited_before_cutoff=500, debited=200, balance=900) == 300
    assert expiring(credited_before_cutoff=500, debited=700, balance=300) == 0
    assert expiring(credited_before_cutoff=500, debited=0, balance=100) == 100


def test_the_yearly_run_expires_the_year_before_last() -> None:
    run = datetime(2027, 12, 31, 16, 0, tzinfo=UTC)  # 1 January 2028 00:00 in Shanghai
    assert expiry_year(run, BUSINESS_TZ) == 2028
    assert expiry_cutoff(2028, BUSINESS_TZ) == datetime(2027, 1, 1, tzinfo=BUSINESS_TZ)
