"""Payment reconciliation (DESIGN §6.6): each run of a business day against the provider's
statement, and the differences found for finance, one row per (day, kind, type, reference)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.db.base import Base


class ReconciliationRun(Base):
    """One run of ReconciliationWorkflow (a day may be run again: each run is a row)."""

    __tablename__ = "reconciliation_runs"
    __table_args__ = (
        UniqueConstraint("workflow_id"),
        CheckConstraint("status IN ('running','completed')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(200))
    day: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(12))
    statement_entries: Mapped[int] = mapped_column(default=0)
    ledger_entries: Mapped[int] = mapped_column(default=0)
    matched: Mapped[int] = mapped_column(default=0)
    differences: Mapped[int] = mapped_column(default=0)
    resolved: Mapped[int] = mapped_column(default=0)  # earlier differences this run no longer saw
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReconciliationDifference(Base):
    """A difference between the statement (or a refund callback) and the ledger on one business
    day. A re-run updates it in place; one the latest run no longer finds is marked resolved (and
    reopened if found again)."""

    __tablename__ = "reconciliation_differences"
    __table_args__ = (
        UniqueConstraint("day", "kind", "entry_type", "reference"),
        CheckConstraint(
            "kind IN ('missing_in_ledger','missing_at_provider','amount_mismatch')",
            name="kind_known",
        ),
        CheckConstraint("entry_type IN ('payment','refund')", name="entry_type_known"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(24))
    entry_type: Mapped[str] = mapped_column(String(12))
    reference: Mapped[str] = mapped_column(String(64))  # transaction id / our refund number
    order_no: Mapped[str] = mapped_column(String(64), index=True)
    provider_id: Mapped[str | None] = mapped_column(String(64))
    provider_amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    ledger_amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    detail: Mapped[str] = mapped_column(String(500))
    resolved: Mapped[bool] = mapped_column(default=False)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The run that found it; None: a refund callback of the provider found it (no run resolves
    # those — finance does; a run finding the same difference takes it over).
    run_id: Mapped[int | None] = mapped_column(ForeignKey("reconciliation_runs.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
