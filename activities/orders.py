"""Order activities: price a cart, record the order, and keep its projection and timeline."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.changes import notify_sql
from core.db import SessionFactory
from models.contracts.order import (
    Actor,
    PackagePlan,
    Quote,
    QuoteRequest,
    RecordOrderRequest,
    RecordPackageRequest,
    RefundState,
    StatusChange,
)
from models.contracts.pricing import PricingRequest
from models.db import (
    CouponRedemption,
    Order,
    OrderEvent,
    OrderLine,
    OrderRefund,
    Package,
    PackageLine,
)
from models.domain.freight import (
    MissingFreightRuleError,
    MissingFreightTemplateError,
    UnserviceableRegionError,
)
from models.domain.pricing import UnknownSkuError as PricingUnknownSkuError
from models.domain.pricing import price_order
from models.domain.promotions import CouponNotApplicableError
from services.pricing_inputs import (
    UnknownCouponError,
    UnknownSkusError,
    coupon_offer,
    freight_setup,
    live_promotions,
    sku_facts,
)

BUSINESS_ERRORS = (
    "InvalidOrderError",
    "OutOfStockError",
    "CouponNotApplicableError",
    "UnserviceableRegionError",
    "MissingFreightRuleError",
)


def business_error(kind: str, message: str, **details: object) -> ApplicationError:
    return ApplicationError(message, details, type=kind, non_retryable=True)


async def add_event(
    session: AsyncSession,
    *,
    order_no: str,
    step: str,
    actor: Actor,
    key: str,
    package_no: str | None = None,
    detail: dict[str, object] | None = None,
    at: datetime | None = None,
    seq: int = 0,
) -> None:
    """One timeline row; a retried activity writes it once (the key is deterministic). The
    order (and package) is announced as changed to readers waiting on it."""
    await session.execute(
        insert(OrderEvent)
        .values(
            order_no=order_no,
            package_no=package_no,
            step=step,
            seq=seq,
            actor_kind=actor.kind,
            actor_name=actor.name,
            actor_role=actor.role,
            detail=detail or {},
            idempotency_key=key,
            **({"at": at} if at is not None else {}),
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
    )
    for changed in (order_no, package_no):  # readers waiting on either hear of it at commit
        if changed is not None:
            await session.execute(*notify_sql(changed))


async def owe_refund(session: AsyncSession, order_no: str, refund: RefundState) -> None:
    """Show a refund the order owes (pending or refused); never moves one made back."""
    values = {
        "amount_fen": refund.amount_fen,
        "status": refund.status,
        "reason": refund.reason[:500],
        "refused_reason": (refund.refused_reason or "")[:500] or None,
    }
    await session.execute(
        insert(OrderRefund)
        .values(refund_no=refund.refund_no, order_no=order_no, **values)
        .on_conflict_do_update(
            index_elements=["refund_no"], set_=values, where=OrderRefund.status != "done"
        )
    )


async def _pricing_request(session: AsyncSession, request: QuoteRequest) -> PricingRequest:
    promotions = await live_promotions(session, request.at)
    wanted = {line.sku_id for line in request.lines} | {g.gift_sku_id for g in promotions.gifts}
    facts = await sku_facts(session, wanted)
    coupon = (
        await coupon_offer(session, request.coupon_code, request.customer_id)
        if request.coupon_code
        else None
    )
    templates = {f.freight_template_id for f in facts if f.freight_template_id is not None}
    return PricingRequest(
        at=request.at,
        customer_id=request.customer_id,
        destination_region=request.region_code,
        lines=request.lines,
        catalog=facts,
        promotions=promotions,
        coupon=coupon,
        freight=await freight_setup(session, templates),
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
                priced = price_order(await _pricing_request(session, request))
        except (UnknownSkusError, PricingUnknownSkuError) as exc:
            raise business_error("InvalidOrderError", str(exc), sku_ids=exc.sku_ids) from exc
        except UnknownCouponError as exc:
            raise business_error("CouponNotApplicableError", str(exc), reason="unknown") from exc
        except CouponNotApplicableError as exc:
            raise business_error("CouponNotApplicableError", str(exc), reason=exc.reason) from exc
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
            goods_list_fen=priced.goods_list_fen,
            discount_fen=priced.discount_fen,
            goods_paid_fen=priced.goods_paid_fen,
            freight_fen=priced.freight_fen,
            payable_fen=priced.payable_fen,
            packages=[],
        )

    @activity.defn
    async def record_order(self, request: RecordOrderRequest) -> None:
        """Write the order, its lines and packages once (idempotent by order number)."""
        async with self._sessions() as session:
            if await session.get(Order, request.order_no) is not None:
                return
            session.add(_order_row(request))
            await session.flush()
            session.add_all(_line_rows(request))
            for plan in request.packages:
                session.add(_package_row(request.order_no, plan))
                await session.flush()
                session.add_all(_package_lines(plan))
            if request.quote.coupon_id is not None:
                session.add(
                    CouponRedemption(
                        coupon_id=request.quote.coupon_id,
                        order_no=request.order_no,
                        customer_id=request.placed.customer_id,
                    )
                )
            await add_event(
                session,
                order_no=request.order_no,
                step="placed",
                actor=Actor(kind="storefront", name=request.placed.storefront),
                key=f"{request.order_no}:placed",
                detail={"payable_fen": request.quote.payable_fen},
            )
            await session.commit()

    @activity.defn
    async def record_status(self, change: StatusChange) -> None:
        """Move the order's projected status and add the step to its timeline."""
        async with self._sessions() as session:
            order = Order.order_no == change.order_no
            await session.execute(
                update(Order)
                .where(order, Order.status_seq < change.seq)
                .values(status=change.status, status_seq=change.seq)
            )
            values: dict[str, object] = {}
            if change.escalated:
                values["escalated"] = True
            if change.step in ("risk_approved", "risk_rejected"):
                values["under_review"] = False
            if change.step == "cancelled" and change.detail.get("reason"):
                values["cancel_reason"] = str(change.detail["reason"])[:500]
            if values:
                await session.execute(update(Order).where(order).values(**values))
            for refund in change.refunds:
                await owe_refund(session, change.order_no, refund)
            await add_event(
                session,
                order_no=change.order_no,
                step=change.step,
                actor=change.actor,
                key=f"{change.order_no}:{change.key}",
                seq=change.seq,
                detail=dict(change.detail),
                at=change.at,
            )
            await session.commit()

    @activity.defn
    async def record_package(self, plan: RecordPackageRequest) -> None:
        """A package added after placement (a reship): its row and lines, once."""
        async with self._sessions() as session:
            if await session.get(Package, plan.package.package_no) is None:
                session.add(_package_row(plan.order_no, plan.package))
                await session.flush()
                session.add_all(_package_lines(plan.package))
                await session.commit()

    @activity.defn
    async def return_coupon(self, order_no: str) -> None:
        async with self._sessions() as session:
            await session.execute(
                update(CouponRedemption)
                .where(CouponRedemption.order_no == order_no, CouponRedemption.status == "used")
                .values(status="returned")
            )
            await session.commit()


