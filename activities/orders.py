"""Order activities: price a cart, record the order, and keep its projection and timeline
(services/orders.py, services/timeline.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.db import SessionFactory
from models.contracts.errors import BUSINESS_ERRORS
from models.contracts.order import (
    Quote,
    QuoteRequest,
    RecordOrderRequest,
    RecordPackageRequest,
    StatusChange,
)
from models.domain.freight import (
    MissingFreightRuleError,
    MissingFreightTemplateError,
    UnserviceableRegionError,
)
from models.domain.points import PointsNotApplicableError
from models.domain.pricing import UnknownSkuError as PricingUnknownSkuError
from models.domain.pricing import price_order
from models.domain.promotions import CouponNotApplicableError
from services import orders
from services.pricing_inputs import UnknownCouponError, UnknownSkusError
from services.timeline import statements_commit_alone


def business_error(kind: str, message: str, **details: object) -> ApplicationError:
    """A business outcome of a registered type (models/contracts/errors.py): final unless the
    registry says a retry could help."""
    return ApplicationError(
        message, details, type=kind, non_retryable=not BUSINESS_ERRORS[kind].retryable
    )


class OrderActivities:
    def __init__(self, session_factory: SessionFactory) -> None:
        self._sessions = session_factory

    @activity.defn
    async def quote_order(self, request: QuoteRequest) -> Quote:
        """Server-side prices, promotions, coupon, freight (DESIGN §7). Business refusals are
        non-retryable errors naming what is wrong."""
        try:
            async with self._sessions() as session:
                # Reads only, each statement its own snapshot as in a READ COMMITTED
                # transaction: without one, no BEGIN and ROLLBACK round trips.
                await statements_commit_alone(session)
                priced = price_order(await orders.pricing_request(session, request))
        except (UnknownSkusError, PricingUnknownSkuError) as exc:
            raise business_error("InvalidOrderError", str(exc), sku_ids=exc.sku_ids) from exc
        except UnknownCouponError as exc:
            raise business_error("CouponNotApplicableError", str(exc), reason="unknown") from exc
        except CouponNotApplicableError as exc:
            raise business_error("CouponNotApplicableError", str(exc), reason=exc.reason) from exc
        except PointsNotApplicableError as exc:
            raise business_error("PointsNotApplicableError", str(exc), reason=exc.reason) from exc
        except UnserviceableRegionError as exc:
            raise business_error(
                "UnserviceableRegionError", str(exc), sku_ids=exc.sku_ids, region=exc.region
            ) from exc
        except (MissingFreightRuleError, MissingFreightTemplateError) as exc:
            raise business_error("MissingFreightRuleError", str(exc)) from exc
        return Quote(
            lines=priced.lines,
            discounts=priced.discounts,
            coupon_id=priced.coupon_id,
            points_used=priced.points_used,
            goods_list_fen=priced.goods_list_fen,
            discount_fen=priced.discount_fen,
            goods_paid_fen=priced.goods_paid_fen,
            freight_fen=priced.freight_fen,
            payable_fen=priced.payable_fen,
            packages=[],
        )

    @activity.defn
    async def record_order(self, request: RecordOrderRequest) -> datetime | None:
        """Write the order, its lines and packages once (idempotent by order number), and book
        the points it spends in the same transaction. Answers this worker's clock once written:
        the order's payment deadline is timed from it (None in histories from before)."""
        try:
            async with self._sessions() as session:
                if orders.record_one_statement(request):
                    await statements_commit_alone(session)
                await orders.record_order(session, request)
                await session.commit()
        except PointsNotApplicableError as exc:  # spent meanwhile by another order
            raise business_error("PointsNotApplicableError", str(exc), reason=exc.reason) from exc
        except CouponNotApplicableError as exc:  # the issued coupon used meanwhile
            raise business_error("CouponNotApplicableError", str(exc), reason=exc.reason) from exc
        return datetime.now(UTC)

    @activity.defn
    async def record_status(self, change: StatusChange) -> None:
        """Move the order's projected status and add the step to its timeline."""
        async with self._sessions() as session:
            if orders.status_one_statement(change):
                await statements_commit_alone(session)
            await orders.record_status(session, change)
            await session.commit()

    @activity.defn
    async def record_package(self, plan: RecordPackageRequest) -> None:
        """A package added after placement (a reship): its row and lines, once."""
        async with self._sessions() as session:
            await statements_commit_alone(session)  # one statement
            await orders.record_package(session, plan)
            await session.commit()

    @activity.defn
    async def return_coupon(self, order_no: str) -> None:
        async with self._sessions() as session:
            await orders.return_coupon(session, order_no)
            await session.commit()
