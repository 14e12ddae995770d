"""Payloads of the daily payment reconciliation: ReconciliationWorkflow's input and result, and
the activities it calls (DESIGN §6.6). The comparison lives in models/domain/reconciliation.py;
these carry its inputs and results."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel

from models.domain.reconciliation import Difference, LedgerItem, Reconciliation, StatementItem


class ReconcileInput(BaseModel):
    day: date | None = None  # the business day; default: yesterday at the run's start


class RunStart(BaseModel):
    workflow_id: str
    day: date
    started_at: datetime


class RunStarted(BaseModel):
    run_id: int


class StatementRequest(BaseModel):
    day: date


class StatementFetched(BaseModel):
    """The provider's entries over the day's lookup window (and possibly around it)."""

    entries: list[StatementItem]


class LedgerRequest(BaseModel):
    day: date


class LedgerRead(BaseModel):
    """The ledger's payment and refund rows over the day's lookup window."""

    entries: list[LedgerItem]


class RunRecord(BaseModel):
    run_id: int
    outcome: Reconciliation
    finished_at: datetime


class RunRecorded(BaseModel):
    resolved: int  # differences of earlier runs of the day this run no longer found


class ReconcileResult(BaseModel):
    run_id: int
    day: date
    statement_entries: int
    ledger_entries: int
    matched: int
    resolved: int
    differences: list[Difference]
