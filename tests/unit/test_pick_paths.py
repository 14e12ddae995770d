"""Pick paths of `models.domain.pick_paths` (DESIGN §6.4, issue 4 item 3).

Hand-computed distances use the layout `GRID`: aisles at x = 0, 300, 600, 900 cm, 1,000 cm long,
depot on the front cross-aisle at x = 0. Each case spells out the walk leg by leg.

The brute-force optimum below is independent of the module: it builds the aisle graph explicitly
(front and back cross-aisles as chains of nodes sorted by x, each aisle as a chain from its front
node through its picks to its back node, the depot as a node on the front chain), runs
Floyd–Warshall, and tries every visiting order of the distinct pick points.
"""

from __future__ import annotations

from itertools import pairwise, permutations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from models.domain.pick_paths import (
    PickPoint,
    Route,
    WarehouseLayout,
    best_route,
    largest_gap_route,
    optimal_route,
    pick_point_at,
    s_shape_route,
    tour_length,
    walk_distance,
)

GRID = WarehouseLayout(aisle_xs=(0, 300, 600, 900), aisle_length=1000, depot_x=0)
ROUTES = (s_shape_route, largest_gap_route, optimal_route, best_route)


def pick(aisle: int, y: int) -> PickPoint:
    return PickPoint(aisle=aisle, y=y)


# --- Brute force on an explicit graph ----------------------------------------------------------

Node = tuple[str, int, int]  # ("aisle", aisle, y) or ("depot", 0, 0)


def brute_force_optimum(layout: WarehouseLayout, picks: list[PickPoint]) -> int:
    length = layout.aisle_length
    depot: Node = ("depot", 0, 0)
    edges: list[tuple[Node, Node, int]] = []
    for aisle in range(len(layout.aisle_xs)):
        ys = sorted({0, length, *(p.y for p in picks if p.aisle == aisle)})
        edges += [(("aisle", aisle, a), ("aisle", aisle, b), b - a) for a, b in pairwise(ys)]
    front = sorted(
        [(x, ("aisle", aisle, 0)) for aisle, x in enumerate(layout.aisle_xs)]
        + [(layout.depot_x, depot)]
    )
    back = [(x, ("aisle", aisle, length)) for aisle, x in enumerate(layout.aisle_xs)]
    for chain in (front, back):
        edges += [(u, v, xv - xu) for (xu, u), (xv, v) in pairwise(chain)]
    nodes = sorted({n for u, v, _ in edges for n in (u, v)})
    far = 10**12
    dist = {(u, v): 0 if u == v else far for u in nodes for v in nodes}
    for u, v, w in edges:
        dist[u, v] = dist[v, u] = min(dist[u, v], w)
    for k in nodes:
        for i in nodes:
            for j in nodes:
                dist[i, j] = min(dist[i, j], dist[i, k] + dist[k, j])
    targets = sorted({("aisle", p.aisle, p.y) for p in picks})
    return min(
        sum(dist[a, b] for a, b in pairwise([depot, *order, depot]))
        for order in permutations(targets)
    )


# --- Hand-computed cases -----------------------------------------------------------------------


def test_two_aisles_with_an_empty_one_between() -> None:
    picks = [pick(0, 200), pick(2, 700)]
    # S-shape: up aisle 0 (1000) → back 0→600 (600) → down aisle 2 (1000) → front 600→0 (600).
    assert s_shape_route(GRID, picks) == Route(name="s_shape", stops=(0, 1), distance=3200)
    # Largest gap, same walk: outer aisles walked whole, nothing between.
    assert largest_gap_route(GRID, picks).distance == 3200
    # Optimal: aisle 0 to 200 and back (400), front 0→600 (600), aisle 2 to 700 and back
    # (1400), front 600→0 (600) = 3000.
    assert optimal_route(GRID, picks) == Route(name="optimal", stops=(1, 0), distance=3000)
    assert best_route(GRID, picks).name == "optimal"
    assert brute_force_optimum(GRID, picks) == 3000


