"""The order's projection on the database side (DESIGN §6.1): the order, its lines and packages
written once at placement, its status and timeline per step, packages added later, the coupon
given back; and what pricing a cart needs. In the caller's transaction; idempotent by order and
package number and by each step's key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.contracts.group_buy import GroupLink
from models.contracts.order import (
    Actor,
    PackagePlan,
    QuoteRequest,
    RecordOrderRequest,
    RecordPackageRequest,
    StatusChange,
)
from models.contracts.pricing import PointsOffer, PricingRequest, Promotions
from models.db import (
    CouponRedemption,
    CustomerCoupon,
    Order,
    OrderEvent,
    OrderLine,
    Package,
    PackageLine,
)
from models.domain.cancel_kinds import cancel_kind
from models.domain.points import PointsNotApplicableError
from services import customers, flash_sales, notifications, points, presales
from services.notifications import Notice
from services.pricing_inputs import (
    claim_issued_coupon,
    coupon_offer,
    freight_setup,
    live_promotions,
    sku_facts,
)
from services.timeline import add_event, owe_refund, status_step


async def pricing_request(session: AsyncSession, request: QuoteRequest) -> PricingRequest:
    """What the pure pricing rules need for a cart: SKU facts, live promotions, the coupon with
    the customer's usage, the freight setup (DESIGN §7). A group-buy member's cart (§6.8) sells
    the offer's SKU at the group price, which is the whole price: no promotion or coupon on it."""
    if request.group is not None:
        return await group_pricing_request(session, request, request.group)
    promotions = await live_promotions(session, request.at)
    wanted = {line.sku_id for line in request.lines} | {g.gift_sku_id for g in promotions.gifts}
    facts = await sku_facts(session, wanted)
    if request.flash_sale_id is not None:  # the flash price the gate claimed (DESIGN §6.8)
        flash = await flash_sales.flash_price(session, request.order_no, request.flash_sale_id)
        facts = [
            f.model_copy(update={"list_price_fen": flash[f.sku_id]}) if f.sku_id in flash else f
            for f in facts
        ]
    if request.presale_id is not None:  # the presale's price (DESIGN §6.8)
        price = await presales.presale_price(session, request.order_no, request.presale_id)
        facts = [
            f.model_copy(update={"list_price_fen": price[f.sku_id]}) if f.sku_id in price else f
            for f in facts
        ]
    customer = await customers.record_for_quote(session, request.api_key_id, request.customer_id)
    coupon = (
        await coupon_offer(session, request.coupon_code, customer) if request.coupon_code else None
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
        member=await points.member_terms(session, customer) if customer is not None else None,
        points=(
            await points.points_offer(session, customer, request.points)
            if customer is not None
            else PointsOffer(requested=request.points, balance=0)
        )
        if request.points
        else None,
        freight=await freight_setup(session, templates),
    )


async def group_pricing_request(
    session: AsyncSession, request: QuoteRequest, group: GroupLink
) -> PricingRequest:
    facts = [
        fact.model_copy(update={"list_price_fen": group.price_fen})
        if fact.sku_id == group.sku_id
        else fact
        for fact in await sku_facts(session, {line.sku_id for line in request.lines})
    ]
    templates = {f.freight_template_id for f in facts if f.freight_template_id is not None}
    return PricingRequest(
        at=request.at,
        customer_id=request.customer_id,
        destination_region=request.region_code,
        lines=request.lines,
        catalog=facts,
        promotions=Promotions(),
        coupon=None,
        freight=await freight_setup(session, templates),
    )


