"""Presale activities (预售, DESIGN §6.8): an order joins its presale (its terms) and records its
stages, over services/presales.py. Idempotent: one row per order, one forfeit row per order."""

from __future__ import annotations

from temporalio import activity

from activities.orders import business_error
from core.db import SessionFactory
from models.contracts.presale import JoinPresale, PresaleStep, PresaleTerms
from services import presales


class PresaleActivities:
    def __init__(self, session_factory: SessionFactory) -> None:
        self._sessions = session_factory

    @activity.defn
    async def join_presale(self, request: JoinPresale) -> PresaleTerms:
        try:
            async with self._sessions() as session:
                terms = await presales.join(session, request, activity.info().started_time)
                await session.commit()
        except presales.PresaleError as exc:
            raise business_error("InvalidStateError", str(exc)) from exc
        return terms

    @activity.defn
    async def record_presale_step(self, step: PresaleStep) -> None:
        async with self._sessions() as session:
            await presales.record_step(session, step)
            await session.commit()
