"""FlashSaleWorkflow (`flash-FS…`): one flash sale's window (秒杀, DESIGN §6.8). Started by the
sale's opening Schedule at its opening time (or at once when it opens now): it carves the
campaign's stock out of sellable, keeps the window open until its closing Schedule says the end
has come (`window_ended`, sent by FlashCloseWorkflow, workflows/flash_close.py) or until staff
stop it early (`stop`), then closes it: what no order claimed goes back to sellable. Should the
closing Schedule not fire (deleted or paused by hand in Temporal), the workflow's own timer
closes the window a minute after its end (`BACKSTOP`), so a sale never stays open.

Buyers never reach this workflow: the API's gate claims units in one conditional statement and
the orders are ordinary OrderWorkflows (workflows/order.py) reserving from the campaign."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.flash_sales import FlashSaleActivities
    from models.contracts.flash_sale import (
        FlashFigures,
        FlashSaleInput,
        FlashSaleView,
        FlashStep,
        FlashWindowEnded,
        StopFlashSale,
    )
    from models.contracts.messages import FLASH_WINDOW_ENDED
    from workflows.common import call
    from workflows.visibility import show

# From this patch on the window's end is the closing Schedule's (before it, a timer at the end).
CLOSE_SCHEDULE_PATCH = "closed-by-schedule"
# How long after the end the workflow closes the window itself when no Schedule said so.
BACKSTOP = timedelta(minutes=1)


@workflow.defn
class FlashSaleWorkflow:
    @workflow.init
    def __init__(self, input: FlashSaleInput) -> None:
        self._input = input
        self._figures: FlashFigures | None = None
        self._stop: StopFlashSale | None = None
        self._ended: FlashWindowEnded | None = None

    @workflow.run
    async def run(self, input: FlashSaleInput) -> FlashSaleView:
        show(business_no=input.flash_no, status="scheduled")
        if not await self._stopped_within(input.starts_at - workflow.now()):
            self._figures = await call(
                FlashSaleActivities.open_flash_sale,
                FlashStep(
                    flash_sale_id=input.flash_sale_id, workflow_id=workflow.info().workflow_id
                ),
            )
            show(status=self._figures.status)
            if self._figures.status == "open":
                if workflow.patched(CLOSE_SCHEDULE_PATCH):
                    await self._ended_within(input.ends_at - workflow.now() + BACKSTOP)
                else:
                    await self._stopped_within(input.ends_at - workflow.now())
        stop = self._stop
        self._figures = await call(
            FlashSaleActivities.close_flash_sale,
            FlashStep(
                flash_sale_id=input.flash_sale_id,
                actor=f"{stop.actor.kind}:{stop.actor.name}" if stop else "system:flash-sale",
                reason=stop.reason if stop else "window ended",
            ),
        )
        show(status="closed")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.view()

    async def _stopped_within(self, wait: timedelta) -> bool:
        """Wait `wait` (the timer of the window's edge); True when staff stopped it first."""
        if self._stop is None and wait > timedelta(0):
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._stop is not None, timeout=wait)
        return self._stop is not None

    async def _ended_within(self, wait: timedelta) -> None:
        """Until the closing Schedule says the end has come, staff stop the sale, or `wait`
        (the backstop) runs out."""
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._ended is not None or self._stop is not None,
                timeout=max(wait, timedelta(0)),
            )
        if self._ended is None and self._stop is None:
            workflow.logger.warning(
                "flash sale %s: no word from its closing schedule; closed by the backstop",
                self._input.flash_no,
            )

    @workflow.signal(name=FLASH_WINDOW_ENDED)
    def window_ended(self, ended: FlashWindowEnded) -> None:
        """The closing Schedule's word (workflows/flash_close.py): the window's end has come."""
        self._ended = self._ended or ended

    @workflow.query
    def view(self) -> FlashSaleView:
        figures = self._figures
        return FlashSaleView(
            flash_no=self._input.flash_no,
            status=figures.status if figures else "scheduled",
            figures=figures,
            stopped_by=self._stop.actor if self._stop else None,
        )

    @workflow.update
    async def stop(self, request: StopFlashSale) -> FlashSaleView:
        """Staff stop the sale early: it closes now, its unsold units back to sellable."""
        self._stop = request
        await workflow.wait_condition(
            lambda: self._figures is not None and self._figures.status == "closed"
        )
        return self.view()

    @stop.validator
    def _may_stop(self, request: StopFlashSale) -> None:
        if self._stop is not None or (self._figures and self._figures.status == "closed"):
            raise ApplicationError("flash sale is closed", type="InvalidStateError")
        if not request.reason.strip():
            raise ApplicationError("stopping needs a reason", type="InvalidInputError")
