"""Flash sale activities: open the campaign (carve its stock) and close it (give back what is
unsold), over services/flash_sales.py. Idempotent: the sale's status says what was done."""

from __future__ import annotations

from temporalio import activity

from core.db import SessionFactory
from models.contracts.flash_sale import FlashFigures, FlashStep, FlashWindow
from services import flash_sales


class FlashSaleActivities:
    def __init__(self, session_factory: SessionFactory) -> None:
        self._sessions = session_factory

    @activity.defn
    async def open_flash_sale(self, step: FlashStep) -> FlashFigures:
        async with self._sessions() as session:
            figures = await flash_sales.open_sale(
                session, step.flash_sale_id, step.workflow_id, step.actor
            )
            await session.commit()
        return figures

    @activity.defn
    async def close_flash_sale(self, step: FlashStep) -> FlashFigures:
        async with self._sessions() as session:
            figures = await flash_sales.close_sale(
                session, step.flash_sale_id, step.actor, step.reason
            )
            await session.commit()
        return figures

    @activity.defn
    async def flash_sale_window(self, step: FlashStep) -> FlashWindow:
        """The sale's status and its workflow's id (a read)."""
        async with self._sessions() as session:
            return await flash_sales.window(session, step.flash_sale_id)