def test_odd_number_of_aisles_and_the_largest_gap() -> None:
    picks = [pick(1, 400), pick(2, 300), pick(3, 600)]
    # S-shape left to right: front 0→300 (300), up 1 (1000), back →600 (300), down 2 (1000),
    # front →900 (300), aisle 3 to 600 and back (1200), front 900→0 (900) = 5000.
    # Right to left: front 0→900 (900), up 3 (1000), back →600 (300), down 2 (1000), front →300
    # (300), aisle 1 to 400 and back (800), front 300→0 (300) = 4600: that sweep wins.
    assert s_shape_route(GRID, picks) == Route(name="s_shape", stops=(2, 1, 0), distance=4600)
    # Largest gap: front 0→300 (300), up 1 (1000), back 300→900 (600), down 3 (1000), front
    # 900→0 (900); aisle 2's largest gap is 300→1000, so it is served from the front: 2×300.
    # Total 4400 — also the optimum (brute force).
    assert largest_gap_route(GRID, picks) == Route(
        name="largest_gap", stops=(0, 2, 1), distance=4400
    )
    assert optimal_route(GRID, picks).distance == 4400
    assert brute_force_optimum(GRID, picks) == 4400
    assert best_route(GRID, picks) == largest_gap_route(GRID, picks)  # tie: the simpler one


def test_largest_gap_serves_a_middle_aisle_from_both_ends() -> None:
    picks = [pick(0, 500), pick(1, 100), pick(1, 900), pick(2, 500)]
    # Aisle 1: gaps 0→100, 100→900, 900→1000; the largest (800) is left out: 2×100 from the
    # front and 2×100 from the back. Outer walk: front 0→0 (0), up 0 (1000), back 0→600 (600),
    # down 2 (1000), front 600→0 (600) = 3200, plus 400 = 3600.
    route = largest_gap_route(GRID, picks)
    assert route == Route(name="largest_gap", stops=(0, 2, 3, 1), distance=3600)
    # S-shape: three aisles walked 0→2: up 0, down 1, aisle 2 in and out from the front
    # (1000 + 1000 + 2×500, cross 600 + 600) = 4200; the right-to-left sweep is also 4200.
    assert s_shape_route(GRID, picks).distance == 4200
    assert optimal_route(GRID, picks).distance == brute_force_optimum(GRID, picks) == 3600


def test_largest_gap_front_trips_left_of_the_depot_come_on_the_way_out() -> None:
    layout = WarehouseLayout(aisle_xs=GRID.aisle_xs, aisle_length=1000, depot_x=900)
    picks = [pick(0, 500), pick(1, 100), pick(3, 500)]
    # Front 900→300, into aisle 1 to 100 and back (600 + 200), front 300→0 (300), up aisle 0
    # (1000), back 0→900 (900), down aisle 3 to the depot (1000) = 4000.
    assert largest_gap_route(layout, picks) == Route(
        name="largest_gap", stops=(1, 0, 2), distance=4000
    )
    assert tour_length(layout, picks, (1, 0, 2)) == 4000


def test_depot_between_aisles_and_a_single_aisle() -> None:
    layout = WarehouseLayout(aisle_xs=(0, 300, 600), aisle_length=800, depot_x=450)
    picks = [pick(2, 250), pick(2, 100)]
    # One aisle: front 450→600 (150), to 250 and back (500), front 600→450 (150) = 800.
    for route in ROUTES:
        assert route(layout, picks).distance == 800
        assert route(layout, picks).stops == (1, 0)


def test_picks_at_the_aisle_ends_and_at_the_depot() -> None:
    picks = [pick(0, 0), pick(3, 1000), pick(0, 0)]
    # Picks 0 and 2 stand at the depot. Aisle 3's back end: front 0→900 (900), up aisle 3 (1000)
    # and back the same way = 3800; through the back instead (up aisle 0, back 0→900, down aisle
    # 3, front 900→0) is the same 1000 + 900 + 1000 + 900, which is the S-shape and largest-gap
    # walk over aisles 0 and 3.
    for route in ROUTES:
        result = route(GRID, picks)
        assert result.distance == 3800
        assert sorted(result.stops) == [0, 1, 2]
    assert brute_force_optimum(GRID, picks) == 3800


def test_no_picks_is_an_empty_walk() -> None:
    for route in ROUTES:
        assert route(GRID, []).distance == 0
        assert route(GRID, []).stops == ()


