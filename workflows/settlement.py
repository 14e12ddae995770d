"""SettlementWorkflow (`settle-PO…`): a closed PO's supplier invoice → three-way match (PO
price × received vs invoiced, minus credits for returns, with a tolerance) → a mismatch waits for
finance to approve (with a reason) or reject → payable with a due date from the supplier's terms
→ a durable timer to the due date → payment through the bank, idempotent per payable → settled
(DESIGN §6.5, §6.6)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.settlement import SettlementActivities
    from models.contracts.purchasing import (
        InvoiceDecision,
        InvoiceRecord,
        InvoiceStatus,
        PaySupplier,
        SettlementInput,
        SettlementView,
    )
    from models.domain.business_day import BUSINESS_TZ
    from models.domain.settlement import MatchResult, PaymentTerms, due_date, three_way_match
    from workflows.common import call
    from workflows.visibility import show

PAY_AT = time(10, 0)  # payments go out at 10:00 on the due date, business time


@dataclass
class SettlementState:
    """An invoice's state: what its run and its handlers share."""

    match: MatchResult
    status: InvoiceStatus
    due: date | None  # set once payable
    decision: InvoiceDecision | None = None  # finance's, on a mismatch
    transfer_id: str | None = None
    recorded: bool = False  # the projection holds the current status


def _due_date(input: SettlementInput) -> date:
    return due_date(input.invoice_date, PaymentTerms(basis="net", days=input.payment_terms_days))


@workflow.defn
class SettlementWorkflow:
    @workflow.init
    def __init__(self, input: SettlementInput) -> None:
        self._in = input
        match = three_way_match(input.lines, input.figures, input.invoice, input.tolerance)
        self._state = SettlementState(
            match=match,
            status="payable" if match.matched else "mismatch",
            due=_due_date(input) if match.matched else None,
        )

    @workflow.run
    async def run(self, input: SettlementInput) -> SettlementView:
        state = self._state
        show(business_no=input.po_no, status=state.status)
        await self._record()
        if state.status == "mismatch":
            await workflow.wait_condition(lambda: state.decision is not None)
            assert state.decision is not None
            if not state.decision.approve:
                state.status = "rejected"
                await self._record()
                return self.view()
            state.status = "payable"
            state.due = _due_date(input)
            await self._record()
        assert state.due is not None
        pay_at = datetime.combine(state.due, PAY_AT, BUSINESS_TZ)
        wait = pay_at - workflow.now()
        if wait > timedelta(0):
            await workflow.sleep(wait)
        state.transfer_id = await call(
            SettlementActivities.pay_supplier,
            PaySupplier(
                po_no=input.po_no,
                transfer_key=f"PAY-{input.po_no}",
                payee_name=input.supplier_name,
                payee_account=input.supplier_code,
                amount_fen=state.match.payable_fen,
                memo=f"{input.po_no} invoice {input.invoice_no}",
            ),
        )
        state.status = "paid"
        show(status=state.status)
        return self.view()

    @workflow.update
    async def opened(self) -> SettlementView:
        """The invoice as recorded: what POST …/invoices answers."""
        await workflow.wait_condition(lambda: self._state.recorded)
        return self.view()

    @workflow.update
    async def decide(self, decision: InvoiceDecision) -> SettlementView:
        self._state.decision = decision
        await workflow.wait_condition(
            lambda: self._state.status != "mismatch" and self._state.recorded
        )
        return self.view()

    @decide.validator
    def _may_decide(self, decision: InvoiceDecision) -> None:
        if self._state.status != "mismatch" or self._state.decision is not None:
            raise ApplicationError(f"invoice is {self._state.status}", type="InvalidStateError")
        if "finance" not in decision.by.roles:
            raise ApplicationError("only finance decides on a mismatch", type="ApprovalError")

    @workflow.query
    def view(self) -> SettlementView:
        return SettlementView(
            po_no=self._in.po_no,
            invoice_no=self._in.invoice_no,
            status=self._state.status,
            match=self._state.match,
            due_date=self._state.due,
            transfer_id=self._state.transfer_id,
        )

    async def _record(self) -> None:
        show(status=self._state.status)
        self._state.recorded = False
        decision = self._state.decision
        await call(
            SettlementActivities.record_invoice,
            InvoiceRecord(
                view=self.view(),
                invoice_date=self._in.invoice_date,
                decided_by=decision.by.actor.name if decision else None,
                decision_reason=decision.reason if decision else None,
            ),
        )
        self._state.recorded = True
