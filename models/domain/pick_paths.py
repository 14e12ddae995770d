"""Pick paths (DESIGN §6.4, issue 4 item 3): the walking order of one pick task list.

Layout — a single-block warehouse; every length is an integer number of centimetres, the unit of
`Location.x_cm` / `y_cm`, and every result is an integer:

- parallel vertical aisles at x positions `aisle_xs` (strictly increasing), each running from the
  front cross-aisle (y = 0) to the back cross-aisle (y = `aisle_length`); aisle width is ignored;
- both cross-aisles span the whole block; the depot stands on the front cross-aisle at `depot_x`
  (between aisles, in front of one, or outside them);
- a pick is `PickPoint(aisle, y)` with 0 ≤ y ≤ aisle_length; `pick_point_at` derives it from a
  location's coordinates (nearest aisle by x, lower index on ties; y clamped to the aisle);
- the picker walks along aisles and cross-aisles only (never through racks): between (a, y) and
  (b, y') in different aisles the shortest walk is |x_a − x_b| + min(y + y', 2L − y − y'), in one
  aisle |y − y'|, from the depot |depot_x − x_a| + y (`walk_distance`).

Every route starts and ends at the depot. `Route.stops` are indices into the given pick list in
visiting order (picks at one point come consecutively); `Route.distance` is the length of the
walk the route describes:

- `s_shape_route` (traversal): every aisle holding a pick is walked end to end, alternating
  up and down, moving between them along the cross-aisles; when that makes an odd number of
  aisles, the last one is entered from the front, walked to its farthest pick and left by the
  front again (Roodbergen & de Koster's S-shape). It is evaluated sweeping left to right and right
  to left; the shorter wins (left to right on a tie).
- `largest_gap_route` (Hall 1993): the leftmost and the rightmost aisle with picks are walked end
  to end (up the leftmost, down the rightmost); every aisle between is served by a return trip
  from the back and one from the front that leave out its largest gap (between the front, its
  picks and the back). The front trips are made while walking the front cross-aisle: on the way
  out for aisles left of the depot, on the way home for the others. One aisle with picks: a
  return trip from the front to its farthest pick.
- `optimal_route` (Ratliff & Rosenthal 1983): dynamic programming over the aisles, left to right,
  on the degree/connectivity state of the partial tour at the aisle's front and back ends (zero,
  odd or even degree at each, one or two components: the seven classes of the paper, plus
  "tour already closed"). Each aisle takes one of the six vertical edge patterns (none, single
  or double traversal, return trips from the front or back, both leaving out the largest gap)
  and each cross-aisle stretch 0, 1 or 2 copies. The depot is a column of its own at `depot_x`
  with no vertical edges whose front node must be in the tour. The visiting order is read off an
  Euler circuit of the chosen edges.
- `best_route`: the shortest of the three; on a tie the simpler one (S-shape, largest gap,
  optimal — in that order).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Cm = Annotated[int, Field(ge=0)]
RouteName = Literal["s_shape", "largest_gap", "optimal"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class WarehouseLayout(_Frozen):
    aisle_xs: tuple[int, ...] = Field(min_length=1)
    aisle_length: Annotated[int, Field(gt=0)]
    depot_x: int

    @model_validator(mode="after")
    def _aisles_increase(self) -> WarehouseLayout:
        if any(right <= left for left, right in pairwise(self.aisle_xs)):
            raise ValueError("aisle x positions must be strictly increasing")
        return self


@dataclass(frozen=True, slots=True)
class PickPoint:
    """A plain dataclass: a wave makes thousands; routes refuse points off the layout."""

    aisle: int
    y: int


class Route(_Frozen):
    name: RouteName
    stops: tuple[int, ...]
    distance: Cm


def pick_point_at(layout: WarehouseLayout, x: int, y: int) -> PickPoint:
    """The pick point of a location at (x, y): its nearest aisle, y clamped into the aisle."""
    xs = layout.aisle_xs
    right = bisect_left(xs, x)  # the nearest aisle is this one or the one before it
    aisle = min(
        (i for i in (right - 1, right) if 0 <= i < len(xs)), key=lambda i: (abs(xs[i] - x), i)
    )
    return PickPoint(aisle=aisle, y=min(max(y, 0), layout.aisle_length))


def walk_distance(layout: WarehouseLayout, a: PickPoint | None, b: PickPoint | None) -> int:
    """Shortest walk between two picks; `None` is the depot."""
    if a is None:
        a, b = b, a
    if a is None:
        return 0
    xs = layout.aisle_xs
    if b is None:
        return abs(xs[a.aisle] - layout.depot_x) + a.y
    if a.aisle == b.aisle:
        return abs(a.y - b.y)
    around = min(a.y + b.y, 2 * layout.aisle_length - a.y - b.y)
    return abs(xs[a.aisle] - xs[b.aisle]) + around


def tour_length(layout: WarehouseLayout, picks: Sequence[PickPoint], stops: Sequence[int]) -> int:
    """Depot → the picks in `stops` order by shortest walks → depot."""
    points: list[PickPoint | None] = [None, *(picks[i] for i in stops), None]
    return sum(walk_distance(layout, a, b) for a, b in pairwise(points))


def _by_aisle(layout: WarehouseLayout, picks: Sequence[PickPoint]) -> dict[int, list[int]]:
    """Pick indices per aisle, each list ordered by (y, index); refuses points off the layout.
    The routes only read it: `best_route` works it out once for all three."""
    aisles: dict[int, list[int]] = {}
    count, length = len(layout.aisle_xs), layout.aisle_length
    for index, pick in enumerate(picks):
        if not (0 <= pick.aisle < count and 0 <= pick.y <= length):
            raise ValueError(f"pick {index} ({pick}) lies outside the layout")
        aisles.setdefault(pick.aisle, []).append(index)
    for indices in aisles.values():
        indices.sort(key=lambda i: picks[i].y)  # stable: indices were appended in order
    return dict(sorted(aisles.items()))


def _route(name: RouteName, stops: Sequence[int], distance: int) -> Route:
    """A route worked out here (indices of the picks, a length ≥ 0): not validated again."""
    return Route.model_construct(name=name, stops=tuple(stops), distance=distance)


# --- Heuristics --------------------------------------------------------------------------------


def _s_shape_sweep(
    layout: WarehouseLayout,
    picks: Sequence[PickPoint],
    aisles: dict[int, list[int]],
    order: list[int],
) -> Route:
    xs, length = layout.aisle_xs, layout.aisle_length
    first, last = xs[order[0]], xs[order[-1]]
    distance = abs(layout.depot_x - first) + abs(last - first) + abs(last - layout.depot_x)
    stops: list[int] = []
    for position, aisle in enumerate(order):
        indices = aisles[aisle]
        if position == len(order) - 1 and position % 2 == 0:  # odd count: in and out at the front
            distance += 2 * picks[indices[-1]].y
            stops += indices
        elif position % 2 == 0:  # up from the front
            distance += length
            stops += indices
        else:  # down from the back
            distance += length
            stops += reversed(indices)
    return _route("s_shape", stops, distance)


def s_shape_route(layout: WarehouseLayout, picks: Sequence[PickPoint]) -> Route:
    return _s_shape(layout, picks, _by_aisle(layout, picks))


def _s_shape(
    layout: WarehouseLayout, picks: Sequence[PickPoint], aisles: dict[int, list[int]]
) -> Route:
    if not aisles:
        return _route("s_shape", (), 0)
    order = list(aisles)
    sweeps = [_s_shape_sweep(layout, picks, aisles, o) for o in (order, order[::-1])]
    return min(sweeps, key=lambda route: route.distance)


def _split_at_largest_gap(
    picks: Sequence[PickPoint], indices: list[int], length: int
) -> tuple[list[int], list[int], int]:
    """(served from the front, served from the back, walk) for an aisle left out at its largest
    gap among front, picks and back; the walk is 2 × (length − gap)."""
    bounds = [0, *(picks[i].y for i in indices), length]
    gaps = [upper - lower for lower, upper in pairwise(bounds)]
    cut = max(range(len(gaps)), key=lambda k: (gaps[k], -k))
    return indices[:cut], indices[cut:], 2 * (length - gaps[cut])


def largest_gap_route(layout: WarehouseLayout, picks: Sequence[PickPoint]) -> Route:
    return _largest_gap(layout, picks, _by_aisle(layout, picks))


def _largest_gap(
    layout: WarehouseLayout, picks: Sequence[PickPoint], aisles: dict[int, list[int]]
) -> Route:
    if not aisles:
        return _route("largest_gap", (), 0)
    xs, length, depot = layout.aisle_xs, layout.aisle_length, layout.depot_x
    order = list(aisles)
    first, last = order[0], order[-1]
    if first == last:
        distance = 2 * abs(depot - xs[first]) + 2 * picks[aisles[first][-1]].y
        return _route("largest_gap", aisles[first], distance)
    distance = abs(depot - xs[first]) + (xs[last] - xs[first]) + abs(xs[last] - depot) + 2 * length
    outbound: list[int] = []  # front trips into aisles left of the depot, on the way out
    from_back: list[int] = []
    inbound: list[int] = []  # front trips into aisles right of it, on the way home
    for aisle in reversed(order[1:-1]):  # the front cross-aisle is walked right to left
        front_part, back_part, walk = _split_at_largest_gap(picks, aisles[aisle], length)
        distance += walk
        from_back[:0] = reversed(back_part)
        (outbound if xs[aisle] < depot else inbound).extend(front_part)
    stops = [*outbound, *aisles[first], *from_back, *reversed(aisles[last]), *inbound]
    return _route("largest_gap", stops, distance)


# --- Ratliff–Rosenthal ---------------------------------------------------------------------------

# Degree classes of a column's front/back node: 0 none, 1 odd, 2 even and positive.
# State: (front class, back class, front and back in one component, tour already closed).
_State = tuple[int, int, bool, bool]
_START: _State = (0, 0, False, False)
# The dynamic programme keys its tables on each state's number, cheaper to hash than a tuple.
_STATES: tuple[_State, ...] = tuple(
    (front, back, linked, closed)
    for front in range(3)
    for back in range(3)
    for linked in (False, True)
    for closed in (False, True)
)
_NUMBER = {state: number for number, state in enumerate(_STATES)}


@dataclass(frozen=True)
class _Column:
    x: int
    points: tuple[int, ...]  # distinct y values: 0, the picks strictly inside, length
    required_front: bool
    required_back: bool
    walkable: bool  # False for the depot's column: no aisle there


def _add(degree: int, copies: int) -> int:
    if copies == 0:
        return degree
    return 1 if (degree % 2 + copies) % 2 else 2


def _patterns(column: _Column) -> list[tuple[int, ...]]:
    """Copies of each segment between consecutive points for the six vertical patterns."""
    segments = len(column.points) - 1
    inner = segments - 1  # picks strictly inside the aisle
    none = (0,) * segments
    if not column.walkable:
        return [none]
    patterns = [(1,) * segments, (2,) * segments]
    if inner == 0:
        return [none, *patterns]
    patterns += [(2,) * inner + (0,), (0,) + (2,) * inner]
    if inner >= 2:
        lengths = [upper - lower for lower, upper in pairwise(column.points)]
        gap = max(range(1, inner), key=lambda k: (lengths[k], -k))
        patterns.append((2,) * gap + (0,) + (2,) * (segments - gap - 1))
    return patterns


def _cross(state: _State, cf: int, cb: int, column: _Column) -> _State | None:
    """Leave `column` with `cf`/`cb` copies of the cross-aisle stretches to the next column."""
    front, back, linked, closed = state
    if closed and (cf or cb):
        return None
    final_front, final_back = _add(front, cf), _add(back, cb)
    if 1 in (final_front, final_back):
        return None
    if (column.required_front and not final_front) or (column.required_back and not final_back):
        return None
    if linked:
        stranded = int(not cf and not cb)
    else:
        stranded = int(front > 0 and not cf) + int(back > 0 and not cb)
    if stranded:  # a component leaves the frontier: it must be the whole, finished tour
        return (0, 0, False, True) if stranded == 1 and not (cf or cb) else None
    return (_add(0, cf), _add(0, cb), linked and cf > 0 and cb > 0, closed)


def _columns(layout: WarehouseLayout, picks: Sequence[PickPoint]) -> tuple[list[_Column], int]:
    """The columns sorted by x (the depot's first on a tie) and the depot column's index."""
    length = layout.aisle_length
    keyed: list[tuple[int, int, _Column]] = [
        (layout.depot_x, 0, _Column(layout.depot_x, (0, length), True, False, False))
    ]
    in_aisle: dict[int, set[int]] = {}
    for pick in picks:
        in_aisle.setdefault(pick.aisle, set()).add(pick.y)
    for aisle, x in enumerate(layout.aisle_xs):
        ys = in_aisle.get(aisle, set())
        inner = sorted(y for y in ys if 0 < y < length)
        column = _Column(x, (0, *inner, length), 0 in ys, length in ys, True)
        keyed.append((x, 1, column))
    keyed.sort(key=lambda item: (item[0], item[1]))
    depot_index = next(i for i, item in enumerate(keyed) if not item[2].walkable)
    return [item[2] for item in keyed], depot_index


_Choice = tuple[int, tuple[int, ...]]  # previous state's number, the pattern or (cf, cb) taken


@cache
def _cross_moves(state: int, required_front: bool, required_back: bool) -> tuple[
    tuple[int, int, tuple[int, int]], ...
]:  # fmt: skip
    """Every (next state, copies walked, (cf, cb)) leaving a column from `state` (numbers):
    the same few states come back in every column of every route, so each is worked out once."""
    column = _Column(0, (), required_front, required_back, True)
    moves = []
    for cf in range(3):
        for cb in range(3):
            nxt = _cross(_STATES[state], cf, cb, column)
            if nxt is not None:
                moves.append((_NUMBER[nxt], cf + cb, (cf, cb)))
    return tuple(moves)


@cache
def _vertical_move(state: _State, first: int, last: int, through: bool, walked: bool) -> (
    _State | None
):  # fmt: skip
    """`_vertical` by what it looks at in a pattern: its end segments, all and any walked."""
    front, back, linked, closed = state
    if closed and walked:
        return None
    return (_add(front, first), _add(back, last), linked or through, closed)


@cache
def _vertical_moves(state: int, shapes: tuple[tuple[int, int, bool, bool], ...]) -> tuple[
    tuple[int, int], ...
]:  # fmt: skip
    """(pattern index, next state) of each pattern a column's `shapes` allow from `state`
    (numbers), in pattern order: a column's shapes are one of a few (empty, one pick inside,
    more)."""
    moves = []
    for k, shape in enumerate(shapes):
        moved = _vertical_move(_STATES[state], *shape)
        if moved is not None:
            moves.append((k, _NUMBER[moved]))
    return tuple(moves)


@lru_cache(maxsize=4096)
def _priced(points: tuple[int, ...], walkable: bool) -> tuple[
    tuple[tuple[int, ...], ...], tuple[int, ...], tuple[tuple[int, int, bool, bool], ...]
]:  # fmt: skip
    """The vertical patterns of a column, the length of each and what `_vertical_move` looks
    at in each. A column is only its points here: most of a trip's aisles are empty, all alike."""
    column = _Column(0, points, False, False, walkable)
    lengths = [b - a for a, b in pairwise(points)]
    patterns = tuple(_patterns(column))
    extras = tuple(sum(c * gap for c, gap in zip(pattern, lengths, strict=True))
                   for pattern in patterns)  # fmt: skip
    shapes = tuple((pattern[0], pattern[-1], all(pattern), any(pattern)) for pattern in patterns)
    return patterns, extras, shapes


