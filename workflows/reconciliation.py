"""ReconciliationWorkflow (`reconcile-payments-<time>` from the daily Schedule, `reconcile-now-…`
when finance runs it): one business day's payment statement from the provider against the money
ledger; every difference recorded for finance (DESIGN §6.6)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.reconciliation import ReconciliationActivities
    from models.contracts.reconciliation import (
        LedgerRequest,
        ReconcileInput,
        ReconcileResult,
        RunRecord,
        RunStart,
        StatementRequest,
    )
    from models.domain.reconciliation import previous_business_day, reconcile
    from workflows.common import call
    from workflows.visibility import show

READ_TIMEOUT = timedelta(minutes=2)  # a day's statement (a few HTTP pages) or ledger


@workflow.defn
class ReconciliationWorkflow:
    @workflow.run
    async def run(self, input: ReconcileInput) -> ReconcileResult:
        day = input.day or previous_business_day(workflow.now())
        show(business_no=day.isoformat(), status="reconciling")
        run = await call(
            ReconciliationActivities.start_reconciliation,
            RunStart(workflow_id=workflow.info().workflow_id, day=day, started_at=workflow.now()),
        )
        statement = await call(
            ReconciliationActivities.fetch_statement,
            StatementRequest(day=day),
            start_to_close=READ_TIMEOUT,
        )
        ledger = await call(
            ReconciliationActivities.read_ledger,
            LedgerRequest(day=day),
            start_to_close=READ_TIMEOUT,
        )
        outcome = reconcile(day, statement.entries, ledger.entries)
        recorded = await call(
            ReconciliationActivities.record_reconciliation,
            RunRecord(run_id=run.run_id, outcome=outcome, finished_at=workflow.now()),
        )
        show(status="reconciled")
        return ReconcileResult(
            run_id=run.run_id,
            day=day,
            statement_entries=outcome.statement_entries,
            ledger_entries=outcome.ledger_entries,
            matched=outcome.matched,
            resolved=recorded.resolved,
            differences=list(outcome.differences),
        )
