"""Warehouse choice: one warehouse by region priority, else the fewest (DESIGN §5)."""

from __future__ import annotations

from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.contracts.pricing import (
    DemandLine,
    WarehouseCandidate,
    WarehouseChoice,
    WarehouseChoiceRequest,
)
from models.domain.warehouse_choice import (
    EXHAUSTIVE_LIMIT,
    OutOfStockError,
    choose_warehouses,
)


def wh(warehouse_id: int, priority: int | None, **stock: int) -> WarehouseCandidate:
    """`stock` as sku_<id>=quantity."""
    sellable = {int(key.removeprefix("sku_")): qty for key, qty in stock.items()}
    return WarehouseCandidate(warehouse_id=warehouse_id, priority=priority, sellable=sellable)


def demand(*lines: tuple[int, int]) -> list[DemandLine]:
    return [
        DemandLine(line_no=no, sku_id=sku, quantity=qty)
        for no, (sku, qty) in enumerate(lines, start=1)
    ]


def choose(lines: list[DemandLine], *candidates: WarehouseCandidate) -> WarehouseChoice:
    return choose_warehouses(WarehouseChoiceRequest(lines=lines, candidates=list(candidates)))


def parts(choice: WarehouseChoice) -> list[tuple[int, int, int]]:
    return [(a.line_no, a.warehouse_id, a.quantity) for a in choice.assignments]


def test_one_warehouse_that_fills_everything_by_priority() -> None:
    lines = demand((1, 2), (2, 1))
    choice = choose(
        lines,
        wh(10, 1, sku_1=5),  # best priority but lacks SKU 2
        wh(20, 3, sku_1=2, sku_2=1),
        wh(30, 2, sku_1=9, sku_2=9),
    )
    assert choice.single_warehouse
    assert choice.warehouse_ids == [30]
    assert parts(choice) == [(1, 30, 2), (2, 30, 1)]


def test_priority_ties_by_warehouse_id_and_unranked_come_last() -> None:
    lines = demand((1, 1))
    assert choose(lines, wh(7, 1, sku_1=1), wh(3, 1, sku_1=1)).warehouse_ids == [3]
    assert choose(lines, wh(1, None, sku_1=1), wh(9, 50, sku_1=1)).warehouse_ids == [9]


def test_split_across_the_fewest_warehouses() -> None:
    # By priority alone, 1 → 2 → 3 would be needed; warehouses 2 and 4 together suffice.
    lines = demand((1, 4), (2, 4), (3, 4))
    choice = choose(
        lines,
        wh(1, 1, sku_1=4),
        wh(2, 2, sku_2=4, sku_3=1),
        wh(3, 3, sku_3=4),
        wh(4, 4, sku_1=4, sku_3=4),
    )
    assert not choice.single_warehouse
    assert choice.warehouse_ids == [2, 4]
    assert parts(choice) == [(1, 4, 4), (2, 2, 4), (3, 4, 4)]


def test_among_minimal_sets_the_best_ranked_wins() -> None:
    lines = demand((1, 1), (2, 1))
    choice = choose(
        lines, wh(5, 5, sku_1=1), wh(6, 6, sku_2=1), wh(2, 2, sku_1=1), wh(3, 3, sku_2=1)
    )
    assert choice.warehouse_ids == [2, 3]


def test_a_line_is_split_only_when_no_chosen_warehouse_holds_all_of_it() -> None:
    # Warehouse 1 is needed for SKU 2; SKU 1 (5) fits whole in warehouse 2, so it is not split.
    whole = choose(demand((1, 5), (2, 1)), wh(1, 1, sku_1=3, sku_2=1), wh(2, 2, sku_1=10))
    assert parts(whole) == [(1, 2, 5), (2, 1, 1)]
    # SKU 1 (10) fits nowhere whole: the warehouse with the most (2: 7) first, then 1 (3).
    split = choose(demand((1, 10)), wh(1, 1, sku_1=6), wh(2, 2, sku_1=7))
    assert split.warehouse_ids == [1, 2]
    assert parts(split) == [(1, 1, 3), (1, 2, 7)]


def test_lines_of_one_sku_fill_in_line_order() -> None:
    choice = choose(demand((1, 4), (2, 1), (1, 3)), wh(1, 1, sku_1=5, sku_2=1), wh(2, 2, sku_1=2))
    assert parts(choice) == [(1, 1, 4), (2, 1, 1), (3, 1, 1), (3, 2, 2)]