def _solve(columns: list[_Column]) -> tuple[int, int, list[dict[int, _Choice]]]:
    """Optimal length, the final state and each step's choices (`_choices` reads them); states
    by number."""
    layer: dict[int, int] = {_NUMBER[_START]: 0}
    steps: list[dict[int, _Choice]] = []
    previous = columns[0]
    for index, column in enumerate(columns):
        if index:
            width = column.x - previous.x
            crossed: dict[int, int] = {}
            pointer: dict[int, _Choice] = {}
            front, back = previous.required_front, previous.required_back
            for state, cost in layer.items():
                for nxt, copies, taken in _cross_moves(state, front, back):
                    total = cost + copies * width
                    if total < crossed.get(nxt, total + 1):
                        crossed[nxt] = total
                        pointer[nxt] = (state, taken)
            steps.append(pointer)
            layer = crossed
        walked: dict[int, int] = {}
        pointer = {}
        patterns, extras, shapes = _priced(column.points, column.walkable)
        for state, cost in layer.items():
            for k, moved in _vertical_moves(state, shapes):
                total = cost + extras[k]
                if total < walked.get(moved, total + 1):
                    walked[moved] = total
                    pointer[moved] = (state, patterns[k])
        steps.append(pointer)
        layer = walked
        previous = column
    finals = [(cost, _STATES[n]) for n, cost in layer.items()
              if _cross(_STATES[n], 0, 0, columns[-1]) is not None]  # fmt: skip
    best, last = min(finals)  # the depot column is required, so a closed tour always exists
    return best, _NUMBER[last], steps