def test_walk_distance_never_cuts_through_racks() -> None:
    # Aisle 0 y=900 to aisle 1 y=800: via the back (100 + 300 + 200) not the front (1700 + 300).
    assert walk_distance(GRID, pick(0, 900), pick(1, 800)) == 600
    assert walk_distance(GRID, pick(0, 100), pick(1, 200)) == 600
    assert walk_distance(GRID, pick(2, 100), pick(2, 700)) == 600
    assert walk_distance(GRID, None, pick(2, 700)) == 1300
    assert tour_length(GRID, [pick(1, 100)], [0]) == 800


def test_pick_point_at_maps_coordinates_to_the_nearest_aisle() -> None:
    assert pick_point_at(GRID, 420, 350) == pick(1, 350)
    assert pick_point_at(GRID, 450, 350) == pick(1, 350)  # halfway: the lower aisle
    assert pick_point_at(GRID, 1500, 1200) == pick(3, 1000)  # clamped into the aisle
    assert pick_point_at(GRID, -50, -5) == pick(0, 0)


def test_layouts_and_picks_off_the_layout_are_refused() -> None:
    with pytest.raises(ValidationError, match="strictly increasing"):
        WarehouseLayout(aisle_xs=(0, 300, 300), aisle_length=1000, depot_x=0)
    with pytest.raises(ValidationError):
        WarehouseLayout(aisle_xs=(0,), aisle_length=0, depot_x=0)
    for route in ROUTES:
        with pytest.raises(ValueError, match="outside the layout"):
            route(GRID, [pick(4, 10)])
        with pytest.raises(ValueError, match="outside the layout"):
            route(GRID, [pick(1, 1001)])


# --- Properties ----------------------------------------------------------------------------------


@st.composite
def instances(draw: st.DrawFn, max_picks: int = 6) -> tuple[WarehouseLayout, list[PickPoint]]:
    gaps = draw(st.lists(st.integers(1, 500), min_size=0, max_size=5))
    start = draw(st.integers(-300, 300))
    xs = [start]
    for gap in gaps:
        xs.append(xs[-1] + gap)
    length = draw(st.integers(1, 1200))
    depot_x = draw(st.integers(xs[0] - 300, xs[-1] + 300))
    layout = WarehouseLayout(aisle_xs=tuple(xs), aisle_length=length, depot_x=depot_x)
    points = st.builds(
        PickPoint,
        aisle=st.integers(0, len(xs) - 1),
        y=st.one_of(st.integers(0, length), st.sampled_from([0, length])),
    )
    return layout, draw(st.lists(points, min_size=0, max_size=max_picks))


@settings(max_examples=150, deadline=None)
@given(instances())
def test_every_route_visits_every_pick_once_and_walks_what_it_says(
    instance: tuple[WarehouseLayout, list[PickPoint]],
) -> None:
    layout, picks = instance
    for route in ROUTES:
        result = route(layout, picks)
        assert sorted(result.stops) == list(range(len(picks)))
        # The stops in order, each reached by a shortest walk, are never longer than the route.
        assert tour_length(layout, picks, result.stops) <= result.distance


@settings(max_examples=150, deadline=None)
@given(instances())
def test_optimal_equals_brute_force_and_nothing_beats_it(
    instance: tuple[WarehouseLayout, list[PickPoint]],
) -> None:
    layout, picks = instance
    optimum = brute_force_optimum(layout, picks) if picks else 0
    assert optimal_route(layout, picks).distance == optimum
    # The optimal visiting order, walked by shortest paths, is itself optimal.
    assert tour_length(layout, picks, optimal_route(layout, picks).stops) == optimum
    for route in (s_shape_route, largest_gap_route, best_route):
        assert route(layout, picks).distance >= optimum


@settings(max_examples=200, deadline=None)
@given(instances(max_picks=12))
def test_the_chosen_route_is_never_longer_than_either_heuristic(
    instance: tuple[WarehouseLayout, list[PickPoint]],
) -> None:
    layout, picks = instance
    chosen = best_route(layout, picks)
    assert chosen.distance <= s_shape_route(layout, picks).distance
    assert chosen.distance <= largest_gap_route(layout, picks).distance
    assert chosen.distance == optimal_route(layout, picks).distance
    assert chosen in {s_shape_route(layout, picks), largest_gap_route(layout, picks)} | {
        optimal_route(layout, picks)
    }