def test_out_of_stock_names_every_short_sku() -> None:
    with pytest.raises(OutOfStockError) as caught:
        choose(demand((3, 5), (1, 2), (2, 1)), wh(1, 1, sku_1=1, sku_3=2), wh(2, 2, sku_3=1))
    assert caught.value.sku_ids == [1, 2, 3]
    assert caught.value.shortages == {1: 1, 2: 1, 3: 2}
    with pytest.raises(OutOfStockError):
        choose(demand((1, 1)))


def test_a_warehouse_may_be_a_candidate_once() -> None:
    with pytest.raises(ValueError):
        choose(demand((1, 1)), wh(1, 1, sku_1=1), wh(1, 2, sku_1=1))


def test_greedy_fallback_with_many_warehouses() -> None:
    # 14 warehouses each hold one SKU (1..14), plus warehouse 99 holding SKUs 1..7.
    many = [wh(w, w, **{f"sku_{w}": 1}) for w in range(1, 15)]
    big = wh(99, 99, **{f"sku_{s}": 1 for s in range(1, 8)})
    assert len(many) + 1 > EXHAUSTIVE_LIMIT
    choice = choose(demand(*[(s, 1) for s in range(1, 15)]), *many, big)
    assert choice.warehouse_ids == [8, 9, 10, 11, 12, 13, 14, 99]
    single = choose(demand((1, 1)), *many, wh(0, 0, sku_1=1))
    assert single.warehouse_ids == [0]


# --- properties ----------------------------------------------------------------------------


@st.composite
def instances(draw: st.DrawFn) -> WarehouseChoiceRequest:
    skus = draw(st.integers(1, 4))
    lines = [
        DemandLine(line_no=no, sku_id=draw(st.integers(1, skus)), quantity=draw(st.integers(1, 6)))
        for no in range(1, draw(st.integers(1, 5)) + 1)
    ]
    candidates = [
        WarehouseCandidate(
            warehouse_id=w,
            priority=draw(st.none() | st.integers(1, 3)),
            sellable={s: draw(st.integers(0, 8)) for s in range(1, skus + 1)},
        )
        for w in range(1, draw(st.integers(0, 6)) + 1)
    ]
    return WarehouseChoiceRequest(lines=lines, candidates=candidates)


def totals(request: WarehouseChoiceRequest) -> dict[int, int]:
    result: dict[int, int] = {}
    for line in request.lines:
        result[line.sku_id] = result.get(line.sku_id, 0) + line.quantity
    return result


def fills(subset: tuple[WarehouseCandidate, ...], need: dict[int, int]) -> bool:
    return all(sum(w.sellable.get(s, 0) for w in subset) >= q for s, q in need.items())


@settings(max_examples=300)
@given(instances())
def test_choice_respects_stock_and_uses_the_fewest_warehouses(
    request: WarehouseChoiceRequest,
) -> None:
    need = totals(request)
    feasible = fills(tuple(request.candidates), need)
    if not feasible:
        with pytest.raises(OutOfStockError):
            choose_warehouses(request)
        return
    choice = choose_warehouses(request)
    taken: dict[tuple[int, int], int] = {}
    for a in choice.assignments:
        taken[(a.warehouse_id, a.sku_id)] = taken.get((a.warehouse_id, a.sku_id), 0) + a.quantity
    stock = {c.warehouse_id: c.sellable for c in request.candidates}
    for (warehouse_id, sku), quantity in taken.items():
        assert quantity <= stock[warehouse_id].get(sku, 0)
    for line in request.lines:
        assert sum(a.quantity for a in choice.assignments if a.line_no == line.line_no) == (
            line.quantity
        )
    assert set(choice.warehouse_ids) == {a.warehouse_id for a in choice.assignments}
    minimal = next(
        size
        for size in range(1, len(request.candidates) + 1)
        if any(fills(subset, need) for subset in combinations(request.candidates, size))
    )
    assert len(choice.warehouse_ids) == minimal
    if minimal == 1:
        fillers = [c for c in request.candidates if fills((c,), need)]
        best = min(fillers, key=lambda c: (c.priority is None, c.priority or 0, c.warehouse_id))
        assert choice.warehouse_ids == [best.warehouse_id]
    assert choose_warehouses(request) == choice