def _choices(
    state: int, steps: list[dict[int, _Choice]]
) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
    """Each column's vertical pattern and the (cf, cb) after each column, from the end back."""
    choices: list[tuple[int, ...]] = []
    for step in reversed(steps):
        state, choice = step[state]
        choices.append(choice)
    choices.reverse()
    return choices[0::2], choices[1::2]


_Node = tuple[int, int]  # (column index, point index)


def _euler_nodes(
    columns: list[_Column],
    patterns: list[tuple[int, ...]],
    crossings: list[tuple[int, ...]],
    start: _Node,
) -> list[_Node]:
    edges: list[tuple[_Node, _Node]] = []
    for c, pattern in enumerate(patterns):
        for p, copies in enumerate(pattern):
            edges += [((c, p), (c, p + 1))] * copies
    for c, (cf, cb) in enumerate(crossings):
        back, next_back = len(columns[c].points) - 1, len(columns[c + 1].points) - 1
        edges += [((c, 0), (c + 1, 0))] * cf + [((c, back), (c + 1, next_back))] * cb
    adjacency: dict[_Node, list[tuple[int, _Node]]] = {}
    for number, (u, v) in enumerate(edges):
        adjacency.setdefault(u, []).append((number, v))
        adjacency.setdefault(v, []).append((number, u))
    used = [False] * len(edges)
    stack, circuit = [start], []
    while stack:  # Hierholzer
        node = stack[-1]
        pending = adjacency.get(node, [])
        while pending and used[pending[-1][0]]:
            pending.pop()
        if pending:
            number, other = pending.pop()
            used[number] = True
            stack.append(other)
        else:
            circuit.append(stack.pop())
    return circuit[::-1]


