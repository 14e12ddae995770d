"""Reading an order from its projection: lines with allocations, packages, timeline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import Problem, invalid, not_found
from api.schemas.orders import (
    ContactPublic,
    OrderLinePublic,
    OrderPublic,
    PackageLinePublic,
    PackagePublic,
    PendingRefundPublic,
    TimelinePublic,
)
from models.db import Order, OrderEvent, OrderLine, OrderRefund, Package, PackageLine
from models.domain.privacy import mask_detail, mask_name, mask_phone
from services import customers


async def require_known_customer(session: AsyncSession, api_key_id: int, customer_id: int) -> None:
    """An order names a customer its storefront has upserted (DESIGN §6.7): else 422, before an
    order number is taken or anything reserved."""
    if not await customers.is_known(session, api_key_id, customer_id):
        raise unknown_customer(customer_id)


def unknown_customer(customer_id: int) -> Problem:
    """The 422 of an order naming a customer its storefront has not upserted."""
    return invalid(
        "customer_id",
        f"customer {customer_id} is unknown to this storefront: "
        f"PUT /v1/customers/{customer_id} first",
    )


def contact_of(order: Order, *, masked: bool) -> ContactPublic:
    """The order's shipping contact, masked (DESIGN §9) unless `masked` is False."""
    return contact_from(order.address, masked=masked)


def contact_from(address: Mapping[str, Any], *, masked: bool) -> ContactPublic:
    """A stored contact (an order's, a customer's address), masked unless `masked` is False."""
    name, phone, detail = (str(address.get(k, "")) for k in ("name", "phone", "detail"))
    if masked:
        name, phone, detail = mask_name(name), mask_phone(phone), mask_detail(detail)
    return ContactPublic(
        name=name,
        phone=phone,
        region_code=str(address.get("region_code", "")),
        detail=detail,
        masked=masked,
    )


async def order_public(
    session: AsyncSession, order_no: str, *, unmasked: bool = False
) -> OrderPublic:
    """The order; its contact masked unless `unmasked` (the storefront that sent it).

    The view takes several statements (the order, its lines, packages, refunds owed, timeline)
    and a projection write may commit between them: a refund refused writes the refund owed and
    its timeline step together, a refund made moves the order's figures and the refund owed
    together. The statements read one snapshot (REPEATABLE READ), so each such write is wholly
    in the view or not at all: never a refusal without its step, nor a refund neither owed nor
    made."""
    await session.commit()  # what the request wrote (its audit row) is in; the snapshot follows
    await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    try:
        return await _read_order(session, order_no, unmasked=unmasked)
    finally:
        await session.commit()  # a read-only snapshot: ending it releases the connection


async def _order_row(session: AsyncSession, order_no: str) -> Order:
    order = await session.get(Order, order_no, populate_existing=True)
    if order is None:
        raise not_found("order", order_no)
    return order


async def _read_order(session: AsyncSession, order_no: str, *, unmasked: bool) -> OrderPublic:
    order = await _order_row(session, order_no)
    lines = await session.scalars(
        select(OrderLine).where(OrderLine.order_no == order_no).order_by(OrderLine.line_no)
    )
    packages = list(
        await session.scalars(
            select(Package)
            .where(Package.order_no == order_no)
            .order_by(Package.package_no)
            .execution_options(populate_existing=True)
        )
    )
    contents = await session.scalars(
        select(PackageLine)
        .where(PackageLine.package_no.in_([p.package_no for p in packages]))
        .order_by(PackageLine.package_no, PackageLine.line_no)
    )
    by_package: dict[str, list[PackageLinePublic]] = {}
    for content in contents:
        by_package.setdefault(content.package_no, []).append(
            PackageLinePublic.model_validate(content)
        )
    events = await session.scalars(
        select(OrderEvent)
        .where(OrderEvent.order_no == order_no)
        .order_by(OrderEvent.at, OrderEvent.seq, OrderEvent.id)
    )
    owed = [
        PendingRefundPublic.model_validate(row)
        for row in await session.scalars(
            select(OrderRefund)
            .where(OrderRefund.order_no == order_no, OrderRefund.status != "done")
            .order_by(OrderRefund.refund_no)
            .execution_options(populate_existing=True)
        )
    ]
    return OrderPublic(
        order_no=order.order_no,
        status=order.status,
        customer_id=order.customer_id,
        goods_list_fen=order.goods_list_fen,
        discount_fen=order.discount_fen,
        freight_fen=order.freight_fen,
        payable_fen=order.payable_fen,
        points_used=int(order.pricing.get("points_used", 0)),
        paid_fen=order.paid_fen,
        refunded_fen=order.refunded_fen,
        payment_deadline=order.payment_deadline,
        under_review=order.under_review,
        escalated=order.escalated,
        lines=[OrderLinePublic.model_validate(line) for line in lines],
        packages=[
            PackagePublic(
                package_no=p.package_no,
                warehouse_id=p.warehouse_id,
                status=p.status,
                waybill_no=p.waybill_no,
                tracking_no=p.tracking_no,
                lines=by_package.get(p.package_no, []),
            )
            for p in packages
        ],
        timeline=[TimelinePublic.model_validate(e) for e in events],
        refund_pending_fen=sum(r.amount_fen for r in owed),
        pending_refunds=owed,
        contact=contact_of(order, masked=not unmasked),
    )
