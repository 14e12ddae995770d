"""PointsExpiryWorkflow (`expire-points-<time>` from the yearly Schedule, DESIGN §6.7): on
1 January (business time) of year Y, points credited before 1 January Y−1 and not used since
expire, account by account in batches (each booking keyed `expire:<Y>`, so a rerun of the same
year expires nothing twice)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.loyalty import LoyaltyActivities
    from models.contracts.loyalty import ExpireBatch, ExpiryInput, ExpiryResult
    from models.domain.business_day import BUSINESS_TZ
    from models.domain.points import expiry_year
    from workflows.common import call
    from workflows.visibility import show

BATCH_TIMEOUT = timedelta(minutes=5)


@workflow.defn
class PointsExpiryWorkflow:
    @workflow.run
    async def run(self, input: ExpiryInput) -> ExpiryResult:
        year = input.year or expiry_year(workflow.now(), BUSINESS_TZ)
        show(business_no=str(year), status="expiring")
        after, customers, points = 0, 0, 0
        while True:
            done = await call(
                LoyaltyActivities.expire_points,
                ExpireBatch(year=year, after_customer_id=after, limit=input.batch_size),
                start_to_close=BATCH_TIMEOUT,
            )
            customers += done.customers
            points += done.points
            if done.last_customer_id is None:
                break
            after = done.last_customer_id
        show(status="done")
        return ExpiryResult(year=year, customers=customers, points=points)
