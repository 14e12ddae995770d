"""Item discounts, spend tiers (满减), gifts (满赠) and coupons, step by step (DESIGN §7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.contracts.pricing import (
    CouponOffer,
    GiftPromotion,
    ItemDiscount,
    PricedLine,
    ProductScope,
    SpendTier,
    SpendTierPromotion,
)
from models.domain.promotions import (
    CouponNotApplicableError,
    apply_coupon,
    apply_item_discounts,
    apply_spend_tiers,
    earned_gifts,
    is_live,
    spend_tier_off,
)

AT = datetime(2025, 6, 18, 12, 0, tzinfo=UTC)
ALL = ProductScope(all_items=True)


def line(no: int, sku: int, unit_fen: int, qty: int = 1, category: int = 1) -> PricedLine:
    amount = unit_fen * qty
    return PricedLine(
        line_no=no,
        sku_id=sku,
        category_id=category,
        quantity=qty,
        unit_price_fen=unit_fen,
        list_amount_fen=amount,
        discount_fen=0,
        paid_fen=amount,
    )


def paid(lines: list[PricedLine]) -> list[int]:
    return [ln.paid_fen for ln in lines]


def allocations(lines: list[PricedLine], source: str) -> list[int]:
    return [sum(a.amount_fen for a in ln.allocations if a.source == source) for ln in lines]


# --- windows and scopes --------------------------------------------------------------------


def test_windows_are_half_open() -> None:
    window = ItemDiscount(
        promotion_id=1,
        scope=ALL,
        kind="percent",
        percent_off=10,
        valid_from=AT,
        valid_until=AT + timedelta(hours=1),
    )
    assert is_live(window, AT)
    assert not is_live(window, AT - timedelta(seconds=1))
    assert not is_live(window, AT + timedelta(hours=1))
    assert is_live(window.model_copy(update={"valid_from": None, "valid_until": None}), AT)


def test_a_scope_must_cover_something() -> None:
    with pytest.raises(ValueError):
        ProductScope()


def test_a_discount_needs_the_amount_of_its_kind() -> None:
    with pytest.raises(ValueError):
        ItemDiscount(promotion_id=1, scope=ALL, kind="percent", amount_off_fen=100)
    with pytest.raises(ValueError):
        CouponOffer(coupon_id=1, kind="fixed", percent_off=10)
    with pytest.raises(ValueError):
        SpendTierPromotion(
            promotion_id=1,
            scope=ALL,
            tiers=[SpendTier(threshold_fen=100, off_fen=10)] * 2,
        )


# --- item discounts ------------------------------------------------------------------------


def test_each_line_gets_its_best_item_discount() -> None:
    lines = [line(1, 1, 10000, 2, category=10), line(2, 2, 5000, category=20), line(3, 3, 3333, 3)]
    lines[2] = lines[2].model_copy(update={"category_id": 10})
    category_20pct = ItemDiscount(
        promotion_id=1, scope=ProductScope(category_ids=[10]), kind="percent", percent_off=20
    )
    sku1_15_yuan = ItemDiscount(
        promotion_id=2, scope=ProductScope(sku_ids=[1]), kind="fixed", amount_off_fen=1500
    )
    result, applied = apply_item_discounts(lines, [sku1_15_yuan, category_20pct], AT)
    # line 1: 20% of 20000 = 4000 beats 2 × 1500 = 3000; line 3: 20% of 9999 = 1999 (floor).
    assert allocations(result, "item_discount") == [4000, 0, 1999]
    assert paid(result) == [16000, 5000, 8000]
    assert [(a.source_id, a.amount_fen) for a in applied] == [(1, 5999)]
    assert result[0].allocations[0].source_id == 1


def test_equal_item_discounts_go_to_the_lowest_id_and_are_capped_at_the_line() -> None:
    lines = [line(1, 1, 5000)]
    big = [
        ItemDiscount(promotion_id=pid, scope=ALL, kind="fixed", amount_off_fen=6000)
        for pid in (7, 3)
    ]
    result, applied = apply_item_discounts(lines, big, AT)
    assert paid(result) == [0]
    assert [(a.source_id, a.amount_fen) for a in applied] == [(3, 5000)]


def test_item_discounts_outside_their_window_do_not_apply() -> None:
    later = ItemDiscount(
        promotion_id=1, scope=ALL, kind="percent", percent_off=50, valid_from=AT + timedelta(1)
    )
    result, applied = apply_item_discounts([line(1, 1, 1000)], [later], AT)
    assert paid(result) == [1000]
    assert applied == []


# --- spend tiers (满减) --------------------------------------------------------------------


def tiers(
    pid: int, scope: ProductScope, *pairs: tuple[int, int], **kw: object
) -> SpendTierPromotion:
    return SpendTierPromotion(
        promotion_id=pid,
        scope=scope,
        tiers=[SpendTier(threshold_fen=t, off_fen=o) for t, o in pairs],
        **kw,
    )


def test_the_highest_reached_tier_applies_and_is_allocated_with_a_remainder() -> None:
    lines = [line(1, 1, 10001), line(2, 2, 3333), line(3, 3, 6666)]
    promo = tiers(5, ALL, (10000, 1000), (20000, 3000))
    result, applied = apply_spend_tiers(lines, [promo], AT)
    # 3000 over 10001/3333/6666 (20000): floors 1500, 499, 999 = 2998; 2 fen to line 1.
    assert allocations(result, "spend_tier") == [1502, 499, 999]
    assert [(a.source_id, a.amount_fen) for a in applied] == [(5, 3000)]


@pytest.mark.parametrize(
    ("base", "expected"),
    [(9999, 0), (10000, 1000), (19999, 1000), (20000, 3000), (99999, 3000)],
)
def test_tier_thresholds_are_inclusive(base: int, expected: int) -> None:
    assert spend_tier_off(tiers(1, ALL, (20000, 3000), (10000, 1000)), base) == expected


def test_repeating_tier_with_a_cap() -> None:
    every_100_save_10 = tiers(1, ALL, (10000, 1000), repeat=True, max_off_fen=2500)
    assert spend_tier_off(every_100_save_10, 9999) == 0
    assert spend_tier_off(every_100_save_10, 29999) == 2000
    assert spend_tier_off(every_100_save_10, 35000) == 2500  # 3 × 1000 capped at 2500


def test_tier_off_never_exceeds_the_base() -> None:
    assert spend_tier_off(tiers(1, ALL, (100, 500)), 300) == 300


def test_a_line_joins_at_most_one_spend_promotion_the_first_that_applies() -> None:
    lines = [line(1, 1, 20000), line(2, 2, 8000), line(3, 3, 4000)]
    unreached = tiers(1, ProductScope(sku_ids=[3]), (5000, 500))  # 4000 < 5000: line 3 stays free
    sku1 = tiers(2, ProductScope(sku_ids=[1]), (20000, 2000))
    everything = tiers(3, ALL, (10000, 1500))  # sees lines 2 + 3 only: 12000 ≥ 10000
    result, applied = apply_spend_tiers(lines, [everything, unreached, sku1], AT)
    # 1500 over 8000/4000: exactly 1000 and 500.
    assert allocations(result, "spend_tier") == [2000, 1000, 500]
    assert [(a.source_id, a.amount_fen) for a in applied] == [(2, 2000), (3, 1500)]


def test_spend_threshold_is_measured_after_item_discounts() -> None:
    lines, _ = apply_item_discounts(
        [line(1, 1, 10000)],
        [ItemDiscount(promotion_id=1, scope=ALL, kind="percent", percent_off=10)],
        AT,
    )
    result, applied = apply_spend_tiers(lines, [tiers(2, ALL, (10000, 1000))], AT)
    assert applied == []  # 9000 after the 10% does not reach 10000
    assert paid(result) == [9000]


# --- gifts (满赠) --------------------------------------------------------------------------


def gift(pid: int, threshold: int, scope: ProductScope = ALL, **kw: object) -> GiftPromotion:
    return GiftPromotion(
        promotion_id=pid,
        scope=scope,
        threshold_fen=threshold,
        gift_sku_id=900 + pid,
        **kw,
    )


def test_gifts_earned_by_covered_amount_in_id_order() -> None:
    lines = [line(1, 1, 30000), line(2, 2, 5000, category=7)]
    offers = [
        gift(4, 35000),
        gift(2, 5000, ProductScope(category_ids=[7])),
        gift(3, 35001),
        gift(1, 1, valid_until=AT),
    ]
    assert [g.promotion_id for g in earned_gifts(lines, offers, AT)] == [2, 4]


# --- coupons -------------------------------------------------------------------------------


def coupon(**kw: object) -> CouponOffer:
    fields: dict[str, object] = {"coupon_id": 41, "code": "SAVE10", "kind": "fixed"}
    fields["amount_off_fen"] = 1000
    fields.update(kw)
    return CouponOffer.model_validate(fields)


def test_fixed_coupon_allocated_over_covered_lines() -> None:
    lines = [line(1, 1, 16388), line(2, 2, 4802), line(3, 3, 11401)]
    result, applied = apply_coupon(lines, coupon(min_spend_fen=30000), AT)
    # 1000 over 32591: floors 502, 147, 349 = 998; 2 fen to the largest line.
    assert allocations(result, "coupon") == [504, 147, 349]
    assert [(a.source, a.source_id, a.name, a.amount_fen) for a in applied] == [
        ("coupon", 41, "SAVE10", 1000)
    ]


def test_percent_coupon_with_cap_and_scope() -> None:
    lines = [line(1, 1, 12345, category=5), line(2, 2, 50000, category=6)]
    pct = coupon(kind="percent", percent_off=15, amount_off_fen=0, scope={"category_ids": [5]})
    result, _ = apply_coupon(lines, pct, AT)
    assert allocations(result, "coupon") == [1851, 0]  # 15% of 12345 = 1851.75
    capped = pct.model_copy(update={"max_off_fen": 1000})
    result, _ = apply_coupon(lines, capped, AT)
    assert allocations(result, "coupon") == [1000, 0]


def test_fixed_coupon_is_capped_at_the_covered_amount() -> None:
    result, applied = apply_coupon([line(1, 1, 600)], coupon(), AT)
    assert paid(result) == [0]
    assert applied[0].amount_fen == 600


def test_no_coupon_changes_nothing() -> None:
    lines = [line(1, 1, 600)]
    assert apply_coupon(lines, None, AT) == (lines, [])


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"valid_from": AT + timedelta(seconds=1)}, "not_started"),
        ({"valid_until": AT}, "expired"),
        ({"per_customer_limit": 2, "used_by_customer": 2}, "limit_reached"),
        ({"scope": {"sku_ids": [99]}}, "no_eligible_items"),
        ({"min_spend_fen": 10001}, "below_min_spend"),
    ],
)
def test_coupon_refusals(fields: dict[str, object], reason: str) -> None:
    with pytest.raises(CouponNotApplicableError) as caught:
        apply_coupon([line(1, 1, 10000)], coupon(**fields), AT)
    assert caught.value.reason == reason
    assert caught.value.coupon_id == 41
    assert reason in CouponNotApplicableError.REASONS


def test_coupon_usable_below_its_limit_and_at_exact_minimum() -> None:
    offer = coupon(per_customer_limit=2, used_by_customer=1, min_spend_fen=10000)
    result, _ = apply_coupon([line(1, 1, 10000)], offer, AT)
    assert paid(result) == [9000]


def test_coupon_minimum_is_measured_after_promotions() -> None:
    lines, _ = apply_spend_tiers([line(1, 1, 10000)], [tiers(1, ALL, (10000, 500))], AT)
    with pytest.raises(CouponNotApplicableError) as caught:
        apply_coupon(lines, coupon(min_spend_fen=10000), AT)
    assert caught.value.reason == "below_min_spend"


def test_gift_lines_take_no_discount() -> None:
    gift_line = line(2, 9, 0).model_copy(update={"is_gift": True})
    lines = [line(1, 1, 1000), gift_line]
    result, _ = apply_coupon(lines, coupon(amount_off_fen=100), AT)
    assert result[1] == gift_line
    assert paid(result) == [900, 0]
