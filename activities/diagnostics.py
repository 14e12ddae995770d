"""Diagnostics activities: what a worker can reach, reported to whoever asked."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from migrations import current_revision, head_revision
from models.contracts.diagnostics import DatabaseCheck


class DiagnosticsActivities:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @activity.defn
    async def check_database(self) -> DatabaseCheck:
        revision = await current_revision(self._engine)
        return DatabaseCheck(
            reachable=True, schema_revision=revision, expected_revision=head_revision()
        )
