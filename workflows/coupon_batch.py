"""CouponBatchWorkflow (`coupon-batch-<id>`): a coupon issued to every customer of a segment
(DESIGN §6.7), in chunks of customers in id order, each chunk one idempotent activity (ON
CONFLICT DO NOTHING on (batch, customer)), so a worker killed mid-batch resumes where the
history says and gives nobody a second coupon. Progress is the `progress` query (and the batch
row the chunks update); the run continues as new past `chunks_per_run` chunks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.customers import CustomerActivities
    from models.contracts.customers import (
        BatchProgress,
        BatchStatus,
        CouponBatchInput,
        IssueChunk,
    )
    from workflows.common import call
    from workflows.visibility import show


# One chunk is one statement on the database (under a second): a worker killed mid-chunk is
# noticed after this, not after the default 30 s, and the chunk runs again (idempotently).
CHUNK_TIMEOUT = timedelta(seconds=10)


def coupon_batch_id(batch_id: int) -> str:
    return f"coupon-batch-{batch_id}"


@dataclass
class CouponBatchState:
    after: int
    issued: int
    status: BatchStatus = "running"


@workflow.defn
class CouponBatchWorkflow:
    @workflow.init
    def __init__(self, input: CouponBatchInput) -> None:
        self._in = input
        self._state = CouponBatchState(after=input.after, issued=input.issued)

    @workflow.run
    async def run(self, input: CouponBatchInput) -> BatchProgress:
        show(business_no=str(input.batch_id), status="running")
        for _ in range(input.chunks_per_run):
            chunk = await call(
                CustomerActivities.issue_coupon_chunk,
                IssueChunk(batch_id=input.batch_id, after=self._state.after, limit=input.chunk),
                start_to_close=CHUNK_TIMEOUT,
            )
            self._state.after = chunk.last
            self._state.issued += chunk.issued
            if chunk.done:
                await call(CustomerActivities.finish_coupon_batch, input.batch_id)
                self._state.status = "done"
                show(status="done")
                return self.progress()
        workflow.continue_as_new(
            input.model_copy(update={"after": self._state.after, "issued": self._state.issued})
        )

    @workflow.query
    def progress(self) -> BatchProgress:
        return BatchProgress(
            batch_id=self._in.batch_id,
            status=self._state.status,
            issued=self._state.issued,
            after=self._state.after,
        )
