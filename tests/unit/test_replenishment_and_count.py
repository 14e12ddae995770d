"""Replenishment (智能采购) and stock count (盘点) rules of `models.domain.purchasing` (issue 5)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.domain.purchasing import CountEntry, count_differences, replenishment_quantity

# --- Replenishment (智能采购) ----------------------------------------------------------------


def draft(sellable: int, in_transit: int, point: int, level: int, unit: int, moq: int) -> int:
    return replenishment_quantity(
        sellable=sellable,
        in_transit=in_transit,
        reorder_point=point,
        reorder_level=level,
        purchase_unit=unit,
        moq=moq,
    )


@pytest.mark.parametrize(
    ("sellable", "in_transit", "point", "level", "unit", "moq", "expected"),
    [
        (10, 10, 20, 50, 1, 0, 0),  # position 20 = reorder point: nothing
        (25, 0, 20, 50, 1, 0, 0),
        (5, 3, 20, 50, 12, 0, 48),  # need 42 → 4 cases of 12
        (5, 3, 20, 50, 1, 0, 42),
        (15, 0, 20, 20, 1, 30, 30),  # need 5, MOQ 30
        (15, 0, 20, 20, 12, 30, 36),  # MOQ 30 rounded up to 3 cases
        (-4, 0, 0, 10, 5, 0, 15),  # negative sellable (safety hold above stock): need 14
        (0, 0, 1, 1, 6, 0, 6),
    ],
)
def test_replenishment_quantity(
    sellable: int, in_transit: int, point: int, level: int, unit: int, moq: int, expected: int
) -> None:
    assert draft(sellable, in_transit, point, level, unit, moq) == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 0, 10, 9, 1, 0), "reorder level 9 is below reorder point 10"),
        ((0, 0, 5, 10, 0, 0), "purchase unit"),
        ((0, 0, 5, 10, 1, -1), "MOQ"),
        ((0, -1, 5, 10, 1, 0), "in-transit"),
        ((0, 0, -1, 0, 1, 0), "reorder point"),
    ],
)
def test_replenishment_refuses_impossible_rules(
    args: tuple[int, int, int, int, int, int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        draft(*args)


@given(
    sellable=st.integers(-50, 500),
    in_transit=st.integers(0, 500),
    point=st.integers(0, 400),
    extra_level=st.integers(0, 400),
    unit=st.integers(1, 48),
    moq=st.integers(0, 300),
)
def test_replenishment_properties(
    sellable: int, in_transit: int, point: int, extra_level: int, unit: int, moq: int
) -> None:
    level = point + extra_level
    quantity = draft(sellable, in_transit, point, level, unit, moq)
    position = sellable + in_transit
    if position >= point:
        assert quantity == 0
        return
    assert quantity > 0
    assert quantity % unit == 0
    assert quantity >= moq
    assert position + quantity >= level
    # The smallest such quantity: one case less would miss the level or the MOQ.
    assert position + quantity - unit < level or quantity - unit < moq


# --- Stock count (盘点) ---------------------------------------------------------------------


def entry(location: int, sku: int, quantity: int, batch: str = "") -> CountEntry:
    return CountEntry(location_id=location, sku_id=sku, batch_no=batch, quantity=quantity)


def test_count_differences_surplus_deficit_and_omitted_equal_rows() -> None:
    book = [entry(1, 10, 5, "B1"), entry(1, 10, 3, "B2"), entry(2, 11, 7), entry(3, 12, 4)]
    counted = [
        entry(1, 10, 5, "B1"),  # equal: omitted
        entry(1, 10, 1, "B2"),
        entry(1, 10, 1, "B2"),  # two scans of one batch add up to 2: deficit 1
        entry(2, 11, 9),  # surplus 2
        entry(2, 13, 1),  # not in the book: surplus 1
    ]  # location 3 was counted empty: SKU 12 deficit 4
    differences = count_differences(book, counted)
    assert [
        (d.location_id, d.sku_id, d.batch_no, d.book, d.counted, d.difference, d.kind)
        for d in differences
    ] == [
        (1, 10, "B2", 3, 2, -1, "deficit"),
        (2, 11, "", 7, 9, 2, "surplus"),
        (2, 13, "", 0, 1, 1, "surplus"),
        (3, 12, "", 4, 0, -4, "deficit"),
    ]
    assert differences[0].model_dump()["kind"] == "deficit"


def test_count_refuses_a_book_row_twice() -> None:
    with pytest.raises(ValueError, match=r"\(1, 10, 'B1'\)"):
        count_differences([entry(1, 10, 5, "B1"), entry(1, 10, 2, "B1")], [])


count_entries = st.lists(
    st.builds(
        CountEntry,
        location_id=st.integers(1, 3),
        sku_id=st.integers(1, 3),
        batch_no=st.sampled_from(["", "B1"]),
        quantity=st.integers(0, 20),
    ),
    max_size=12,
)


@given(count_entries, count_entries)
def test_book_plus_differences_is_what_was_counted(
    book_rows: list[CountEntry], counted: list[CountEntry]
) -> None:
    book = {(e.location_id, e.sku_id, e.batch_no): e.quantity for e in book_rows}
    unique_book = [entry(loc, sku, qty, batch) for (loc, sku, batch), qty in book.items()]
    differences = count_differences(unique_book, counted)
    totals: dict[tuple[int, int, str], int] = {}
    for e in counted:
        key = (e.location_id, e.sku_id, e.batch_no)
        totals[key] = totals.get(key, 0) + e.quantity
    after = dict(book)
    for d in differences:
        assert d.difference != 0
        assert (d.kind == "surplus") == (d.difference > 0)
        key = (d.location_id, d.sku_id, d.batch_no)
        after[key] = after.get(key, 0) + d.difference
    keys = book.keys() | totals.keys()
    assert {k: after.get(k, 0) for k in keys} == {k: totals.get(k, 0) for k in keys}
    keys_out = [(d.location_id, d.sku_id, d.batch_no) for d in differences]
    assert keys_out == sorted(keys_out)
