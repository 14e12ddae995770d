"""Location allocation (FEFO/FIFO) and the cutting of a wave's stops into routed pick tasks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.domain.allocation import (
    Allocator,
    BatchStock,
    allocate,
    allocate_in_order,
    batch_order,
    in_pick_order,
)
from models.domain.pick_paths import best_route, pick_point_at, tour_length
from models.domain.pick_tasks import Spot, Stop, layout_of, plan_tasks

TODAY = date(2026, 11, 22)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def batch(
    id: int,
    quantity: int = 10,
    *,
    reserved: int = 0,
    expiry: date | None = None,
    made: date | None = None,
    received: int = 0,
    disabled: bool = False,
) -> BatchStock:
    return BatchStock(
        id=id,
        location_id=100 + id,
        batch_no=f"B{id}",
        quantity=quantity,
        reserved=reserved,
        production_date=made,
        expiry_date=expiry,
        received_at=T0 + timedelta(days=received),
        disabled=disabled,
    )


def taken(quantity: int, batches: list[BatchStock]) -> list[tuple[int, int]]:
    allocation = allocate(quantity, batches, TODAY)
    return [(t.batch.id, t.quantity) for t in allocation.takes]


def test_the_earliest_expiry_goes_first_and_spills_over_in_order() -> None:
    later = batch(1, 5, expiry=TODAY + timedelta(days=30))
    sooner = batch(2, 4, expiry=TODAY + timedelta(days=3))
    assert taken(6, [later, sooner]) == [(2, 4), (1, 2)]


def test_an_expired_batch_is_never_picked_but_one_expiring_today_is() -> None:
    expired = batch(1, 50, expiry=TODAY - timedelta(days=1))
    today = batch(2, 3, expiry=TODAY)
    later = batch(3, 50, expiry=TODAY + timedelta(days=60))
    assert taken(5, [expired, today, later]) == [(2, 3), (3, 2)]
    alone = allocate(5, [expired], TODAY)
    assert (alone.takes, alone.short) == ((), 5)


def test_a_batch_without_expiry_goes_after_every_dated_one() -> None:
    undated = batch(1, 10, made=date(2020, 1, 1))  # oldest production, but no expiry
    dated = batch(2, 2, expiry=TODAY + timedelta(days=900))
    assert taken(3, [undated, dated]) == [(2, 2), (1, 1)]


def test_equal_expiry_breaks_ties_by_production_then_receipt_then_id() -> None:
    expiry = TODAY + timedelta(days=10)
    newer = batch(1, 1, expiry=expiry, made=date(2026, 6, 2))
    older = batch(2, 1, expiry=expiry, made=date(2026, 6, 1))
    unknown_made = batch(3, 1, expiry=expiry)
    late_receipt = batch(4, 1, expiry=expiry, made=date(2026, 6, 1), received=5)
    same_as_older = batch(5, 1, expiry=expiry, made=date(2026, 6, 1))
    order = [
        b.id
        for b in sorted([newer, older, unknown_made, late_receipt, same_as_older], key=batch_order)
    ]
    assert order == [2, 5, 4, 1, 3]
    assert taken(5, [unknown_made, late_receipt, newer, same_as_older, older]) == [
        (2, 1), (5, 1), (4, 1), (1, 1), (3, 1)
    ]  # fmt: skip


def test_fifo_by_production_then_receipt_when_nothing_expires() -> None:
    a = batch(1, 2, made=date(2026, 3, 1), received=9)
    b = batch(2, 2, made=date(2026, 2, 1), received=1)
    c = batch(3, 2, received=0)  # no production date: after the dated ones
    d = batch(4, 2, made=date(2026, 2, 1), received=0)
    assert taken(7, [a, b, c, d]) == [(4, 2), (2, 2), (1, 2), (3, 1)]


def test_disabled_and_fully_reserved_batches_are_skipped_and_short_is_what_is_left() -> None:
    blocked = batch(1, 10, disabled=True, expiry=TODAY)
    promised = batch(2, 10, reserved=10, expiry=TODAY)
    partly = batch(3, 10, reserved=7, expiry=TODAY + timedelta(days=1))
    allocation = allocate(8, [blocked, promised, partly], TODAY)
    assert [(t.batch.id, t.quantity) for t in allocation.takes] == [(3, 3)]
    assert allocation.short == 5
    with pytest.raises(ValueError, match="positive"):
        allocate(0, [partly], TODAY)


@given(
    st.lists(
        st.tuples(
            st.integers(0, 20),
            st.integers(0, 20),
            st.one_of(st.none(), st.integers(-5, 30)),
            st.booleans(),
        ),
        max_size=8,
    ),
    st.integers(1, 80),
)
def test_allocation_never_over_takes_and_is_short_only_of_what_no_batch_could_give(
    raw: list[tuple[int, int, int | None, bool]], quantity: int
) -> None:
    batches = [
        batch(
            i,
            q,
            reserved=min(r, q),
            expiry=None if e is None else TODAY + timedelta(days=e),
            disabled=d,
        )
        for i, (q, r, e, d) in enumerate(raw)
    ]
    allocation = allocate(quantity, batches, TODAY)
    by_id = {b.id: b for b in batches}
    assert all(0 < t.quantity <= by_id[t.batch.id].free for t in allocation.takes)
    assert all(not t.batch.disabled for t in allocation.takes)
    assert all(
        t.batch.expiry_date is None or t.batch.expiry_date >= TODAY for t in allocation.takes
    )
    pickable = sum(
        b.free
        for b in batches
        if not b.disabled and (b.expiry_date is None or b.expiry_date >= TODAY)
    )
    assert sum(t.quantity for t in allocation.takes) == min(quantity, pickable)
    assert allocation.short == quantity - min(quantity, pickable)
    keys = [batch_order(t.batch) for t in allocation.takes]
    assert keys == sorted(keys)


# --- pick tasks -------------------------------------------------------------------------------

SPOTS = [Spot(x_cm=x, y_cm=y) for x in (300, 600, 900) for y in (300, 420, 540, 660)] + [
    Spot(x_cm=600, y_cm=0, kind="pack"),
    Spot(x_cm=900, y_cm=0, kind="put_wall"),
]


def test_the_layout_comes_from_the_storage_locations_and_the_pack_station() -> None:
    layout = layout_of(SPOTS)
    assert layout.aisle_xs == (300, 600, 900)
    assert layout.aisle_length == 660 + 300  # the farthest bay plus the front margin
    assert layout.depot_x == 600
    with pytest.raises(ValueError, match="storage"):
        layout_of([Spot(x_cm=0, y_cm=0, kind="pack")])


@given(
    st.lists(st.tuples(st.integers(1, 3), st.integers(0, 12), st.integers(0, 4)), max_size=8),
    st.lists(st.tuples(st.integers(1, 4), st.integers(1, 9)), max_size=30),
)
def test_a_run_of_lines_takes_what_allocating_each_in_turn_takes(
    stock: list[tuple[int, int, int]], lines: list[tuple[int, int]]
) -> None:
    """Allocator (a wave build's lines one after another) against allocate_in_order with the
    run's units taken so far: the same takes, the same shorts, the same units per batch."""
    by_sku: dict[int, list[BatchStock]] = {}
    for n, (sku, quantity, reserved) in enumerate(stock):
        held = min(reserved, quantity)
        by_sku.setdefault(sku, []).append(batch(n, quantity, reserved=held, received=n % 3))
    ordered = {sku: in_pick_order(held, TODAY) for sku, held in by_sku.items()}
    allocator = Allocator(ordered)
    so_far: dict[int, int] = {}
    for sku, quantity in lines:
        expected = allocate_in_order(quantity, ordered.get(sku, []), so_far)
        takes, short = allocator.take(sku, quantity)
        assert [(b.id, q) for b, q in takes] == [(t.batch.id, t.quantity) for t in expected.takes]
        assert short == expected.short
        for t in expected.takes:
            so_far[t.batch.id] = so_far.get(t.batch.id, 0) + t.quantity
    assert allocator.taken == so_far


def test_trips_respect_the_caps_cover_every_stop_once_and_are_each_routed_shortest() -> None:
    layout = layout_of(SPOTS)
    stops = [
        Stop(
            key=k, x_cm=(300, 600, 900)[k % 3], y_cm=(300, 420, 540, 660)[k % 4], quantity=1 + k % 3
        )
        for k in range(17)
    ]
    plans = plan_tasks(layout, stops, max_stops=5, max_units=8)
    keys = [k for plan in plans for k in plan.keys]
    assert sorted(keys) == list(range(17))
    by_key = {s.key: s for s in stops}
    for plan in plans:
        assert len(plan.keys) <= 5
        assert plan.units == sum(by_key[k].quantity for k in plan.keys) <= 8
        points = [pick_point_at(layout, by_key[k].x_cm, by_key[k].y_cm) for k in plan.keys]
        # The stops are listed in walking order; walking them costs no more than the best route.
        assert tour_length(layout, points, range(len(points))) <= plan.distance_cm
        assert plan.distance_cm == best_route(layout, points).distance


def test_a_stop_larger_than_a_trip_is_a_trip_of_its_own() -> None:
    layout = layout_of(SPOTS)
    big = Stop(key=1, x_cm=300, y_cm=300, quantity=50)
    small = Stop(key=2, x_cm=300, y_cm=420, quantity=1)
    plans = plan_tasks(layout, [small, big], max_stops=20, max_units=10)
    assert sorted(p.keys for p in plans) == [(1,), (2,)]
    assert plan_tasks(layout, [], max_stops=5, max_units=5) == []
