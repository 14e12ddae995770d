"""SettlementWorkflow (`settle-PO…`): a closed PO's supplier invoice → three-way match (PO
price × received vs invoiced, minus credits for returns, with a tolerance) → a mismatch waits for
finance to approve (with a reason) or reject → payable with a due date from the supplier's terms
→ a durable timer to the due date → payment through the bank, idempotent per payable → settled
(DESIGN §6.5, §6.6)."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

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
    from models.domain.settlement import PaymentTerms, due_date, three_way_match
    from workflows.common import call
    from workflows.visibility import show

BUSINESS_TZ = timezone(timedelta(hours=8), "CST")  # Asia/Shanghai: no daylight saving
PAY_AT = time(10, 0)  # payments go out at 10:00 on the due date, business time


@workflow.defn
class SettlementWorkflow:
    @workflow.init
    def __init__(self, input: SettlementInput) -> None:
        self._in = input
        self._match = three_way_match(input.lines, input.figures, input.invoice, input.tolerance)
        self._status: InvoiceStatus = "payable" if self._match.matched else "mismatch"
        self._decision: InvoiceDecision | None = None
        self._due = (
            due_date(input.invoice_date, PaymentTerms(basis="net", days=input.payment_terms_days))
            if self._match.matched
            else None
        )
        self._transfer_id: str | None = None
        self._recorded = False

    @workflow.run
    async def run(self, input: SettlementInput) -> SettlementView:
        show(business_no=input.po_no, status=self._status)
        await self._record()
        if self._status == "mismatch":
            await workflow.wait_condition(lambda: self._decision is not None)
            assert self._decision is not None
            if not self._decision.approve:
                self._status = "rejected"
                await self._record()
                return self.view()
            self._status = "payable"
            self._due = due_date(
                input.invoice_date, PaymentTerms(basis="net", days=input.payment_terms_days)
            )
            await self._record()
        assert self._due is not None
        pay_at = datetime.combine(self._due, PAY_AT, BUSINESS_TZ)
        wait = pay_at - workflow.now()
        if wait > timedelta(0):
            await workflow.sleep(wait)
        self._transfer_id = await call(
            SettlementActivities.pay_supplier,
            PaySupplier(
                po_no=input.po_no,
                transfer_key=f"PAY-{input.po_no}",
                payee_name=input.supplier_name,
                payee_account=input.supplier_code,
                amount_fen=self._match.payable_fen,
                memo=f"{input.po_no} invoice {input.invoice_no}",
            ),
        )
        self._status = "paid"
        show(status=self._status)
        return self.view()

    @workflow.update
    async def opened(self) -> SettlementView:
        """The invoice as recorded: what POST …/invoices answers."""
        await workflow.wait_condition(lambda: self._recorded)
        return self.view()

    @workflow.update
    async def decide(self, decision: InvoiceDecision) -> SettlementView:
        self._decision = decision
        await workflow.wait_condition(lambda: self._status != "mismatch" and self._recorded)
        return self.view()

    @decide.validator
    def _may_decide(self, decision: InvoiceDecision) -> None:
        if self._status != "mismatch" or self._decision is not None:
            raise ApplicationError(f"invoice is {self._status}", type="InvalidStateError")
        if "finance" not in decision.by.roles:
            raise ApplicationError("only finance decides on a mismatch", type="ApprovalError")

    @workflow.query
    def view(self) -> SettlementView:
        return SettlementView(
            po_no=self._in.po_no,
            invoice_no=self._in.invoice_no,
            status=self._status,
            match=self._match,
            due_date=self._due,
            transfer_id=self._transfer_id,
        )

    async def _record(self) -> None:
        show(status=self._status)
        self._recorded = False
        decision = self._decision
        await call(
            SettlementActivities.record_invoice,
            InvoiceRecord(
                view=self.view(),
                invoice_date=self._in.invoice_date,
                decided_by=decision.by.actor.name if decision else None,
                decision_reason=decision.reason if decision else None,
            ),
        )
        self._recorded = True