def optimal_route(layout: WarehouseLayout, picks: Sequence[PickPoint]) -> Route:
    route = _optimal(layout, picks, _by_aisle(layout, picks))
    assert route is not None  # nothing to beat
    return route


def _optimal(
    layout: WarehouseLayout,
    picks: Sequence[PickPoint],
    aisles: dict[int, list[int]],
    beat: int | None = None,
) -> Route | None:
    """The optimal route; None if it is not shorter than `beat` (then its walking order, most
    of the work after its length, is not worked out)."""
    if not aisles:
        return _route("optimal", (), 0) if beat is None or beat > 0 else None
    columns, depot = _columns(layout, picks)
    distance, state, steps = _solve(columns)
    if beat is not None and distance >= beat:
        return None
    patterns, crossings = _choices(state, steps)
    at_node: dict[_Node, list[int]] = {}
    walkable = [c for c, column in enumerate(columns) if column.walkable]  # in aisle order
    column_of = dict(enumerate(walkable))
    for index, pick in enumerate(picks):
        c = column_of[pick.aisle]
        at_node.setdefault((c, columns[c].points.index(pick.y)), []).append(index)
    stops: list[int] = []
    for node in _euler_nodes(columns, patterns, crossings, (depot, 0)):
        stops += at_node.pop(node, [])
    return _route("optimal", stops, distance)


def best_route(layout: WarehouseLayout, picks: Sequence[PickPoint]) -> Route:
    """The shortest of S-shape, largest gap and optimal (the simpler one on a tie): the optimal
    route's walk is only worked out when it is shorter than both."""
    aisles = _by_aisle(layout, picks)
    heuristics = (_s_shape(layout, picks, aisles), _largest_gap(layout, picks, aisles))
    shorter = min(heuristics, key=lambda route: route.distance)
    optimal = _optimal(layout, picks, aisles, beat=shorter.distance)
    return shorter if optimal is None else optimal
