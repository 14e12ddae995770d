"""Replenishment activities (智能采购, basic; DESIGN §6.5): thin wrappers over
services/replenishment.py for ReplenishmentWorkflow."""

from __future__ import annotations

from datetime import datetime

from temporalio import activity

from core.db import SessionFactory
from models.contracts.purchasing import Draft, Drafted, DraftRequest
from models.domain.business_day import BUSINESS_TZ
from services import replenishment


class ReplenishmentActivities:
    def __init__(self, session_factory: SessionFactory) -> None:
        self._sessions = session_factory

    @activity.defn
    async def scan_reorder_points(self, warehouse_id: int) -> list[Draft]:
        async with self._sessions() as session:
            await replenishment.notify_low_stock(session, warehouse_id)
            await session.commit()
            return await replenishment.reorder_drafts(session, warehouse_id)

    @activity.defn
    async def draft_po(self, request: DraftRequest) -> Drafted:
        async with self._sessions() as session:
            drafted = await replenishment.draft_po(
                session, request, today=datetime.now(BUSINESS_TZ).date()
            )
            await session.commit()
            return drafted
