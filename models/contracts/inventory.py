"""Stock movement types: the one list the ledger table, the API and activities share."""

from __future__ import annotations

from typing import Final, Literal, get_args

MovementType = Literal[
    "opening_balance",
    "purchase_in",
    "return_in",
    "transfer_in",
    "transfer_out",
    "count_surplus",
    "count_deficit",
    "adjustment_in",
    "adjustment_out",
    "sales_out",
    "purchase_return_out",
    "damage_out",
    "reservation",
    "release",
    "purchase_ordered",
    "purchase_arrived",
    "purchase_closed",
    "sample_in",
    "in_transit_add",
    "in_transit_release",
    "pick_short",
    "move_out",
    "move_in",
    # transfers between warehouses: in_transit at the destination while on the road
    "transfer_shipped",
    "transfer_arrived",
    "transfer_lost",
]
MOVEMENT_TYPES: Final[tuple[str, ...]] = get_args(MovementType)
