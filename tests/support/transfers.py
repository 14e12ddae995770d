"""Transfers between warehouses over HTTP as staff and devices do it, and the figures a
transfer must keep: each unit on the books exactly once (on hand at one warehouse or in transit
at the destination), both ledgers equal to the figures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select

from models.db import Stock, StockMovement
from tests.support.invariants import assert_stock_invariants
from tests.support.order_api import staff
from tests.support.orders import eventually
from tests.support.picking import pick_everything, plan_now
from tests.support.stack import Stack

Json = dict[str, Any]


@dataclass(frozen=True)
class Books:
    """One SKU's figures at the two warehouses of a transfer."""

    source: tuple[int, int, int]  # on_hand, reserved, in_transit
    destination: tuple[int, int, int]

    @property
    def units(self) -> int:
        """Σ on_hand + in_transit over both warehouses: the units that exist."""
        return sum(self.source[::2]) + sum(self.destination[::2])


async def books(stack: Stack, sku_id: int, source: int, destination: int) -> Books:
    """The figures, after checking them against the ledger (DESIGN §5's invariants)."""
    async with stack.sessions() as session:
        await assert_stock_invariants(session)
        rows = {
            row.warehouse_id: (row.on_hand, row.reserved, row.in_transit)
            for row in await session.scalars(select(Stock).where(Stock.sku_id == sku_id))
        }
    return Books(rows.get(source, (0, 0, 0)), rows.get(destination, (0, 0, 0)))


async def movements(stack: Stack, transfer_no: str) -> dict[str, int]:
    """Σ of each movement type's deltas booked for the transfer (its reservation included)."""
    async with stack.sessions() as session:
        rows = await session.execute(
            select(
                StockMovement.movement_type,
                func.sum(
                    StockMovement.on_hand_delta
                    + StockMovement.reserved_delta
                    + StockMovement.in_transit_delta
                ),
            )
            .where(StockMovement.ref_no == transfer_no)
            .group_by(StockMovement.movement_type)
        )
        return {kind: int(total) for kind, total in rows}


async def request_transfer(
    api: httpx.AsyncClient, source: int, destination: int, lines: list[tuple[int, int]],
    headers: dict[str, str], **extra: Any,
) -> httpx.Response:  # fmt: skip
    body = {
        "from_warehouse_id": source,
        "to_warehouse_id": destination,
        "lines": [{"sku_id": sku, "quantity": q} for sku, q in lines],
        **extra,
    }
    return await api.post("/v1/transfers", json=body, headers=headers)


async def wait_transfer(api: httpx.AsyncClient, number: str, status: str) -> Json:
    ops = await staff(api, "ops")

    async def reached() -> Json | None:
        shown: Json = (await api.get(f"/v1/transfers/{number}", headers=ops)).json()
        return shown if shown["status"] == status else None

    found: Json = await eventually(reached, f"transfer {number} {status}")
    return found


async def pick_transfer(api: httpx.AsyncClient, device: dict[str, str], source: int,
                        number: str) -> Json:  # fmt: skip
    """Plan the source's waves now and pick everything there: the transfer is picked."""
    await plan_now(api, source)
    finished = await pick_everything(api, device)
    assert finished, "nothing to pick for the transfer"
    # its units go to the transfer staging area, not the pack station
    assert {task["next"]["action"] for task in finished} == {"transfer"}
    return await wait_transfer(api, number, "picked")
