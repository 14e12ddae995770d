"""Payment reconciliation on the database side (DESIGN §6.6): read our money ledger over a
business day's lookup window, and record a run and the differences it found.

Recording is idempotent: a run is keyed by its workflow id; a difference by (day, kind, type,
reference), so a re-run of a day updates the rows it finds again instead of adding new ones. The
differences of the day a run no longer finds are marked resolved; found again, they reopen."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.contracts.reconciliation import (
    LedgerRead,
    LedgerRequest,
    RunRecord,
    RunRecorded,
    RunStart,
    RunStarted,
)
from models.db import MoneyEntry, Payment, ReconciliationDifference, ReconciliationRun, Refund
from models.domain.reconciliation import Difference, LedgerItem, lookup_window
from services import notifications

LOCK_NAMESPACE = 0x5245_434F  # pg_advisory_xact_lock(namespace, day): one recording per day
ROWS_PER_INSERT = 1000  # PostgreSQL takes at most 32,767 parameters per statement
UPDATED = (
    "order_no",
    "provider_id",
    "provider_amount_fen",
    "ledger_amount_fen",
    "occurred_at",
    "detail",
    "resolved",
    "resolved_at",
    "run_id",
)


async def start_run(session: AsyncSession, request: RunStart) -> RunStarted:
    """The run's row, once per workflow id (a retry answers the same row)."""
    run_id = await session.scalar(
        insert(ReconciliationRun)
        .values(
            workflow_id=request.workflow_id,
            day=request.day,
            status="running",
            started_at=request.started_at,
        )
        .on_conflict_do_update(
            index_elements=["workflow_id"], set_={"workflow_id": request.workflow_id}
        )
        .returning(ReconciliationRun.id)
    )
    assert run_id is not None
    return RunStarted(run_id=run_id)


async def read_ledger(session: AsyncSession, provider: str, request: LedgerRequest) -> LedgerRead:
    """Our payments and refunds through `provider` over the day's lookup window."""
    start, end = lookup_window(request.day)
    rows = (await session.execute(ledger_rows(provider, start, end))).all()
    return LedgerRead(
        entries=[
            LedgerItem(
                type=kind,
                reference=ref,
                order_no=order_no,
                amount_fen=amount,
                booked_at=at,
                provider_id=provider_id,
            )
            for kind, ref, order_no, amount, at, provider_id in rows
        ]
    )


async def record_run(session: AsyncSession, record: RunRecord) -> RunRecorded:
    """Upsert the differences found, resolve the day's others, finish the run (once). Holds
    the day's advisory lock until the caller's transaction ends."""
    outcome = record.outcome
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:namespace, :day)"),
        {"namespace": LOCK_NAMESPACE, "day": outcome.day.toordinal()},
    )
    run = await session.get(ReconciliationRun, record.run_id, with_for_update=True)
    if run is None:
        raise RuntimeError(f"reconciliation run {record.run_id} is not recorded")
    if run.status == "completed":  # a retry after the commit
        return RunRecorded(resolved=run.resolved)
    await _upsert(session, outcome.day, record.run_id, outcome.differences)
    resolved = await _resolve_others(session, outcome.day, record)
    run.status = "completed"
    run.statement_entries = outcome.statement_entries
    run.ledger_entries = outcome.ledger_entries
    run.matched = outcome.matched
    run.differences = len(outcome.differences)
    run.resolved = resolved
    run.finished_at = record.finished_at
    await _notify(session, record)
    return RunRecorded(resolved=resolved)


async def _notify(session: AsyncSession, record: RunRecord) -> None:
    """Finance is told of a day's differences once per run that found some; a run that finds
    none closes the day's notifications (DESIGN §6.6, §6.10)."""
    outcome = record.outcome
    day = outcome.day.isoformat()
    open_differences = await session.scalar(
        select(func.count()).where(
            ReconciliationDifference.day == outcome.day,
            ReconciliationDifference.resolved.is_(False),
        )
    )
    await notifications.resolve(session, "reconciliation_difference", day, record.finished_at)
    if outcome.differences:
        amount = sum(
            (d.provider_amount_fen or 0) - (d.ledger_amount_fen or 0) for d in outcome.differences
        )
        await notifications.raise_notice(
            session,
            notifications.Notice(
                kind="reconciliation_difference",
                ref=day,
                step=f"run-{record.run_id}",
                detail=f"{int(open_differences or 0)}: "
                + ", ".join(sorted({d.kind for d in outcome.differences})),
                amount_fen=amount,
            ),
        )


def ledger_rows(provider: str, start: datetime, end: datetime) -> Select[Any]:
    """Payment and refund rows of orders paid through `provider`, booked in [start, end): type,
    reference, order, amount (a magnitude), booked at, the provider's id. A payment's time is the
    provider's (`payments.paid_at`); a refund's when we recorded it, just after the provider
    answered."""
    booked_at = func.coalesce(
        case((MoneyEntry.entry_type == "refund", Refund.created_at), else_=Payment.paid_at),
        MoneyEntry.created_at,
    )
    return (
        select(
            MoneyEntry.entry_type,
            MoneyEntry.ref_no,
            MoneyEntry.order_no,
            func.abs(MoneyEntry.amount_fen),
            booked_at,
            func.coalesce(Refund.provider_refund_id, Payment.transaction_id),
        )
        .outerjoin(
            Refund,
            and_(MoneyEntry.entry_type == "refund", Refund.refund_no == MoneyEntry.ref_no),
        )
        .outerjoin(
            Payment,
            Payment.transaction_id == func.coalesce(Refund.transaction_id, MoneyEntry.ref_no),
        )
        .where(
            MoneyEntry.entry_type.in_(("payment", "refund")),
            MoneyEntry.order_no.is_not(None),
            or_(Payment.provider.is_(None), Payment.provider == provider),
            booked_at >= start,
            booked_at < end,
        )
        .order_by(MoneyEntry.id)
    )


async def _upsert(
    session: AsyncSession, day: date, run_id: int, differences: tuple[Difference, ...]
) -> None:
    rows: list[dict[str, Any]] = [
        {
            "day": day,
            "kind": d.kind,
            "entry_type": d.type,
            "reference": d.reference,
            "order_no": d.order_no[:64],
            "provider_id": d.provider_id,
            "provider_amount_fen": d.provider_amount_fen,
            "ledger_amount_fen": d.ledger_amount_fen,
            "occurred_at": d.occurred_at,
            "detail": d.detail[:500],
            "resolved": False,
            "resolved_at": None,
            "run_id": run_id,
        }
        for d in differences
    ]
    for i in range(0, len(rows), ROWS_PER_INSERT):
        statement = insert(ReconciliationDifference).values(rows[i : i + ROWS_PER_INSERT])
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["day", "kind", "entry_type", "reference"],
                set_={column: statement.excluded[column] for column in UPDATED},
            )
        )


async def _resolve_others(session: AsyncSession, day: date, record: RunRecord) -> int:
    """The day's open differences this run did not find (every one it found carries its id).
    Those a refund callback found (no run) stay open: the statement is not what they are about."""
    resolved = await session.execute(
        update(ReconciliationDifference)
        .where(
            ReconciliationDifference.day == day,
            ReconciliationDifference.run_id.is_not(None),
            ReconciliationDifference.run_id != record.run_id,
            ReconciliationDifference.resolved.is_(False),
        )
        .values(resolved=True, resolved_at=record.finished_at, run_id=record.run_id)
    )
    return int(getattr(resolved, "rowcount", 0) or 0)