async def record_order(session: AsyncSession, request: RecordOrderRequest) -> None:
    """Write the order, its lines and packages once (idempotent by order number)."""
    if await session.get(Order, request.order_no) is not None:
        return
    session.add(_order_row(request))
    await session.flush()
    session.add_all(_line_rows(request))
    for plan in request.packages:
        session.add(_package_row(request.order_no, plan))
        await session.flush()
        session.add_all(_package_lines(plan))
    customer = None
    if request.quote.coupon_id is not None or request.quote.points_used:  # else not needed
        customer = await customers.record_id(
            session, request.placed.api_key_id, request.placed.customer_id
        )
    if request.quote.coupon_id is not None:
        # An issued coupon: one of the customer's unused ones is this order's now, or the
        # order is refused (used meanwhile by another order).
        await claim_issued_coupon(
            session, request.quote.coupon_id, customer, request.order_no, request.placed_at
        )
        session.add(
            CouponRedemption(
                coupon_id=request.quote.coupon_id,
                order_no=request.order_no,
                # Orders name known customers (422 otherwise): the record is there.
                customer_id=customer if customer is not None else request.placed.customer_id,
            )
        )
    if request.quote.points_used:
        if customer is None:
            raise PointsNotApplicableError("insufficient", "the customer has no points")
        await points.spend(
            session, request.order_no, customer, request.quote.points_used, request.placed_at
        )
    await add_event(
        session,
        order_no=request.order_no,
        step="placed",
        actor=Actor(kind="storefront", name=request.placed.storefront),
        key=f"{request.order_no}:placed",
        detail={"payable_fen": request.quote.payable_fen},
    )
    if request.under_review:  # a risky order waits on a reviewer (DESIGN §6.1, §6.10)
        await notifications.raise_notice(
            session,
            Notice(
                kind="risk_review",
                ref=request.order_no,
                order_no=request.order_no,
                amount_fen=request.quote.payable_fen,
            ),
        )


def status_one_statement(change: StatusChange) -> bool:
    """Whether the step is written by one statement (most are: not those raising a notice,
    owing a refund, or reading the timeline for a cancel's kind): it may then commit on its own
    (`timeline.statements_commit_alone`)."""
    return not change.refunds and change.step not in ("risk_review_escalated", "cancelled")


async def record_status(session: AsyncSession, change: StatusChange) -> None:
    """Move the order's projected status and add the step to its timeline: the order's row,
    the step and the notifications it settles in one statement (one round trip), after what
    the step also raises or owes."""
    values: dict[str, object] = {}
    writes: list[Any] = []
    if change.escalated:
        values["escalated"] = True
    if change.step in ("risk_approved", "risk_rejected"):
        values["under_review"] = False
        writes.append(_review_done(change))
    elif change.step == "risk_review_escalated":
        await notifications.raise_notice(
            session,
            Notice(
                kind="risk_review", ref=change.order_no, step="escalated", order_no=change.order_no
            ),
        )
    elif change.step in ("cancelled", "closed"):  # nothing left to review
        writes.append(_review_done(change))
    if change.step == "cancelled":
        reason = str(change.detail.get("reason") or "")
        if reason:
            values["cancel_reason"] = reason[:500]
        values["cancel_kind"] = cancel_kind(
            reason, change.actor.kind, units_short=await _units_short(session, change.order_no)
        )
    for refund in change.refunds:
        await owe_refund(session, change.order_no, refund)
    order = Order.order_no == change.order_no
    writes.insert(0, status_step(Order, order, status=change.status, seq=change.seq, **values))
    await add_event(
        session,
        order_no=change.order_no,
        step=change.step,
        actor=change.actor,
        key=f"{change.order_no}:{change.key}",
        seq=change.seq,
        detail=dict(change.detail),
        at=change.at,
        with_writes=writes,
    )


def _review_done(change: StatusChange) -> Any:
    return notifications.resolving("risk_review", change.order_no, change.at).cte("review_done")


async def _units_short(session: AsyncSession, order_no: str) -> bool:
    """Whether the order refunded units its warehouse did not find (a short pick)."""
    found = await session.scalar(
        select(OrderEvent.id)
        .where(OrderEvent.order_no == order_no, OrderEvent.step == "short_refunded")
        .limit(1)
    )
    return found is not None


async def record_package(session: AsyncSession, plan: RecordPackageRequest) -> None:
    """A package added after placement (a reship): its row and lines, once."""
    if await session.get(Package, plan.package.package_no) is None:
        session.add(_package_row(plan.order_no, plan.package))
        await session.flush()
        session.add_all(_package_lines(plan.package))


async def return_coupon(session: AsyncSession, order_no: str) -> None:
    """The order's used coupon back to its customer (cancelled before shipping, refunded): the
    redemption returned and the issued coupon it used unused again."""
    await session.execute(
        update(CouponRedemption)
        .where(CouponRedemption.order_no == order_no, CouponRedemption.status == "used")
        .values(status="returned")
    )
    await session.execute(
        update(CustomerCoupon)
        .where(CustomerCoupon.used_order_no == order_no)
        .values(used_order_no=None, used_at=None)
    )


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
        pricing={
            "discounts": [d.model_dump() for d in quote.discounts],
            **({"points_used": quote.points_used} if quote.points_used else {}),
        },
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
