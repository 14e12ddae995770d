"""Reading an order from its projection: lines with allocations, packages, timeline."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Principal, session_engine
from api.errors import Problem, invalid, not_found
from api.schemas.orders import ContactPublic, OrderPublic
from core.db import Alone
from models.db import Order
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
        "unknown_customer",
        customer_id=customer_id,
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
    session: AsyncSession,
    order_no: str,
    *,
    unmasked: bool = False,
    visible_to: Principal | None = None,
) -> OrderPublic:
    """The order; its contact masked unless `unmasked` (the storefront that sent it). With
    `visible_to`, 404 unless that principal may see it (storefronts: the orders they placed).

    The view is one statement (`ORDER_VIEW`: the order, its lines, packages, refunds owed and
    timeline aggregated to JSON by PostgreSQL), run alone on a pooled connection: no BEGIN and
    COMMIT, no ORM rows. It was six statements in a REPEATABLE READ transaction, eight round
    trips and a sixth of the API's CPU while orders were placed. One statement reads one
    snapshot, so a projection write that changes several parts together (a refund refused: the
    refund owed and its timeline step; a refund made: the order's figures and the refund owed)
    is wholly in the view or not at all."""
    await session.commit()  # what the request wrote (its audit row) is in; the connection back
    try:
        row = await ORDER_VIEW.one(session_engine(session), {"order_no": order_no})
    except LookupError:
        raise not_found("order", order_no) from None
    if visible_to and "storefront" in visible_to.roles and row["api_key_id"] != visible_to.id:
        raise not_found("order", order_no)
    view = OrderPublic.model_validate_json(row["view"])
    view.refund_pending_fen = sum(r.amount_fen for r in view.pending_refunds)
    view.contact = contact_from(json.loads(row["address"]), masked=not unmasked)
    return view


# OrderPublic as JSON, but for `refund_pending_fen` (the sum of `pending_refunds`) and the
# contact (masked in Python: models/domain/privacy.py). Each list in the order the view shows;
# times in UTC with microseconds and Z, as the API writes datetimes, whatever the TimeZone.
ORDER_VIEW = Alone(
    text("""
SELECT o.api_key_id, o.address::text AS address, json_build_object(
  'order_no', o.order_no, 'status', o.status, 'customer_id', o.customer_id,
  'goods_list_fen', o.goods_list_fen, 'discount_fen', o.discount_fen,
  'freight_fen', o.freight_fen, 'payable_fen', o.payable_fen,
  'points_used', COALESCE(o.pricing -> 'points_used', '0'::jsonb),
  'paid_fen', o.paid_fen, 'refunded_fen', o.refunded_fen,
  'payment_deadline', to_char(o.payment_deadline AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
  'under_review', o.under_review, 'escalated', o.escalated,
  'lines', (SELECT COALESCE(json_agg(json_build_object(
      'line_no', l.line_no, 'sku_id', l.sku_id, 'quantity', l.quantity,
      'unit_price_fen', l.unit_price_fen, 'list_amount_fen', l.list_amount_fen,
      'discount_fen', l.discount_fen, 'paid_fen', l.paid_fen, 'is_gift', l.is_gift,
      'allocations', l.allocations) ORDER BY l.line_no), '[]'::json)
    FROM order_lines l WHERE l.order_no = o.order_no),
  'packages', (SELECT COALESCE(json_agg(json_build_object(
      'package_no', p.package_no, 'warehouse_id', p.warehouse_id, 'status', p.status,
      'waybill_no', p.waybill_no, 'tracking_no', p.tracking_no,
      'lines', (SELECT COALESCE(json_agg(json_build_object(
          'line_no', pl.line_no, 'sku_id', pl.sku_id, 'quantity', pl.quantity)
          ORDER BY pl.line_no), '[]'::json)
        FROM package_lines pl WHERE pl.package_no = p.package_no)
    ) ORDER BY p.package_no), '[]'::json)
    FROM packages p WHERE p.order_no = o.order_no),
  'timeline', (SELECT COALESCE(json_agg(json_build_object(
      'at', to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      'step', e.step, 'actor_kind', e.actor_kind,
      'actor_name', e.actor_name, 'actor_role', e.actor_role, 'package_no', e.package_no,
      'detail', e.detail) ORDER BY e.at, e.seq, e.id), '[]'::json)
    FROM order_events e WHERE e.order_no = o.order_no),
  'pending_refunds', (SELECT COALESCE(json_agg(json_build_object(
      'refund_no', r.refund_no, 'amount_fen', r.amount_fen, 'status', r.status,
      'reason', r.reason, 'refused_reason', r.refused_reason) ORDER BY r.refund_no), '[]'::json)
    FROM order_refunds r WHERE r.order_no = o.order_no AND r.status <> 'done')
)::text AS view
FROM orders o WHERE o.order_no = :order_no""")
)
