"""Warehouse choice for an order (DESIGN §5): `choose_warehouses(request) -> WarehouseChoice`.

Warehouses are ranked for the destination by (priority, warehouse id); an unranked warehouse
(priority None) comes after every ranked one. Only warehouses holding some of the demanded SKUs
take part.

1. Every SKU's demand (Σ of its lines) must fit in the total sellable across the candidates,
   else `OutOfStockError` naming each short SKU and by how much. Nothing is chosen then.
2. One warehouse that can fill everything: the best-ranked such warehouse.
3. Otherwise the fewest warehouses that together can fill everything. With up to
   `EXHAUSTIVE_LIMIT` candidates every combination is tried, smallest size first, and among sets
   of the minimal size the first in rank order wins (lexicographically smallest ranks). With more,
   a greedy fallback: repeatedly add the warehouse that covers the most still-missing units (ties
   by rank) — not always minimal, but never infeasible.
4. Inside the chosen set each SKU ships from one warehouse when one can hold all of it (the
   best-ranked such); otherwise from the warehouses with the most of it first (ties by rank), so
   it is split across as few as possible. A SKU's lines are filled in line order from those parts;
   a line is split only where a part runs out.

Deterministic: the same request always gives the same choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

from models.contracts.pricing import (
    DemandLine,
    LineAssignment,
    WarehouseCandidate,
    WarehouseChoice,
    WarehouseChoiceRequest,
)

EXHAUSTIVE_LIMIT = 12

Demand = dict[int, int]


class OutOfStockError(Exception):
    """Some SKUs cannot be filled from all candidate warehouses together."""

    def __init__(self, shortages: dict[int, int]) -> None:
        self.shortages = dict(sorted(shortages.items()))
        self.sku_ids = list(self.shortages)
        super().__init__(f"out of stock: SKUs {self.sku_ids} short by {self.shortages}")


def rank_key(candidate: WarehouseCandidate) -> tuple[bool, int, int]:
    return (candidate.priority is None, candidate.priority or 0, candidate.warehouse_id)


def demand_of(lines: Sequence[DemandLine]) -> Demand:
    demand: Demand = {}
    for line in lines:
        demand[line.sku_id] = demand.get(line.sku_id, 0) + line.quantity
    return dict(sorted(demand.items()))


def can_fill(warehouses: Sequence[WarehouseCandidate], demand: Demand) -> bool:
    return all(sum(w.sellable.get(sku, 0) for w in warehouses) >= q for sku, q in demand.items())


def check_stock(candidates: Sequence[WarehouseCandidate], demand: Demand) -> None:
    shortages = {
        sku: quantity - available
        for sku, quantity in demand.items()
        if (available := sum(c.sellable.get(sku, 0) for c in candidates)) < quantity
    }
    if shortages:
        raise OutOfStockError(shortages)


def fewest_exhaustive(
    ranked: Sequence[WarehouseCandidate], demand: Demand
) -> list[WarehouseCandidate]:
    for size in range(1, len(ranked) + 1):
        for subset in combinations(ranked, size):
            if can_fill(subset, demand):
                return list(subset)
    return list(ranked)  # all holders together can fill: total stock was checked


def fewest_greedy(ranked: Sequence[WarehouseCandidate], demand: Demand) -> list[WarehouseCandidate]:
    missing = dict(demand)
    chosen: list[WarehouseCandidate] = []
    while any(missing.values()):
        taken = {w.warehouse_id for w in chosen}
        rest = [w for w in ranked if w.warehouse_id not in taken]
        best = max(rest, key=lambda w: (_covered(w, missing), -ranked.index(w)))
        chosen.append(best)
        missing = {sku: q - min(q, best.sellable.get(sku, 0)) for sku, q in missing.items()}
    return sorted(chosen, key=rank_key)


def _covered(warehouse: WarehouseCandidate, missing: Demand) -> int:
    return sum(min(q, warehouse.sellable.get(sku, 0)) for sku, q in missing.items())


def choose_set(ranked: Sequence[WarehouseCandidate], demand: Demand) -> list[WarehouseCandidate]:
    if len(ranked) <= EXHAUSTIVE_LIMIT:
        return fewest_exhaustive(ranked, demand)
    single = next((w for w in ranked if can_fill([w], demand)), None)
    return [single] if single is not None else fewest_greedy(ranked, demand)


def split_sku(
    chosen: Sequence[WarehouseCandidate], sku: int, quantity: int
) -> list[tuple[int, int]]:
    """(warehouse id, quantity) parts shipping `quantity` of `sku` from the chosen set."""
    whole = next((w for w in chosen if w.sellable.get(sku, 0) >= quantity), None)
    if whole is not None:
        return [(whole.warehouse_id, quantity)]
    parts = []
    by_stock = sorted(chosen, key=lambda w: (-w.sellable.get(sku, 0), rank_key(w)))
    for warehouse in by_stock:
        take = min(quantity, warehouse.sellable.get(sku, 0))
        if take > 0:
            parts.append((warehouse.warehouse_id, take))
            quantity -= take
    return parts


def assign_lines(lines: Sequence[DemandLine], parts: list[tuple[int, int]]) -> list[LineAssignment]:
    """Fill the lines of one SKU, in line order, from its warehouse parts."""
    remaining = list(parts)
    result = []
    for line in sorted(lines, key=lambda ln: ln.line_no):
        need = line.quantity
        while need:
            warehouse_id, available = remaining[0]
            take = min(need, available)
            result.append(
                LineAssignment(
                    line_no=line.line_no,
                    sku_id=line.sku_id,
                    warehouse_id=warehouse_id,
                    quantity=take,
                )
            )
            need -= take
            remaining[0] = (warehouse_id, available - take)
            if remaining[0][1] == 0:
                remaining.pop(0)
    return result


def choose_warehouses(request: WarehouseChoiceRequest) -> WarehouseChoice:
    ids = [c.warehouse_id for c in request.candidates]
    if len(set(ids)) != len(ids):
        raise ValueError("each warehouse may be a candidate once")
    demand = demand_of(request.lines)
    check_stock(request.candidates, demand)
    holders = [c for c in request.candidates if any(c.sellable.get(sku, 0) for sku in demand)]
    chosen = choose_set(sorted(holders, key=rank_key), demand)
    assignments: list[LineAssignment] = []
    for sku, quantity in demand.items():
        sku_lines = [line for line in request.lines if line.sku_id == sku]
        assignments += assign_lines(sku_lines, split_sku(chosen, sku, quantity))
    order = {w.warehouse_id: index for index, w in enumerate(chosen)}
    assignments.sort(key=lambda a: (a.line_no, order[a.warehouse_id]))
    used = [
        w.warehouse_id for w in chosen if any(a.warehouse_id == w.warehouse_id for a in assignments)
    ]
    return WarehouseChoice(
        warehouse_ids=used, assignments=assignments, single_warehouse=len(used) == 1
    )
