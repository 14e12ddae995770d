"""Members activities (DESIGN §6.7): the coupon batch's chunks, thin wrappers over
services/segments.py for CouponBatchWorkflow. Each chunk is idempotent by (batch, customer)."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import activity

from activities.orders import business_error
from core.db import SessionFactory
from models.contracts.customers import ChunkIssued, IssueChunk
from services import segments


class CustomerActivities:
    def __init__(self, session_factory: SessionFactory) -> None:
        self._sessions = session_factory

    @activity.defn
    async def issue_coupon_chunk(self, request: IssueChunk) -> ChunkIssued:
        async with self._sessions() as session:
            try:
                issued = await segments.issue_chunk(
                    session, request.batch_id, request.after, request.limit
                )
            except LookupError as exc:
                raise business_error("InvalidInputError", str(exc)) from exc
            await session.commit()
            return issued

    @activity.defn
    async def finish_coupon_batch(self, batch_id: int) -> None:
        async with self._sessions() as session:
            await segments.finish_batch(session, batch_id, datetime.now(UTC))
            await session.commit()
