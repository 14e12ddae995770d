"""Freight by platform policy and templates (DESIGN §7, seed 002 运费模板)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.contracts.pricing import (
    FreightItem,
    FreightPolicy,
    FreightRequest,
    FreightRule,
    FreightSetup,
    FreightTemplate,
)
from models.domain.freight import (
    MissingFreightRuleError,
    MissingFreightTemplateError,
    UnserviceableRegionError,
    match_rule,
    quote_freight,
    region_levels,
    rule_charge,
)

PUDONG = "310115"
LHASA = "540102"

TEMPLATE_A = FreightTemplate(
    template_id=1,
    code="A",
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
)
TEMPLATE_B = FreightTemplate(
    template_id=2,
    code="B",
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
)


def item(sku: int, qty: int, template: int | None, weight_g: int = 0, **kw: int) -> FreightItem:
    return FreightItem(
        sku_id=sku, quantity=qty, freight_template_id=template, weight_g=weight_g, **kw
    )


GOLDEN_CART = [item(1, 2, 1, 200), item(2, 1, 1, 300), item(3, 1, 2, 1300)]


def quote(
    items: list[FreightItem],
    policy: FreightPolicy | None = None,
    templates: list[FreightTemplate] | None = None,
    region: str = PUDONG,
) -> tuple[int, dict[int, int]]:
    setup = FreightSetup(
        policy=policy or FreightPolicy(),
        templates=[TEMPLATE_A, TEMPLATE_B] if templates is None else templates,
    )
    result = quote_freight(FreightRequest(destination_region=region, items=items, setup=setup))
    return result.freight_fen, {t.template_id: t.charge_fen for t in result.templates}


def test_golden_two_templates_sum_and_max() -> None:
    """Template A per piece (first 1 @ ¥10.00, each additional 1 @ ¥5.00), template B by weight
    (first 1000 g @ ¥12.00, each additional 500 g @ ¥3.00), cart 2×SKU1(A) + 1×SKU2(A) +
    1×SKU3(B, 1300 g), no platform rule → A ¥20.00, B ¥15.00, SUM ¥35.00, MAX ¥20.00."""
    # A: 3 pieces = 10.00 + 2 × 5.00; B: 1300 g = 12.00 + ⌈300/500⌉ × 3.00.
    total, per_template = quote(GOLDEN_CART, FreightPolicy(combine="sum"))
    assert per_template == {1: 2000, 2: 1500}
    assert total == 3500
    total, per_template = quote(GOLDEN_CART, FreightPolicy(combine="max"))
    assert per_template == {1: 2000, 2: 1500}
    assert total == 2000


def test_skus_sharing_a_template_are_charged_once_on_summed_units() -> None:
    result = quote_freight(
        FreightRequest(
            destination_region=PUDONG,
            items=GOLDEN_CART,
            setup=FreightSetup(templates=[TEMPLATE_B, TEMPLATE_A]),
        )
    )
    assert result.basis == "templates"
    assert [(t.template_id, t.units, t.sku_ids, t.rule_id) for t in result.templates] == [
        (1, 3, [1, 2], 11),
        (2, 1300, [3], 21),
    ]


@pytest.mark.parametrize(
    ("units", "expected"),
    [(0, 1200), (1, 1200), (1000, 1200), (1001, 1500), (1500, 1500), (1501, 1800), (3000, 2400)],
)
def test_first_and_each_started_additional_block(units: int, expected: int) -> None:
    assert rule_charge(TEMPLATE_B.rules[0], units) == expected


def test_volume_template() -> None:
    by_volume = FreightTemplate(
        template_id=3,
        charge_by="volume",
        rules=[
            FreightRule(
                rule_id=31,
                is_default=True,
                first_units=5000,
                first_price_fen=800,
                additional_units=2000,
                additional_price_fen=250,
            )
        ],
    )
    items = [item(1, 3, 3, volume_cm3=2000), item(2, 1, 3, volume_cm3=500)]
    # 6500 cm³: 8.00 + ⌈1500/2000⌉ × 2.50
    assert quote(items, templates=[by_volume]) == (1050, {3: 1050})


def rule(rule_id: int, regions: list[str], price: int, default: bool = False) -> FreightRule:
    return FreightRule(
        rule_id=rule_id,
        regions=regions,
        is_default=default,
        first_units=1,
        first_price_fen=price,
        additional_units=1,
        additional_price_fen=0,
    )


def test_the_most_specific_rule_wins_then_default() -> None:
    template = FreightTemplate(
        template_id=9,
        charge_by="piece",
        rules=[
            rule(1, [], 100, default=True),
            rule(2, ["310000", "320000"], 200),
            rule(3, ["310100"], 300),
            rule(4, ["310115"], 400),
            rule(5, ["310000"], 500),
        ],
    )
    assert region_levels("310115") == ["310115", "310100", "310000"]
    assert region_levels("310000") == ["310000"]
    assert match_rule(template, "310115").rule_id == 4  # type: ignore[union-attr]
    assert match_rule(template, "310104").rule_id == 3  # type: ignore[union-attr]
    assert match_rule(template, "310000").rule_id == 2  # type: ignore[union-attr]
    assert match_rule(template, "320505").rule_id == 2  # type: ignore[union-attr]
    assert match_rule(template, "440305").rule_id == 1  # type: ignore[union-attr]


def test_missing_rule_is_an_error_naming_every_template() -> None:
    only_shanghai = [rule(1, ["310000"], 100)]
    templates = [
        TEMPLATE_A.model_copy(update={"rules": only_shanghai}),
        TEMPLATE_B.model_copy(update={"rules": only_shanghai}),
    ]
    assert quote(GOLDEN_CART, templates=templates)[0] == 200
    with pytest.raises(MissingFreightRuleError) as caught:
        quote(GOLDEN_CART, templates=templates, region="440305")
    assert caught.value.template_ids == [1, 2]
    assert caught.value.sku_ids == [1, 2, 3]
    assert caught.value.region == "440305"


def test_missing_rule_is_an_error_even_when_the_platform_threshold_makes_it_free() -> None:
    templates = [TEMPLATE_A.model_copy(update={"rules": [rule(1, ["310000"], 100)]})]
    policy = FreightPolicy(free_over_fen=0)
    with pytest.raises(MissingFreightRuleError):
        quote([item(1, 1, 1)], policy, templates, region="440305")


def test_unserviceable_region_is_an_error_in_every_mode() -> None:
    no_tibet = TEMPLATE_B.model_copy(update={"unserviceable_regions": ["540000"]})
    templates = [TEMPLATE_A, no_tibet]
    for policy in (FreightPolicy(), FreightPolicy(mode="fixed", fixed_fee_fen=800)):
        with pytest.raises(UnserviceableRegionError) as caught:
            quote(GOLDEN_CART, policy, templates, region=LHASA)
        assert (caught.value.template_ids, caught.value.sku_ids) == ([2], [3])
    assert quote(GOLDEN_CART, templates=templates)[0] == 3500


def test_unserviceable_takes_precedence_over_a_missing_rule() -> None:
    bare = TEMPLATE_A.model_copy(update={"rules": [], "unserviceable_regions": ["540000"]})
    with pytest.raises(UnserviceableRegionError):
        quote([item(1, 1, 1)], templates=[bare], region=LHASA)


def test_skus_without_a_known_template_are_an_error_in_template_mode() -> None:
    with pytest.raises(MissingFreightTemplateError) as caught:
        quote([item(1, 1, 1), item(5, 1, None), item(6, 1, 77)])
    assert (caught.value.sku_ids, caught.value.template_ids) == ([5, 6], [77])
    fixed = FreightPolicy(mode="fixed", fixed_fee_fen=800)
    assert quote([item(5, 1, None), item(6, 1, 77)], fixed) == (800, {})


def test_template_free_over_frees_only_that_template() -> None:
    free_a_over_100 = TEMPLATE_A.model_copy(update={"free_over_fen": 10000})
    cart = [
        item(1, 2, 1, 200, paid_fen=6000),
        item(2, 1, 1, 300, paid_fen=3999),
        item(3, 1, 2, 1300, paid_fen=50000),
    ]
    assert quote(cart, templates=[free_a_over_100, TEMPLATE_B]) == (3500, {1: 2000, 2: 1500})
    cart[1] = item(2, 1, 1, 300, paid_fen=4000)  # A's goods now reach exactly ¥100.00
    assert quote(cart, templates=[free_a_over_100, TEMPLATE_B]) == (1500, {1: 0, 2: 1500})


def test_platform_free_over_threshold_in_either_mode() -> None:
    cart = [item(1, 1, 1, paid_fen=9999), item(3, 1, 2, 1300, paid_fen=1)]
    for mode in ("templates", "fixed"):
        policy = FreightPolicy(mode=mode, fixed_fee_fen=600, free_over_fen=10000)
        result = quote_freight(
            FreightRequest(
                destination_region=PUDONG,
                items=cart,
                setup=FreightSetup(policy=policy, templates=[TEMPLATE_A, TEMPLATE_B]),
            )
        )
        assert (result.basis, result.freight_fen) == ("platform_free", 0)
    below = [item(1, 1, 1, paid_fen=9998), item(3, 1, 2, 1300, paid_fen=1)]
    assert quote(below, FreightPolicy(free_over_fen=10000))[0] == 2500  # 10.00 + 15.00
    assert quote(below, FreightPolicy(mode="fixed", fixed_fee_fen=600, free_over_fen=10000)) == (
        600,
        {},
    )


# --- properties ----------------------------------------------------------------------------

RULES = st.builds(
    FreightRule,
    rule_id=st.just(1),
    is_default=st.just(True),
    first_units=st.integers(1, 3000),
    first_price_fen=st.integers(0, 3000),
    additional_units=st.integers(1, 1000),
    additional_price_fen=st.integers(0, 1000),
)


@st.composite
def templates_strategy(draw: st.DrawFn, free_over: bool) -> list[FreightTemplate]:
    return [
        FreightTemplate(
            template_id=template_id,
            charge_by=draw(st.sampled_from(["piece", "weight", "volume"])),
            rules=[draw(RULES)],
            free_over_fen=draw(st.none() | st.integers(0, 50000)) if free_over else None,
        )
        for template_id in (1, 2, 3)
    ]


ITEMS = st.builds(
    FreightItem,
    sku_id=st.integers(1, 9),
    quantity=st.integers(1, 5),
    weight_g=st.integers(0, 5000),
    volume_cm3=st.integers(0, 5000),
    freight_template_id=st.integers(1, 3),
    paid_fen=st.integers(0, 20000),
)


@given(st.integers(0, 100_000), st.integers(0, 100_000), RULES)
def test_a_rule_never_charges_less_for_more_units(a: int, b: int, rule: FreightRule) -> None:
    low, high = sorted((a, b))
    assert rule_charge(rule, low) <= rule_charge(rule, high)


@given(
    templates_strategy(free_over=False),
    st.lists(ITEMS, min_size=1, max_size=6),
    ITEMS,
    st.sampled_from(["sum", "max"]),
)
def test_adding_an_item_never_lowers_freight_without_free_shipping_thresholds(
    templates: list[FreightTemplate], items: list[FreightItem], extra: FreightItem, combine: str
) -> None:
    policy = FreightPolicy(combine=combine)
    before, _ = quote(items, policy, templates)
    after, _ = quote([*items, extra], policy, templates)
    assert after >= before


@given(
    templates_strategy(free_over=True),
    st.lists(ITEMS, min_size=1, max_size=6),
    ITEMS,
    st.none() | st.integers(0, 100_000),
)
def test_adding_an_item_lowers_freight_only_by_crossing_a_free_threshold(
    templates: list[FreightTemplate],
    items: list[FreightItem],
    extra: FreightItem,
    platform_free_over: int | None,
) -> None:
    policy = FreightPolicy(free_over_fen=platform_free_over)
    setup = FreightSetup(policy=policy, templates=templates)
    before = quote_freight(FreightRequest(destination_region=PUDONG, items=items, setup=setup))
    after = quote_freight(
        FreightRequest(destination_region=PUDONG, items=[*items, extra], setup=setup)
    )
    free_before = {t.template_id for t in before.templates if t.free_over_reached}
    free_after = {t.template_id for t in after.templates if t.free_over_reached}
    assert free_before <= free_after  # paid amounts only grow
    if after.basis != "platform_free" and free_after == free_before:
        assert after.freight_fen >= before.freight_fen
    sum_quote = quote([*items, extra], FreightPolicy(combine="sum"), templates)[0]
    max_quote = quote([*items, extra], FreightPolicy(combine="max"), templates)[0]
    assert sum_quote >= max_quote
