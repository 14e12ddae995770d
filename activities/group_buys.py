"""Group-buy activities (DESIGN §6.8): the group's projection, idempotent (an upsert by group
and order number; an older view never overwrites a newer one)."""

from __future__ import annotations

from temporalio import activity

from core.db import SessionFactory
from models.contracts.group_buy import GroupRecord
from services import group_buys


class GroupBuyActivities:
    def __init__(self, session_factory: SessionFactory) -> None:
        self._sessions = session_factory

    @activity.defn
    async def record_group_buy(self, record: GroupRecord) -> None:
        async with self._sessions() as session:
            await group_buys.record_group(session, record)
            await session.commit()
