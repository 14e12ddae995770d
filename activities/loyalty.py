"""Points activities (DESIGN §6.7): earn on completion, give back on cancel and with refunds,
expire yearly. Each booking is keyed (services/points.py): a retry books nothing twice."""

from __future__ import annotations

from temporalio import activity

from core.db import SessionFactory
from models.contracts.loyalty import ExpireBatch, ExpiredBatch, PointsEarned, PointsRefund
from models.domain.business_day import BUSINESS_TZ
from models.domain.points import expiry_cutoff
from services import points


class LoyaltyActivities:
    def __init__(self, session_factory: SessionFactory) -> None:
        self._sessions = session_factory

    @activity.defn
    async def earn_points(self, order_no: str) -> PointsEarned:
        """The completed order's points and growth value, and the level they reach."""
        async with self._sessions() as session:
            got = await points.earn_for_order(session, order_no)
            await session.commit()
        return PointsEarned(
            order_no=order_no, points=got.points, growth=got.growth, level_id=got.level_id
        )

    @activity.defn
    async def return_points(self, order_no: str) -> int:
        """A cancelled order's spent points back to its customer."""
        async with self._sessions() as session:
            back = await points.give_back_cancelled(session, order_no)
            await session.commit()
        return back

    @activity.defn
    async def refund_points(self, refund: PointsRefund) -> int:
        """The points the refunded units bore back, pro rata (an after-sale's or a package's)."""
        ref = refund.as_no or refund.refund_no
        async with self._sessions() as session:
            back = await points.give_back_refund(session, refund.order_no, ref, refund.units)
            await session.commit()
        return back

    @activity.defn
    async def expire_points(self, batch: ExpireBatch) -> ExpiredBatch:
        """One batch of accounts of the yearly expiry, in one transaction."""
        cutoff = expiry_cutoff(batch.year, BUSINESS_TZ)
        async with self._sessions() as session:
            done = await points.expire_batch(
                session, batch.year, cutoff, batch.after_customer_id, batch.limit
            )
            await session.commit()
        return ExpiredBatch(
            last_customer_id=done.last_customer_id, customers=done.customers, points=done.points
        )
