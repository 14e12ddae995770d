"""Transfer activities (DESIGN §6.9): the projection and timeline, releasing the reservation at
the source, shipping (source on hand → destination in transit) and the receipt at the
destination, all through services.transfers and the stock ledger. Each is idempotent: a retry
finds its rows by their keys and changes nothing twice. Releasing to the floor and cancelling
picks are WaveActivities' (register_outbound, cancel_picks), as for any outbound."""

from __future__ import annotations

from temporalio import activity

from activities.orders import business_error
from core.db import SessionFactory
from models.contracts.transfers import (
    ShippedLine,
    TransferArrival,
    TransferRelease,
    TransferShipment,
    TransferStep,
)
from services import transfers
from services.stock_ledger import StockError


class TransferActivities:
    def __init__(self, session_factory: SessionFactory) -> None:
        self._sessions = session_factory

    @activity.defn
    async def record_transfer_step(self, step: TransferStep) -> None:
        async with self._sessions() as session:
            await transfers.record_step(session, step)
            await session.commit()

    @activity.defn
    async def release_transfer_stock(self, request: TransferRelease) -> int:
        async with self._sessions() as session:
            units = await transfers.release(session, request)
            await session.commit()
        return units

    @activity.defn
    async def ship_transfer(self, request: TransferShipment) -> list[ShippedLine]:
        async with self._sessions() as session:
            shipped = await transfers.ship(session, request)
            await session.commit()
        return shipped

    @activity.defn
    async def receive_transfer(self, arrival: TransferArrival) -> None:
        async with self._sessions() as session:
            try:
                await transfers.receive(session, arrival)
            except (StockError, transfers.InvalidTransfer) as exc:
                raise business_error("InvalidInputError", str(exc)) from exc
            await session.commit()
