"""The order's projection on the database side (DESIGN §6.1): the order, its lines and packages
written once at placement, its status and timeline per step, packages added later, the coupon
given back; and what pricing a cart needs. In the caller's transaction; idempotent by order and
package number and by each step's key."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import insert_rows, json_rows
from models.contracts.group_buy import GroupLink
from models.contracts.order import (
    Actor,
    PackagePlan,
    QuoteRequest,
    RecordOrderRequest,
    RecordPackageRequest,
    StatusChange,
)
from models.contracts.pricing import MemberTerms, PointsOffer, PricingRequest, Promotions
from models.db import (
    CouponRedemption,
    Customer,
    CustomerCoupon,
    MemberLevel,
    Order,
    OrderEvent,
    OrderLine,
    Package,
    PackageLine,
    PointsAccount,
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
    customer, member = await _customer_terms(session, request)
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
        member=member,
        points=(
            await points.points_offer(session, customer, request.points)
            if customer is not None
            else PointsOffer(requested=request.points, balance=0)
        )
        if request.points
        else None,
        freight=await freight_setup(session, templates),
    )


async def _customer_terms(
    session: AsyncSession, request: QuoteRequest
) -> tuple[int | None, MemberTerms | None]:
    """The cart's customer record and their level's terms: one statement (the record with its
    points account's level) when the quote names its storefront."""
    if request.api_key_id is None:  # a workflow started before quotes named it
        customer = await customers.record_for_quote(session, None, request.customer_id)
        return customer, (
            await points.member_terms(session, customer) if customer is not None else None
        )
    found = (
        await session.execute(
            select(Customer.id, MemberLevel)
            .outerjoin(PointsAccount, PointsAccount.customer_id == Customer.id)
            .outerjoin(MemberLevel, MemberLevel.id == PointsAccount.level_id)
            .where(
                Customer.api_key_id == request.api_key_id,
                Customer.customer_key == request.customer_id,
            )
        )
    ).first()
    if found is None:
        return None, None
    customer, level = found
    if level is None:
        return int(customer), None
    return int(customer), MemberTerms(
        level_id=level.id,
        name=level.name,
        discount_percent=level.discount_percent,
        free_shipping=level.free_shipping,
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


def record_one_statement(request: RecordOrderRequest) -> bool:
    """Whether the order is recorded by one statement (most are: not those spending a coupon
    or points, or waiting on a reviewer): it may then commit on its own
    (`timeline.statements_commit_alone`)."""
    return (
        request.quote.coupon_id is None
        and not request.quote.points_used
        and not request.under_review
    )


async def record_order(session: AsyncSession, request: RecordOrderRequest) -> None:
    """Write the order, its lines and packages once (idempotent by order number): the rows
    and the `placed` step in one statement, each row written unless there already; then what
    the order spends (coupon, points) and the reviewer's notice, once."""
    if not record_one_statement(request):
        placed = select(Order.order_no).where(Order.order_no == request.order_no)
        if await session.scalar(placed) is not None:
            return
    await add_event(
        session,
        order_no=request.order_no,
        step="placed",
        actor=Actor(kind="storefront", name=request.placed.storefront),
        key=f"{request.order_no}:placed",
        detail={"payable_fen": request.quote.payable_fen},
        with_writes=_order_writes(request),
        params=_rows_of(request),
    )
    if record_one_statement(request):
        return
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


def _order_writes(request: RecordOrderRequest) -> list[Any]:
    """The order's row, its lines, packages and package lines as data-modifying CTEs (for
    `add_event`'s `with_writes`), each row inserted unless there already (a retry). The
    foreign keys are checked at the statement's end, when every row is in."""
    return [
        _insert(Order).values(_order_values(request)).on_conflict_do_nothing().cte("order_row"),
        _ORDER_LINES,
        _PACKAGES,
        _PACKAGE_LINES,
    ]


def _rows_of(request: RecordOrderRequest) -> dict[str, str]:
    """The parameters of `_order_writes`' row sets: the lines, packages and package lines."""
    packages = [_package_values(request.order_no, plan) for plan in request.packages]
    package_lines = [line for plan in request.packages for line in _package_line_values(plan)]
    return {
        "order_lines": json_rows(_line_values(request), LINE_COLUMNS),
        "packages": json_rows(packages, PACKAGE_COLUMNS),
        "package_lines": json_rows(package_lines, PACKAGE_LINE_COLUMNS),
    }


def _rows_cte(model: Any, columns: Sequence[str], name: str) -> Any:
    """A data-modifying CTE inserting the rows of its parameter `name` (`core.db.insert_rows`),
    each unless there already (a retry); no rows, nothing inserted."""
    return insert_rows(model.__table__, columns, name).on_conflict_do_nothing().cte(name)


# The columns each row set names (the keys of `_line_values`, `_package_values`, ...).
LINE_COLUMNS = ("order_no", "line_no", "sku_id", "quantity", "unit_price_fen", "list_amount_fen",
                "discount_fen", "paid_fen", "is_gift", "allocations")  # fmt: skip
PACKAGE_COLUMNS = ("package_no", "order_no", "warehouse_id", "status", "status_seq",
                   "carrier_code", "expected_weight_g", "tracking_events")  # fmt: skip
PACKAGE_LINE_COLUMNS = ("package_no", "line_no", "sku_id", "quantity")
_ORDER_LINES = _rows_cte(OrderLine, LINE_COLUMNS, "order_lines")
_PACKAGES = _rows_cte(Package, PACKAGE_COLUMNS, "packages")
_PACKAGE_LINES = _rows_cte(PackageLine, PACKAGE_LINE_COLUMNS, "package_lines")


def _insert(model: Any) -> Any:
    """An INSERT of the model's table (Core: no ORM bulk-insert layer on top)."""
    return insert(model.__table__)


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
    if change.presale is not None:  # the presale's counts move with the step
        writes.append(presales.stage_update(change.presale).cte("presale_stage"))
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
    await session.execute(
        select(literal(1)).add_cte(_PACKAGES, _PACKAGE_LINES),
        {
            "packages": json_rows([_package_values(plan.order_no, plan.package)], PACKAGE_COLUMNS),
            "package_lines": json_rows(_package_line_values(plan.package), PACKAGE_LINE_COLUMNS),
        },
    )


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


def _order_values(request: RecordOrderRequest) -> dict[str, object]:
    quote = request.quote
    return {
        "order_no": request.order_no,
        "api_key_id": request.placed.api_key_id,
        "customer_id": request.placed.customer_id,
        "status": "awaiting_payment",
        "status_seq": 0,
        "region_code": request.placed.address.region_code,
        "address": request.placed.address.model_dump(),
        "goods_list_fen": quote.goods_list_fen,
        "discount_fen": quote.discount_fen,
        "freight_fen": quote.freight_fen,
        "payable_fen": quote.payable_fen,
        "paid_fen": 0,
        "refunded_fen": 0,
        "coupon_id": quote.coupon_id,
        "pricing": {
            "discounts": [d.model_dump() for d in quote.discounts],
            **({"points_used": quote.points_used} if quote.points_used else {}),
        },
        "payment_deadline": request.payment_deadline,
        "under_review": request.under_review,
        "escalated": False,
        "placed_at": request.placed_at,
    }


def _package_values(order_no: str, plan: PackagePlan) -> dict[str, object]:
    return {
        "package_no": plan.package_no,
        "order_no": order_no,
        "warehouse_id": plan.warehouse_id,
        "status": "pending",
        "status_seq": 0,
        "carrier_code": "",
        "expected_weight_g": 0,
        "tracking_events": [],
    }


def _package_line_values(plan: PackagePlan) -> list[dict[str, object]]:
    return [
        {
            "package_no": plan.package_no,
            "line_no": line.line_no,
            "sku_id": line.sku_id,
            "quantity": line.quantity,
        }
        for line in plan.lines
    ]


def _line_values(request: RecordOrderRequest) -> list[dict[str, object]]:
    return [
        {
            "order_no": request.order_no,
            "line_no": line.line_no,
            "sku_id": line.sku_id,
            "quantity": line.quantity,
            "unit_price_fen": line.unit_price_fen,
            "list_amount_fen": line.list_amount_fen,
            "discount_fen": line.discount_fen,
            "paid_fen": line.paid_fen,
            "is_gift": line.is_gift,
            "allocations": [a.model_dump() for a in line.allocations],
        }
        for line in request.quote.lines
    ]