def _order_row(request: RecordOrderRequest) -> Order:
    quote = request.quote
    return Order(
        order_no=request.order_no,
        api_key_id=request.placed.api_key_id,
        customer_id=request.placed.customer_id,
        status="awaiting_payment",
        region_code=request.placed.address.region_code,
        address=request.placed.address.model_dump(),
        goods_list_fen=quote.goods_list_fen,
        discount_fen=quote.discount_fen,
        freight_fen=quote.freight_fen,
        payable_fen=quote.payable_fen,
        coupon_id=quote.coupon_id,
        pricing={"discounts": [d.model_dump() for d in quote.discounts]},
        payment_deadline=request.payment_deadline,
        under_review=request.under_review,
        placed_at=request.placed_at,
    )


def _package_row(order_no: str, plan: PackagePlan) -> Package:
    return Package(
        package_no=plan.package_no,
        order_no=order_no,
        warehouse_id=plan.warehouse_id,
        status="pending",
        carrier_code="",
        expected_weight_g=0,
        tracking_events=[],
    )


def _package_lines(plan: PackagePlan) -> list[PackageLine]:
    return [
        PackageLine(
            package_no=plan.package_no,
            line_no=line.line_no,
            sku_id=line.sku_id,
            quantity=line.quantity,
        )
        for line in plan.lines
    ]


def _line_rows(request: RecordOrderRequest) -> list[OrderLine]:
    return [
        OrderLine(
            order_no=request.order_no,
            line_no=line.line_no,
            sku_id=line.sku_id,
            quantity=line.quantity,
            unit_price_fen=line.unit_price_fen,
            list_amount_fen=line.list_amount_fen,
            discount_fen=line.discount_fen,
            paid_fen=line.paid_fen,
            is_gift=line.is_gift,
            allocations=[a.model_dump() for a in line.allocations],
        )
        for line in request.quote.lines
    ]
