"""Whole-order pricing: promotions, coupon, gifts, allocations, freight, payable (DESIGN §7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.contracts.pricing import (
    CartLine,
    CouponOffer,
    FreightPolicy,
    FreightRule,
    FreightSetup,
    FreightTemplate,
    GiftPromotion,
    ItemDiscount,
    PricedOrder,
    PricingRequest,
    ProductScope,
    Promotions,
    SkuFacts,
    SpendTier,
    SpendTierPromotion,
)
from models.domain.freight import MissingFreightTemplateError
from models.domain.pricing import UnknownSkuError, price_order
from models.domain.promotions import CouponNotApplicableError

AT = datetime(2025, 11, 11, 0, 30, tzinfo=UTC)
ALL = ProductScope(all_items=True)

CATALOG = [
    SkuFacts(sku_id=1, category_id=10, list_price_fen=10000, weight_g=500, freight_template_id=1),
    SkuFacts(sku_id=2, category_id=20, list_price_fen=5990, weight_g=300, freight_template_id=1),
    SkuFacts(sku_id=3, category_id=30, list_price_fen=12800, weight_g=1300, freight_template_id=2),
    SkuFacts(sku_id=9, category_id=99, list_price_fen=2000, weight_g=100, freight_template_id=1),
]
TEMPLATES = [
    FreightTemplate(
        template_id=1,
        charge_by="piece",
        rules=[
            FreightRule(
                rule_id=11,
                is_default=True,
                first_units=1,
                first_price_fen=1000,
                additional_units=1,
                additional_price_fen=500,
            )
        ],
    ),
    FreightTemplate(
        template_id=2,
        charge_by="weight",
        rules=[
            FreightRule(
                rule_id=21,
                is_default=True,
                first_units=1000,
                first_price_fen=1200,
                additional_units=500,
                additional_price_fen=300,
            )
        ],
    ),
]
PROMOTIONS = Promotions(
    item_discounts=[
        ItemDiscount(
            promotion_id=11, scope=ProductScope(category_ids=[20]), kind="percent", percent_off=10
        ),
        ItemDiscount(
            promotion_id=12, scope=ProductScope(sku_ids=[1]), kind="fixed", amount_off_fen=800
        ),
    ],
    spend_tiers=[
        SpendTierPromotion(
            promotion_id=21,
            name="满200减20 满300减40",
            scope=ALL,
            tiers=[
                SpendTier(threshold_fen=20000, off_fen=2000),
                SpendTier(threshold_fen=30000, off_fen=4000),
            ],
        )
    ],
    gifts=[GiftPromotion(promotion_id=31, scope=ALL, threshold_fen=30000, gift_sku_id=9)],
)
COUPON = CouponOffer(coupon_id=41, code="SAVE10", kind="fixed", amount_off_fen=1000)


def request(**changes: Any) -> PricingRequest:
    fields: dict[str, Any] = {
        "at": AT,
        "customer_id": 7,
        "destination_region": "310115",
        "lines": [
            CartLine(sku_id=1, quantity=2),
            CartLine(sku_id=2, quantity=1),
            CartLine(sku_id=3, quantity=1),
        ],
        "catalog": CATALOG,
        "promotions": PROMOTIONS,
        "coupon": COUPON.model_copy(update={"min_spend_fen": 30000}),
        "freight": FreightSetup(templates=TEMPLATES),
    }
    fields.update(changes)
    return PricingRequest(**fields)


def by_source(order: PricedOrder, source: str) -> list[int]:
    return [
        sum(a.amount_fen for a in line.allocations if a.source == source) for line in order.lines
    ]


def test_golden_order_with_every_kind_of_discount() -> None:
    order = price_order(request())
    # List: 2 × 100.00, 1 × 59.90, 1 × 128.00 = 387.90.
    assert [ln.list_amount_fen for ln in order.lines] == [20000, 5990, 12800, 0]
    # Item discounts: line 1 ¥8 × 2 = 16.00; line 2 10% of 59.90 = 5.99.
    assert by_source(order, "item_discount") == [1600, 599, 0, 0]
    # 满减 on 184.00 + 53.91 + 128.00 = 365.91 ≥ 300 → 40.00: floors 2011, 589, 1399 (3999),
    # the remaining fen to the largest line (1).
    assert by_source(order, "spend_tier") == [2012, 589, 1399, 0]
    # Coupon ¥10 on 163.88 + 48.02 + 114.01 = 325.91 (≥ 300 minimum): floors 502, 147, 349
    # (998), 2 fen to line 1.
    assert by_source(order, "coupon") == [504, 147, 349, 0]
    assert [ln.paid_fen for ln in order.lines] == [15884, 4655, 11052, 0]
    gift = order.lines[3]
    assert (gift.line_no, gift.sku_id, gift.quantity, gift.is_gift) == (4, 9, 1, True)
    assert (gift.unit_price_fen, gift.gift_promotion_id) == (0, 31)
    assert [(d.source, d.source_id, d.amount_fen) for d in order.discounts] == [
        ("item_discount", 11, 599),
        ("item_discount", 12, 1600),
        ("spend_tier", 21, 4000),
        ("coupon", 41, 1000),
    ]
    assert order.coupon_id == 41
    assert (order.goods_list_fen, order.discount_fen, order.goods_paid_fen) == (38790, 7199, 31591)
    # Freight: template 1 has 2 + 1 + the gift = 4 pieces → 10.00 + 3 × 5.00; template 2
    # 1300 g → 12.00 + 3.00. Sum 40.00.
    assert [(t.template_id, t.units, t.charge_fen) for t in order.freight.templates] == [
        (1, 4, 2500),
        (2, 1300, 1500),
    ]
    assert order.freight_fen == 4000
    assert order.payable_fen == 35591


def test_plain_cart_is_list_price_plus_freight() -> None:
    order = price_order(request(promotions=Promotions(), coupon=None))
    assert [ln.paid_fen for ln in order.lines] == [20000, 5990, 12800]
    assert all(ln.allocations == [] for ln in order.lines)
    assert (order.freight_fen, order.payable_fen) == (3500, 38790 + 3500)


def test_platform_threshold_is_measured_after_discounts() -> None:
    policy = FreightPolicy(free_over_fen=35000)  # list 387.90 reaches it, paid 315.91 does not
    order = price_order(request(freight=FreightSetup(policy=policy, templates=TEMPLATES)))
    assert (order.freight.basis, order.freight_fen) == ("templates", 4000)
    policy = FreightPolicy(free_over_fen=31591)
    order = price_order(request(freight=FreightSetup(policy=policy, templates=TEMPLATES)))
    assert (order.freight.basis, order.freight_fen, order.payable_fen) == (
        "platform_free",
        0,
        31591,
    )


def test_fixed_platform_fee() -> None:
    setup = FreightSetup(policy=FreightPolicy(mode="fixed", fixed_fee_fen=800))
    order = price_order(request(freight=setup))
    assert (order.freight.basis, order.payable_fen) == ("fixed", 31591 + 800)


def test_prices_come_from_the_catalog_and_unknown_skus_are_refused() -> None:
    with pytest.raises(UnknownSkuError) as caught:
        price_order(request(lines=[CartLine(sku_id=5, quantity=1), CartLine(sku_id=4, quantity=1)]))
    assert caught.value.sku_ids == [4, 5]


def test_an_earned_gift_must_be_in_the_catalog() -> None:
    with pytest.raises(UnknownSkuError) as caught:
        price_order(request(catalog=CATALOG[:3]))
    assert caught.value.sku_ids == [9]


def test_no_gift_below_its_threshold_and_the_coupon_does_not_decide_it() -> None:
    gifts = [GiftPromotion(promotion_id=31, scope=ALL, threshold_fen=32591, gift_sku_id=9)]
    promotions = PROMOTIONS.model_copy(update={"gifts": gifts})
    order = price_order(request(promotions=promotions))
    assert order.lines[-1].is_gift  # 325.91 after promotions reaches it; the coupon comes later
    gifts[0] = gifts[0].model_copy(update={"threshold_fen": 32592})
    order = price_order(request(promotions=promotions.model_copy(update={"gifts": gifts})))
    assert not any(ln.is_gift for ln in order.lines)


def test_an_inapplicable_coupon_fails_the_pricing() -> None:
    expired = COUPON.model_copy(update={"valid_until": AT - timedelta(days=1)})
    with pytest.raises(CouponNotApplicableError) as caught:
        price_order(request(coupon=expired))
    assert caught.value.reason == "expired"


def test_freight_errors_surface() -> None:
    catalog = [*CATALOG[:2], CATALOG[2].model_copy(update={"freight_template_id": None})]
    with pytest.raises(MissingFreightTemplateError) as caught:
        price_order(request(catalog=catalog, promotions=Promotions()))
    assert caught.value.sku_ids == [3]


# --- properties ----------------------------------------------------------------------------

SKU_IDS = range(1, 7)
PRICED_CATALOG = st.tuples(*[st.integers(0, 50000) for _ in SKU_IDS])


@st.composite
def scopes(draw: st.DrawFn) -> ProductScope:
    if draw(st.booleans()):
        return ALL
    return ProductScope(sku_ids=draw(st.lists(st.sampled_from(SKU_IDS), min_size=1, max_size=3)))


@st.composite
def pricing_requests(draw: st.DrawFn) -> PricingRequest:
    prices = draw(PRICED_CATALOG)
    catalog = [
        SkuFacts(
            sku_id=sku,
            category_id=sku % 2,
            list_price_fen=prices[sku - 1],
            weight_g=draw(st.integers(1, 3000)),
            freight_template_id=1 + sku % 2,
        )
        for sku in SKU_IDS
    ]
    lines = draw(
        st.lists(
            st.builds(CartLine, sku_id=st.sampled_from(SKU_IDS), quantity=st.integers(1, 5)),
            min_size=1,
            max_size=6,
        )
    )
    item_discounts = [
        ItemDiscount(
            promotion_id=pid,
            scope=draw(scopes()),
            kind="percent" if pid % 2 else "fixed",
            percent_off=draw(st.integers(1, 100)) if pid % 2 else 0,
            amount_off_fen=0 if pid % 2 else draw(st.integers(1, 20000)),
        )
        for pid in range(1, draw(st.integers(0, 3)) + 1)
    ]
    spend_tiers = [
        SpendTierPromotion(
            promotion_id=pid,
            scope=draw(scopes()),
            tiers=[
                SpendTier(
                    threshold_fen=draw(st.integers(1, 80000)), off_fen=draw(st.integers(1, 90000))
                )
            ],
            repeat=draw(st.booleans()),
        )
        for pid in range(10, 10 + draw(st.integers(0, 2)))
    ]
    gifts = (
        [
            GiftPromotion(
                promotion_id=20,
                scope=draw(scopes()),
                threshold_fen=draw(st.integers(1, 90000)),
                gift_sku_id=draw(st.sampled_from(SKU_IDS)),
            )
        ]
        if draw(st.booleans())
        else []
    )
    coupon = (
        CouponOffer(
            coupon_id=30,
            kind="percent",
            percent_off=draw(st.integers(1, 100)),
            max_off_fen=draw(st.none() | st.integers(0, 5000)),
        )
        if draw(st.booleans())
        else CouponOffer(coupon_id=31, kind="fixed", amount_off_fen=draw(st.integers(1, 30000)))
    )
    policy = FreightPolicy(
        combine=draw(st.sampled_from(["sum", "max"])),
        free_over_fen=draw(st.none() | st.integers(0, 100000)),
    )
    return PricingRequest(
        at=AT,
        customer_id=1,
        destination_region="440305",
        lines=lines,
        catalog=catalog,
        promotions=Promotions(item_discounts=item_discounts, spend_tiers=spend_tiers, gifts=gifts),
        coupon=coupon,
        freight=FreightSetup(policy=policy, templates=TEMPLATES),
    )


@settings(max_examples=300)
@given(pricing_requests())
def test_every_discount_is_fully_allocated_and_the_totals_add_up(req: PricingRequest) -> None:
    order = price_order(req)
    for line in order.lines:
        assert sum(a.amount_fen for a in line.allocations) == line.discount_fen
        assert line.paid_fen == line.list_amount_fen - line.discount_fen >= 0
        assert all(0 <= a.amount_fen <= line.list_amount_fen for a in line.allocations)
        if line.is_gift:
            assert (line.list_amount_fen, line.paid_fen, line.allocations) == (0, 0, [])
    for discount in order.discounts:
        allocated = sum(
            a.amount_fen
            for line in order.lines
            for a in line.allocations
            if (a.source, a.source_id) == (discount.source, discount.source_id)
        )
        assert allocated == discount.amount_fen
    assert order.discount_fen == sum(d.amount_fen for d in order.discounts)
    assert order.goods_paid_fen == sum(line.paid_fen for line in order.lines)
    assert order.goods_list_fen - order.discount_fen == order.goods_paid_fen
    assert order.payable_fen == order.goods_paid_fen + order.freight_fen
    assert price_order(req) == order
