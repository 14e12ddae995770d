"""Pick task lists of a wave (DESIGN §6.4, issue 4 items 3–4): which stops one picker walks in
one trip, and in which order.

- The warehouse's walking layout comes from its storage locations: one aisle per distinct x,
  aisles as long as the farthest location plus the same margin as in front of the nearest one,
  the depot at the pack station (else in front of the first aisle).
- The wave's stops are put in S-shape order first (a serpentine through the aisles), so that a
  trip covers a neighbourhood of the warehouse; that walk is cut into trips of at most
  `max_stops` stops and `max_units` units (a stop bigger than a trip on its own is a trip of its
  own); each trip is then routed again on its own and keeps the shortest of S-shape, largest
  gap and optimal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from models.domain.pick_paths import (
    PickPoint,
    RouteName,
    WarehouseLayout,
    best_route,
    pick_point_at,
    s_shape_route,
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Spot(_Frozen):
    """A location on the walking grid."""

    x_cm: int
    y_cm: int
    kind: str = "storage"


@dataclass(frozen=True, slots=True)
class Stop:
    """A plain dataclass: a wave has thousands (its allocations, valid in the database)."""

    key: int  # the caller's id of what is picked here (an allocation)
    x_cm: int
    y_cm: int
    quantity: int

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise ValueError("a stop picks at least one unit")


class TaskPlan(_Frozen):
    keys: tuple[int, ...]  # in walking order
    route: RouteName
    distance_cm: int
    units: int


def layout_of(spots: Sequence[Spot]) -> WarehouseLayout:
    storage = [s for s in spots if s.kind == "storage"]
    if not storage:
        raise ValueError("the warehouse has no storage locations")
    xs = tuple(sorted({s.x_cm for s in storage}))
    ys = [s.y_cm for s in storage]
    packs = sorted(s.x_cm for s in spots if s.kind == "pack")
    return WarehouseLayout(
        aisle_xs=xs,
        aisle_length=max(1, max(ys) + min(ys)),
        depot_x=packs[0] if packs else xs[0],
    )


def plan_tasks(
    layout: WarehouseLayout, stops: Sequence[Stop], *, max_stops: int, max_units: int
) -> list[TaskPlan]:
    if not stops:
        return []
    points = _points(layout, stops)  # once: the nearest aisle of each stop
    whole = s_shape_route(layout, points)
    trips: list[list[int]] = []
    current: list[int] = []
    units = 0
    for index in whole.stops:
        quantity = stops[index].quantity
        if current and (len(current) >= max_stops or units + quantity > max_units):
            trips.append(current)
            current, units = [], 0
        current.append(index)
        units += quantity
    trips.append(current)
    plans = []
    for trip in trips:
        route = best_route(layout, [points[i] for i in trip])
        plans.append(
            TaskPlan(
                keys=tuple(stops[trip[i]].key for i in route.stops),
                route=route.name,
                distance_cm=route.distance,
                units=sum(stops[i].quantity for i in trip),
            )
        )
    return plans


def _points(layout: WarehouseLayout, stops: Sequence[Stop]) -> list[PickPoint]:
    seen: dict[tuple[int, int], PickPoint] = {}  # a wave picks many lines at one location
    points = []
    for stop in stops:
        where = (stop.x_cm, stop.y_cm)
        point = seen.get(where)
        if point is None:
            point = seen[where] = pick_point_at(layout, stop.x_cm, stop.y_cm)
        points.append(point)
    return points
