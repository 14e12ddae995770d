"""Payment reconciliation activities (DESIGN §6.6): read the provider's statement (adapter) and
our money ledger over a business day's lookup window, and record a run and the differences it
found (services/reconciliation.py, idempotent per workflow id and per difference)."""

from __future__ import annotations

from temporalio import activity

from activities.providers import PaymentProvider
from core.db import SessionFactory
from models.contracts.reconciliation import (
    LedgerRead,
    LedgerRequest,
    RunRecord,
    RunRecorded,
    RunStart,
    RunStarted,
    StatementFetched,
    StatementRequest,
)
from models.domain.presale import order_of
from models.domain.reconciliation import StatementItem, lookup_window
from services import reconciliation


class ReconciliationActivities:
    def __init__(self, session_factory: SessionFactory, provider: PaymentProvider) -> None:
        self._sessions = session_factory
        self._provider = provider

    @activity.defn
    async def start_reconciliation(self, request: RunStart) -> RunStarted:
        """The run's row, once per workflow id (a retry answers the same row)."""
        async with self._sessions() as session:
            started = await reconciliation.start_run(session, request)
            await session.commit()
        return started

    @activity.defn
    async def fetch_statement(self, request: StatementRequest) -> StatementFetched:
        start, end = lookup_window(request.day)
        entries = await self._provider.statement(start=start, end=end)
        return StatementFetched(
            entries=[
                StatementItem(
                    type=e.type,
                    entry_id=e.entry_id,
                    refund_no=e.refund_no,
                    order_no=order_of(e.merchant_order_no),
                    amount_fen=e.amount_fen,
                    occurred_at=e.occurred_at,
                )
                for e in entries
            ]
        )

    @activity.defn
    async def read_ledger(self, request: LedgerRequest) -> LedgerRead:
        async with self._sessions() as session:
            return await reconciliation.read_ledger(session, self._provider.name, request)

    @activity.defn
    async def record_reconciliation(self, record: RunRecord) -> RunRecorded:
        """Upsert the differences found, resolve the day's others, finish the run (once)."""
        async with self._sessions() as session:
            recorded = await reconciliation.record_run(session, record)
            await session.commit()
        return recorded
