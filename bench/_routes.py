"""Route lengths over the pick tasks a bench planned: the total walk of S-shape, largest gap,
the shorter of the two, the route chosen and the optimal one, on the warehouse's layout."""

from __future__ import annotations

from sqlalchemy import select

from core.db import SessionFactory
from models.db import Location, PickStop, PickTask
from models.domain.pick_paths import (
    largest_gap_route,
    optimal_route,
    pick_point_at,
    s_shape_route,
)
from models.domain.pick_tasks import Spot, layout_of


async def route_lengths(sessions: SessionFactory, warehouse: int) -> dict[str, int]:
    async with sessions() as session:
        spots = (
            await session.execute(
                select(Location.x_cm, Location.y_cm, Location.kind).where(
                    Location.warehouse_id == warehouse
                )
            )
        ).all()
        stops = (
            await session.execute(
                select(PickStop.task_no, Location.x_cm, Location.y_cm)
                .join(Location, Location.id == PickStop.location_id)
                .join(PickTask, PickTask.task_no == PickStop.task_no)
                .where(PickTask.warehouse_id == warehouse)
                .order_by(PickStop.task_no, PickStop.stop_no)
            )
        ).all()
    layout = layout_of([Spot(x_cm=x, y_cm=y, kind=k) for x, y, k in spots])
    by_task: dict[str, list[tuple[int, int]]] = {}
    for task_no, x, y in stops:
        by_task.setdefault(task_no, []).append((x, y))
    totals = {"s_shape": 0, "largest_gap": 0, "shorter heuristic": 0, "chosen": 0, "optimal": 0}
    for where in by_task.values():
        points = [pick_point_at(layout, x, y) for x, y in where]
        lengths = {
            "s_shape": s_shape_route(layout, points).distance,
            "largest_gap": largest_gap_route(layout, points).distance,
            "optimal": optimal_route(layout, points).distance,
        }
        lengths["shorter heuristic"] = min(lengths["s_shape"], lengths["largest_gap"])
        lengths["chosen"] = min(lengths.values())
        for name, length in lengths.items():
            totals[name] += length
    return totals
