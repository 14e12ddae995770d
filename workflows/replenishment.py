"""ReplenishmentWorkflow (`replenish-<warehouse>-<run>`), started by a Temporal Schedule per
warehouse or by staff ("replenish now"): drafts one PO per preferred supplier for the SKUs below
their reorder point, each a PurchaseOrderWorkflow left running on its own (DESIGN §6.5)."""

from __future__ import annotations

from temporalio import workflow
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.replenishment import ReplenishmentActivities
    from models.contracts.order import Actor
    from models.contracts.purchasing import (
        DraftRequest,
        PurchaseOrderInput,
        ReplenishInput,
        Staff,
    )
    from workflows.common import call
    from workflows.purchase_order import PurchaseOrderWorkflow
    from workflows.visibility import show

SYSTEM = Staff(actor=Actor(kind="system", name="replenishment"), user_id=0, roles=frozenset())


@workflow.defn
class ReplenishmentWorkflow:
    @workflow.run
    async def run(self, input: ReplenishInput) -> list[str]:
        """The POs drafted by this run (none when nothing is below its reorder point)."""
        show(status="scanning", warehouse=input.warehouse_id)
        drafts = await call(ReplenishmentActivities.scan_reorder_points, input.warehouse_id)
        drafted: list[str] = []
        run_id = workflow.info().workflow_id
        for n, draft in enumerate(drafts):
            po = await call(
                ReplenishmentActivities.draft_po,
                DraftRequest(
                    warehouse_id=input.warehouse_id,
                    draft=draft,
                    source_key=f"{run_id}:{n}"[:80],
                ),
            )
            await workflow.start_child_workflow(
                PurchaseOrderWorkflow.run,
                PurchaseOrderInput(
                    po_no=po.po_no,
                    supplier_id=draft.supplier_id,
                    created_by=SYSTEM,
                    lines=po.lines,
                    timings=input.po_timings,
                    policy=input.po_policy,
                    note="drafted by replenishment",
                ),
                id=f"po-{po.po_no}",
                parent_close_policy=ParentClosePolicy.ABANDON,  # the PO lives on
            )
            drafted.append(po.po_no)
        show(status="drafted")
        return drafted
