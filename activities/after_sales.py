"""Activities of after-sales (DESIGN §6.3): the projection of each step (services/after_sales.py)
and returned units back on hand (services/customer_returns.py). A retried step writes nothing
twice: rows are keyed, and a status only moves forward (status_seq)."""

from __future__ import annotations

from temporalio import activity

from activities.orders import business_error
from core.db import SessionFactory
from models.contracts.after_sale import AfterSaleStep, ReturnInbound
from services import after_sales, customer_returns


class AfterSaleActivities:
    def __init__(self, session_factory: SessionFactory) -> None:
        self._sessions = session_factory

    @activity.defn
    async def record_after_sale_step(self, step: AfterSaleStep) -> None:
        async with self._sessions() as session:
            await after_sales.record_step(session, step)
            await session.commit()

    @activity.defn
    async def receive_return(self, inbound: ReturnInbound) -> int:
        """Returned units back on hand (services.customer_returns.receive_return): sellable
        ones where they were picked from, damaged ones blocked in the damage location."""
        async with self._sessions() as session:
            try:
                units = await customer_returns.receive_return(session, inbound)
            except customer_returns.NoDamageLocation as exc:
                raise business_error("InvalidInputError", str(exc)) from exc
            await session.commit()
        return units
