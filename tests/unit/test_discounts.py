"""Allocation of a discount to lines in whole fen (DESIGN §7)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.domain.discounts import allocate, percent_of, remainder_order


def test_proportional_shares_with_the_remainder_on_the_largest_line() -> None:
    # 100 over 100/200/300: 16.67, 33.33, 50 → floors 16, 33, 50 (99); 1 fen to the 300 line.
    assert allocate(100, [100, 200, 300]) == [16, 33, 51]


def test_remainder_ties_go_to_the_lowest_index() -> None:
    # 10 over three equal lines: 3 each (9); the remaining fen goes to line 0.
    assert allocate(10, [300, 300, 300]) == [4, 3, 3]
    assert allocate(10, [100, 300, 300]) == [1, 5, 4]  # floors 1, 4, 4 → line 1 (first 300)


def test_exact_split_needs_no_remainder() -> None:
    assert allocate(3000, [20000, 5000]) == [2400, 600]


def test_remainder_spills_when_the_largest_line_is_full() -> None:
    # 2 over 1/1/1: floors 0, 0, 0; line 0 can take only 1, so line 1 takes the other.
    assert allocate(2, [1, 1, 1]) == [1, 1, 0]


def test_whole_amount_and_zero_lines() -> None:
    assert allocate(600, [100, 200, 300]) == [100, 200, 300]
    assert allocate(5, [0, 10, 0]) == [0, 5, 0]
    assert allocate(0, [7, 9]) == [0, 0]
    assert allocate(0, []) == []


@pytest.mark.parametrize(
    ("discount", "amounts"),
    [(-1, [10]), (11, [10]), (1, []), (1, [0, 0]), (1, [5, -1])],
)
def test_impossible_allocations_are_refused(discount: int, amounts: list[int]) -> None:
    with pytest.raises(ValueError):
        allocate(discount, amounts)


def test_remainder_order_is_largest_first_then_index() -> None:
    assert remainder_order([5, 9, 9, 1]) == [1, 2, 0, 3]


def test_percent_rounds_down_to_whole_fen() -> None:
    assert percent_of(999, 15) == 149  # 149.85
    assert percent_of(10000, 100) == 10000
    assert percent_of(1, 99) == 0


@st.composite
def discount_and_amounts(draw: st.DrawFn) -> tuple[int, list[int]]:
    amounts = draw(st.lists(st.integers(0, 10_000_000), min_size=1, max_size=12))
    discount = draw(st.integers(0, sum(amounts)))
    return discount, amounts


@given(discount_and_amounts())
def test_allocations_sum_to_the_discount_and_stay_within_each_line(
    case: tuple[int, list[int]],
) -> None:
    discount, amounts = case
    shares = allocate(discount, amounts)
    assert sum(shares) == discount
    total = sum(amounts)
    for share, amount in zip(shares, amounts, strict=True):
        assert 0 <= share <= amount
        if total:
            assert share >= discount * amount // total  # never below its proportional floor
    assert allocate(discount, amounts) == shares  # deterministic


@given(discount_and_amounts())
def test_only_the_largest_line_takes_a_remainder_when_it_has_room(
    case: tuple[int, list[int]],
) -> None:
    discount, amounts = case
    total = sum(amounts)
    if total == 0:
        return
    floors = [discount * amount // total for amount in amounts]
    largest = remainder_order(amounts)[0]
    if discount - sum(floors) <= amounts[largest] - floors[largest]:
        expected = list(floors)
        expected[largest] += discount - sum(floors)
        assert allocate(discount, amounts) == expected
