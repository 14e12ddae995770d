"""FlashCloseWorkflow (`flash-close-FS…`): started by a flash sale's closing Schedule at the
sale's end (秒杀, DESIGN §6.8: a Schedule opens and closes the window). It tells the sale's
workflow that its end has come; that workflow closes the window (gives back what is unsold),
as it does when staff stop it early. A sale already closed, or never opened, gets no word: a
sale stopped before it opened is closed already, and one whose opening is late closes when it
opens, its end being past."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.flash_sales import FlashSaleActivities
    from models.contracts.flash_sale import FlashSaleInput, FlashStep, FlashWindowEnded
    from models.contracts.messages import FLASH_WINDOW_ENDED
    from workflows.common import call, signal_unless_gone


@workflow.defn
class FlashCloseWorkflow:
    @workflow.run
    async def run(self, input: FlashSaleInput) -> bool:
        """True when the sale's workflow was told (False: nothing was open to close)."""
        window = await call(
            FlashSaleActivities.flash_sale_window, FlashStep(flash_sale_id=input.flash_sale_id)
        )
        if window.status != "open" or not window.workflow_id:
            return False
        sale = workflow.get_external_workflow_handle(window.workflow_id)
        return await signal_unless_gone(sale, FLASH_WINDOW_ENDED, FlashWindowEnded())
