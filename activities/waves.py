"""Activities of wave picking (DESIGN §6.4): every one is a short PostgreSQL transaction and
idempotent — a retry after a commit finds its own work done and answers the same."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity

from core.db import SessionFactory
from models.contracts.waves import (
    BuildRequest,
    Escalation,
    Finish,
    OutboundRequest,
    PicksCancelled,
    PlanRequest,
    PlanResult,
    WaveProgress,
)
from services import wave_building, wave_planning, wave_progress
from services.timeline import statements_commit_alone


class WaveActivities:
    def __init__(
        self, session_factory: SessionFactory, *, ship_within: timedelta = timedelta(hours=24)
    ) -> None:
        self._sessions = session_factory
        self._ship_within = ship_within  # released → shipped: the promise planning checks

    @activity.defn
    async def register_outbound(self, request: OutboundRequest) -> None:
        """The package waits for a wave, promised to ship by its release + `ship_within`."""
        ship_by = request.released_at + self._ship_within
        async with self._sessions() as session:
            await statements_commit_alone(session)  # one statement
            await wave_planning.register_outbound(session, request, ship_by=ship_by)
            await session.commit()

    @activity.defn
    async def plan_waves(self, request: PlanRequest) -> PlanResult:
        async with self._sessions() as session:
            result = await wave_planning.plan(session, request)
            await session.commit()
        return result

    @activity.defn
    async def build_wave(self, request: BuildRequest) -> int:
        async with self._sessions() as session:
            tasks = await wave_building.build(
                session,
                [request.wave_no],
                now=request.now,
                max_stops=request.max_stops,
                max_units=request.max_units,
            )
            await session.commit()
        return tasks

    @activity.defn
    async def settle_wave(self, wave_no: str) -> WaveProgress:
        async with self._sessions() as session:
            progress = await wave_progress.settle(session, wave_no)
            await session.commit()
        return progress

    @activity.defn
    async def cancel_picks(self, package_no: str) -> PicksCancelled:
        async with self._sessions() as session:
            cancelled = await wave_progress.cancel(session, package_no)
            await session.commit()
        return cancelled

    @activity.defn
    async def escalate_wave(self, request: Escalation) -> None:
        async with self._sessions() as session:
            await wave_progress.escalate(session, request.wave_no, request.reason)
            await session.commit()

    @activity.defn
    async def finish_wave(self, request: Finish) -> None:
        async with self._sessions() as session:
            await statements_commit_alone(session)  # one statement
            await wave_progress.finish(session, request.wave_no, request.at)
            await session.commit()
