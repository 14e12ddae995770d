"""Properties of refund amounts (DESIGN §6.3): any sequence of partial requests that covers the
order refunds exactly what was paid, no prefix ever more, line totals do not depend on the order
or split of the requests, and an earlier refund caps the total."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from models.contracts.pricing import (
    DiscountAllocation,
    FreightQuote,
    PricedLine,
    PricedOrder,
)
from tests.unit.test_refunds import Ledger

# --- Properties ----------------------------------------------------------------------------


@st.composite
def priced_orders(draw: st.DrawFn) -> PricedOrder:
    lines: list[PricedLine] = []
    for line_no in range(1, draw(st.integers(1, 5)) + 1):
        quantity = draw(st.integers(1, 7))
        price = draw(st.one_of(st.just(0), st.integers(1, 50_000)))
        amount = price * quantity
        discount = draw(st.integers(0, amount))
        lines.append(
            PricedLine(
                line_no=line_no,
                sku_id=100 + line_no,
                category_id=1,
                quantity=quantity,
                unit_price_fen=price,
                list_amount_fen=amount,
                allocations=[DiscountAllocation(source="coupon", source_id=1, amount_fen=discount)]
                if discount
                else [],
                discount_fen=discount,
                paid_fen=amount - discount,
                is_gift=price == 0,
            )
        )
    freight = draw(st.integers(0, 3000))
    goods = sum(line.paid_fen for line in lines)
    return PricedOrder(
        lines=lines,
        discounts=[],
        coupon_id=draw(st.sampled_from([None, 1])),
        goods_list_fen=sum(line.list_amount_fen for line in lines),
        discount_fen=sum(line.discount_fen for line in lines),
        goods_paid_fen=goods,
        freight=FreightQuote(basis="fixed", combine="sum", freight_fen=freight),
        freight_fen=freight,
        payable_fen=goods + freight,
    )


@st.composite
def refund_sequences(draw: st.DrawFn, order: PricedOrder) -> list[dict[int, int]]:
    """Every unit of the order, shuffled, cut into consecutive requests."""
    units = draw(
        st.permutations([line.line_no for line in order.lines for _ in range(line.quantity)])
    )
    cuts = sorted(draw(st.sets(st.integers(1, len(units) - 1))) if len(units) > 1 else set())
    bounds = [0, *cuts, len(units)]
    return [dict(Counter(units[a:b])) for a, b in pairwise(bounds)]


def run(order: PricedOrder, sequence: list[dict[int, int]], already: int = 0) -> Ledger:
    ledger = Ledger(order, already_refunded_fen=already)
    for units in sequence:
        ledger.refund(units)
    return ledger


@settings(max_examples=200)
@given(st.data())
def test_any_sequence_refunds_exactly_goods_and_freight(data: st.DataObject) -> None:
    order = data.draw(priced_orders())
    ledger = run(order, data.draw(refund_sequences(order)))
    assert sum(q.total_fen for q in ledger.quotes) == order.goods_paid_fen + order.freight_fen
    assert dict(ledger.fen) == {line.line_no: line.paid_fen for line in order.lines}
    *partial, last = ledger.quotes
    assert last.completes_order and last.freight_fen == order.freight_fen
    assert last.return_coupons == (order.coupon_id is not None)
    assert not any(q.completes_order or q.freight_fen or q.return_coupons for q in partial)


@settings(max_examples=200)
@given(st.data())
def test_no_prefix_exceeds_what_was_paid(data: st.DataObject) -> None:
    order = data.draw(priced_orders())
    paid = {line.line_no: line.paid_fen for line in order.lines}
    ledger = Ledger(order)
    for units in data.draw(refund_sequences(order)):
        quote = ledger.refund(units)
        assert all(line.amount_fen >= 0 for line in quote.lines)
        assert quote.total_fen >= 0
        assert all(ledger.fen[no] <= paid[no] for no in paid)
        assert ledger.refunded_fen <= order.payable_fen


@settings(max_examples=200)
@given(st.data())
def test_line_totals_do_not_depend_on_order_or_split(data: st.DataObject) -> None:
    order = data.draw(priced_orders())
    lines = {line.line_no: line for line in order.lines}
    totals = []
    for _ in range(2):
        ledger = Ledger(order)
        for units in data.draw(refund_sequences(order)):
            ledger.refund(units)
            # after K units a line has refunded ⌊paid·K/n⌋, however it got there
            for no, k in ledger.units.items():
                assert ledger.fen[no] == lines[no].paid_fen * k // lines[no].quantity
        totals.append(dict(ledger.fen))
    assert totals[0] == totals[1]


@settings(max_examples=200)
@given(st.data())
def test_earlier_package_refund_caps_the_total(data: st.DataObject) -> None:
    order = data.draw(priced_orders())
    earlier = data.draw(st.integers(0, order.payable_fen))
    ledger = run(order, data.draw(refund_sequences(order)), already=earlier)
    assert ledger.refunded_fen <= order.payable_fen
    assert sum(q.total_fen for q in ledger.quotes) == order.payable_fen - earlier
    refunded = earlier
    for quote in ledger.quotes:
        owed = quote.goods_fen + quote.freight_fen
        assert quote.capped == (owed > order.payable_fen - refunded)
        assert quote.total_fen == min(owed, order.payable_fen - refunded)
        refunded += quote.total_fen
