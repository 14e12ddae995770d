"""Refund amounts of after-sales (DESIGN §6.3): per-line paid value from the stored allocations,
whole-fen shares of partial quantities, freight and coupons only with the whole order, the cap."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from models.contracts.order import PackageLine
from models.contracts.pricing import (
    CartLine,
    CouponOffer,
    FreightPolicy,
    FreightSetup,
    GiftPromotion,
    PricedOrder,
    PricingRequest,
    ProductScope,
    Promotions,
    SkuFacts,
    SpendTier,
    SpendTierPromotion,
)
from models.domain.pricing import price_order
from models.domain.refunds import (
    EmptyRefundRequestError,
    LineHistory,
    RefundInputError,
    RefundQuantityError,
    RefundQuote,
    RefundRequestLine,
    UnknownRefundLineError,
    quote_refund,
    split_across_payments,
)
from models.domain.shipping import package_value

ALL = ProductScope(all_items=True)


def golden_order() -> PricedOrder:
    """满减 1000 off 10000 and a 700 fen coupon over 3 × 3333, 2 × 1999, 7 × 777, plus a 满赠
    gift and 1200 fen fixed freight — allocations that divide neither across lines nor units."""
    return price_order(
        PricingRequest(
            at=datetime(2025, 11, 11, tzinfo=UTC),
            customer_id=7,
            destination_region="310115",
            lines=[
                CartLine(sku_id=1, quantity=3),
                CartLine(sku_id=2, quantity=2),
                CartLine(sku_id=3, quantity=7),
            ],
            catalog=[
                SkuFacts(sku_id=1, category_id=10, list_price_fen=3333),
                SkuFacts(sku_id=2, category_id=20, list_price_fen=1999),
                SkuFacts(sku_id=3, category_id=30, list_price_fen=777),
                SkuFacts(sku_id=9, category_id=99, list_price_fen=2500),
            ],
            promotions=Promotions(
                spend_tiers=[
                    SpendTierPromotion(
                        promotion_id=21,
                        scope=ALL,
                        tiers=[
                            SpendTier(threshold_fen=10000, off_fen=1000),
                            SpendTier(threshold_fen=20000, off_fen=2500),
                        ],
                    )
                ],
                gifts=[
                    GiftPromotion(promotion_id=31, scope=ALL, threshold_fen=15000, gift_sku_id=9)
                ],
            ),
            coupon=CouponOffer(coupon_id=41, kind="fixed", amount_off_fen=700),
            freight=FreightSetup(policy=FreightPolicy(mode="fixed", fixed_fee_fen=1200)),
        )
    )


class Ledger:
    """Plays the after-sale store: quotes each request with the history so far, records it."""

    def __init__(self, order: PricedOrder, already_refunded_fen: int = 0) -> None:
        self.order = order
        self.units: Counter[int] = Counter()
        self.fen: Counter[int] = Counter()
        self.refunded_fen = already_refunded_fen
        self.quotes: list[RefundQuote] = []

    def refund(self, units: dict[int, int]) -> RefundQuote:
        quote = quote_refund(
            self.order,
            [RefundRequestLine(line_no=no, quantity=k) for no, k in units.items()],
            history=[
                LineHistory(line_no=no, refunded_quantity=self.units[no], refunded_fen=self.fen[no])
                for no in self.units
            ],
            already_refunded_fen=self.refunded_fen,
        )
        for line in quote.lines:
            self.units[line.line_no] += line.quantity
            self.fen[line.line_no] += line.amount_fen
        self.refunded_fen += quote.total_fen
        self.quotes.append(quote)
        return quote


def one_unit_at_a_time(order: PricedOrder, line_order: list[int]) -> Ledger:
    ledger = Ledger(order)
    for line_no in line_order:
        ledger.refund({line_no: 1})
    return ledger


# --- Golden --------------------------------------------------------------------------------


def test_golden_order_has_uneven_allocations() -> None:
    order = golden_order()
    paid = {line.line_no: line.paid_fen for line in order.lines}
    assert paid == {1: 9122, 2: 3649, 3: 4965, 4: 0}
    assert [[a.amount_fen for a in line.allocations] for line in order.lines] == [
        [516, 361],
        [205, 144],
        [279, 195],
        [],
    ]
    assert (order.goods_paid_fen, order.freight_fen, order.payable_fen) == (17736, 1200, 18936)


def test_golden_one_unit_at_a_time_line_by_line() -> None:
    order = golden_order()
    ledger = one_unit_at_a_time(order, [1, 1, 1, 2, 2, 3, 3, 3, 3, 3, 3, 3, 4])
    amounts = [quote.lines[0].amount_fen for quote in ledger.quotes]
    # line 1: ⌊9122·K/3⌋ steps; line 2: ⌊3649·K/2⌋; line 3: ⌊4965·K/7⌋; the gift line 0
    assert amounts == [3040, 3041, 3041, 1824, 1825, 709, 709, 709, 710, 709, 709, 710, 0]
    assert sum(amounts) == order.goods_paid_fen == 17736
    assert [q.freight_fen for q in ledger.quotes] == [0] * 12 + [1200]
    assert [q.return_coupons for q in ledger.quotes] == [False] * 12 + [True]
    assert ledger.quotes[-1].total_fen == 1200
    assert ledger.refunded_fen == order.payable_fen
    assert not any(q.capped for q in ledger.quotes)


@pytest.mark.parametrize(
    "line_order",
    [
        [3, 2, 1, 3, 2, 1, 3, 1, 3, 3, 3, 4, 3],
        [4, 3, 3, 3, 3, 3, 3, 3, 2, 2, 1, 1, 1],
        [1, 3, 4, 2, 3, 1, 3, 3, 2, 3, 3, 1, 3],
    ],
)
def test_golden_any_order_refunds_exactly_what_was_paid(line_order: list[int]) -> None:
    order = golden_order()
    ledger = one_unit_at_a_time(order, line_order)
    assert dict(ledger.fen) == {1: 9122, 2: 3649, 3: 4965, 4: 0}
    assert sum(q.goods_fen for q in ledger.quotes) == 17736
    last = ledger.quotes[-1]
    assert (last.freight_fen, last.return_coupons, last.completes_order) == (1200, True, True)
    assert not any(q.freight_fen or q.return_coupons for q in ledger.quotes[:-1])
    assert ledger.refunded_fen == 18936


def test_golden_whole_order_in_one_request_equals_unit_by_unit() -> None:
    order = golden_order()
    quote = Ledger(order).refund({1: 3, 2: 2, 3: 7, 4: 1})
    assert [(line.line_no, line.amount_fen) for line in quote.lines] == [
        (1, 9122),
        (2, 3649),
        (3, 4965),
        (4, 0),
    ]
    assert (quote.goods_fen, quote.freight_fen, quote.total_fen) == (17736, 1200, 18936)
    assert quote.return_coupons and not quote.capped


def test_freight_waits_for_the_gift_units_too() -> None:
    ledger = Ledger(golden_order())
    paid_goods = ledger.refund({1: 3, 2: 2, 3: 7})
    assert (paid_goods.goods_fen, paid_goods.freight_fen) == (17736, 0)
    assert not paid_goods.return_coupons
    gift = ledger.refund({4: 1})
    assert (gift.goods_fen, gift.freight_fen, gift.total_fen) == (0, 1200, 1200)
    assert gift.return_coupons


def test_partial_amount_matches_package_value() -> None:
    order = golden_order()
    quote = Ledger(order).refund({1: 2, 3: 5})
    package = [
        PackageLine(line_no=1, sku_id=1, quantity=2),
        PackageLine(line_no=3, sku_id=3, quantity=5),
    ]
    assert quote.goods_fen == package_value(order.lines, package) == 6081 + 3546


def test_history_made_by_another_floor_catches_up_exactly() -> None:
    order = golden_order()
    line_3 = order.lines[2]
    # Two lost one-unit parcels of line 3 were refunded by package value (709 fen each).
    per_parcel = package_value(order.lines, [PackageLine(line_no=3, sku_id=3, quantity=1)])
    history = [LineHistory(line_no=3, refunded_quantity=2, refunded_fen=2 * per_parcel)]
    quote = quote_refund(order, [RefundRequestLine(line_no=3, quantity=5)], history=history)
    assert quote.lines[0].amount_fen == line_3.paid_fen - 2 * per_parcel == 4965 - 1418
    # A history ahead of the floor never makes a negative amount; the last units settle it.
    ahead = [LineHistory(line_no=3, refunded_quantity=1, refunded_fen=1500)]
    one = quote_refund(order, [RefundRequestLine(line_no=3, quantity=1)], history=ahead)
    assert one.lines[0].amount_fen == 0
    rest = quote_refund(order, [RefundRequestLine(line_no=3, quantity=6)], history=ahead)
    assert rest.lines[0].amount_fen == 4965 - 1500


# --- Gift, cap, errors ---------------------------------------------------------------------


def test_gift_line_refunds_nothing() -> None:
    quote = Ledger(golden_order()).refund({4: 1})
    assert [(line.line_no, line.quantity, line.amount_fen) for line in quote.lines] == [(4, 1, 0)]
    assert (quote.goods_fen, quote.freight_fen, quote.total_fen) == (0, 0, 0)
    assert not quote.completes_order


def test_cap_after_an_earlier_package_refund() -> None:
    order = golden_order()
    lost = package_value(order.lines, [PackageLine(line_no=1, sku_id=1, quantity=1)])
    assert lost == 3040
    # The order workflow refunded a lost parcel; the customer then asks for everything.
    ledger = Ledger(order, already_refunded_fen=lost)
    quote = ledger.refund({1: 3, 2: 2, 3: 7, 4: 1})
    assert (quote.goods_fen, quote.freight_fen) == (17736, 1200)
    assert quote.total_fen == 18936 - 3040
    assert quote.capped
    assert ledger.refunded_fen == order.payable_fen


def test_cap_does_not_bite_when_enough_is_left() -> None:
    quote = Ledger(golden_order(), already_refunded_fen=3040).refund({1: 1})
    assert (quote.total_fen, quote.capped) == (3040, False)


def test_over_quantity_names_the_line_and_numbers() -> None:
    ledger = Ledger(golden_order())
    ledger.refund({2: 1})
    with pytest.raises(RefundQuantityError) as caught:
        ledger.refund({1: 1, 2: 2})
    error = caught.value
    assert (error.reason, error.line_no, error.sku_id) == ("exceeds_available", 2, 2)
    assert (error.requested, error.bought, error.already_refunded, error.available) == (2, 2, 1, 1)
    assert "line 2 (SKU 2)" in str(error)
    assert len(ledger.quotes) == 1


def test_nothing_left_after_the_whole_order() -> None:
    ledger = Ledger(golden_order())
    ledger.refund({1: 3, 2: 2, 3: 7, 4: 1})
    with pytest.raises(RefundQuantityError) as caught:
        ledger.refund({4: 1})
    assert (caught.value.line_no, caught.value.available) == (4, 0)


@pytest.mark.parametrize("quantity", [0, -1])
def test_quantity_must_be_positive(quantity: int) -> None:
    with pytest.raises(RefundQuantityError) as caught:
        Ledger(golden_order()).refund({3: quantity})
    assert (caught.value.reason, caught.value.line_no, caught.value.requested) == (
        "not_positive",
        3,
        quantity,
    )


def test_line_named_twice_is_refused() -> None:
    request = [RefundRequestLine(line_no=1, quantity=1), RefundRequestLine(line_no=1, quantity=1)]
    with pytest.raises(RefundQuantityError) as caught:
        quote_refund(golden_order(), request)
    assert (caught.value.reason, caught.value.line_no) == ("line_repeated", 1)


def test_unknown_line_and_empty_request_are_refused() -> None:
    with pytest.raises(UnknownRefundLineError) as caught:
        Ledger(golden_order()).refund({9: 1})
    assert caught.value.line_no == 9
    with pytest.raises(EmptyRefundRequestError):
        quote_refund(golden_order(), [])


def test_inconsistent_inputs_are_refused() -> None:
    order = golden_order()
    one = [RefundRequestLine(line_no=1, quantity=1)]
    with pytest.raises(RefundInputError):
        quote_refund(order, one, history=[LineHistory(line_no=2, refunded_quantity=3)])
    with pytest.raises(RefundInputError):
        quote_refund(order, one, history=[LineHistory(line_no=2, refunded_fen=3650)])
    with pytest.raises(RefundInputError):
        quote_refund(order, one, history=[LineHistory(line_no=7)])
    with pytest.raises(RefundInputError):
        quote_refund(order, one, already_refunded_fen=order.payable_fen + 1)
    tampered = order.model_copy(
        update={"lines": [order.lines[0].model_copy(update={"paid_fen": 9999}), *order.lines[1:]]}
    )
    with pytest.raises(RefundInputError):
        quote_refund(tampered, one)


def test_a_presale_refund_goes_on_the_balance_first_then_the_deposit() -> None:
    assert split_across_payments(300, balance_left_fen=500, deposit_left_fen=100) == 300
    assert split_across_payments(550, balance_left_fen=500, deposit_left_fen=100) == 500
    assert split_across_payments(600, balance_left_fen=500, deposit_left_fen=100) == 500
    assert split_across_payments(80, balance_left_fen=0, deposit_left_fen=100) == 0
    assert split_across_payments(0, balance_left_fen=0, deposit_left_fen=0) == 0
    with pytest.raises(RefundInputError):
        split_across_payments(601, balance_left_fen=500, deposit_left_fen=100)
    with pytest.raises(RefundInputError):
        split_across_payments(-1, balance_left_fen=500, deposit_left_fen=100)
