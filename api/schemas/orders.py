"""Order and package schemas of the HTTP API (separate from the workflow contracts)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from api.pagination import Page
from api.schemas.common import Public, Reason, RegionCode, Strict
from api.schemas.types import BigId, Id, PositiveInt

Key = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class OrderLineIn(Strict):
    sku_id: Id
    quantity: Annotated[int, Field(gt=0, le=999, strict=True)]


class AddressIn(Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    phone: Annotated[str, StringConstraints(pattern=r"^[0-9+\-]{5,20}$")]
    region_code: RegionCode
    detail: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class OrderCreate(Strict):
    # The storefront's own key for this order: sending it again returns the same order.
    client_order_key: Key
    customer_id: BigId
    lines: Annotated[list[OrderLineIn], Field(min_length=1, max_length=100)]
    coupon_code: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = None
    address: AddressIn
    # Points to spend (DESIGN §6.7): at most the balance; more than the order's cap spends the cap.
    points: PositiveInt | None = None
    # A flash sale (秒杀) to buy in: one line, its SKU, at its price, within its limit; a sold-out
    # or over-limit buyer is a 409 before any order is started.
    flash_sale_id: Id | None = None
    # A presale (预售) to buy in: one line, its SKU, at its price; a deposit now, the balance in
    # its window (DESIGN §6.8).
    presale_id: Id | None = None


class AllocationPublic(Public):
    source: str
    source_id: int
    amount_fen: int


class OrderLinePublic(Public):
    line_no: int
    sku_id: int
    quantity: int
    unit_price_fen: int
    list_amount_fen: int
    discount_fen: int
    paid_fen: int
    is_gift: bool
    allocations: list[AllocationPublic]


class PackageLinePublic(Public):
    line_no: int
    sku_id: int
    quantity: int


class PackagePublic(Public):
    package_no: str
    warehouse_id: int
    status: str = "pending"
    waybill_no: str | None = None
    tracking_no: str | None = None
    lines: list[PackageLinePublic] = []


class TimelinePublic(Public):
    at: datetime
    step: str
    actor_kind: str
    actor_name: str
    actor_role: str
    package_no: str | None
    detail: dict[str, object]


class PendingRefundPublic(Public):
    """A refund the order owes and has not made yet: `pending` (going to the provider) or
    `refused` by the provider (staff retry it: POST …/retry-refund)."""

    refund_no: str
    amount_fen: int
    status: Literal["pending", "refused"]
    reason: str
    refused_reason: str | None = None


class ContactPublic(Public):
    """The customer's shipping contact; staff see it masked until they reveal it (audited)."""

    name: str
    phone: str
    region_code: str
    detail: str
    masked: bool


class OrderPublic(Public):
    order_no: str
    status: str
    customer_id: int
    goods_list_fen: int
    discount_fen: int
    freight_fen: int
    payable_fen: int
    points_used: int = 0  # points spent at checkout (a discount of the lines, DESIGN §6.7)
    paid_fen: int = 0
    refunded_fen: int = 0
    payment_deadline: datetime
    under_review: bool
    escalated: bool = False
    lines: list[OrderLinePublic]
    packages: list[PackagePublic]
    timeline: list[TimelinePublic] = []
    refund_pending_fen: int = 0  # Σ pending_refunds: owed back, not refunded yet
    pending_refunds: list[PendingRefundPublic] = []
    contact: ContactPublic | None = None


class OrderSummary(Public):
    order_no: str
    status: str
    customer_id: int
    payable_fen: int
    paid_fen: int
    refunded_fen: int
    escalated: bool
    under_review: bool
    placed_at: datetime


class PaymentPublic(Public):
    order_no: str
    payment_id: str
    pay_token: str
    amount_fen: int
    currency: str


class CancelIn(Strict):
    reason: Reason = "customer request"


class RetryRefundIn(Strict):
    reason: Annotated[str, StringConstraints(max_length=500)] = ""


class ReviewIn(Strict):
    approve: bool
    reason: Annotated[str, StringConstraints(max_length=500)] = ""


class PackIn(Strict):
    measured_weight_g: Annotated[int, Field(gt=0, le=1_000_000, strict=True)]


class OverrideIn(Strict):
    reason: Reason


class ExceptionDecisionIn(Strict):
    decision: Literal["reship", "refund"]
    reason: Reason


class TrackingEventPublic(Public):
    code: str
    description: str
    location: str
    occurred_at: datetime


class ShipmentPublic(Public):
    package_no: str
    order_no: str
    status: str
    expected_weight_g: int
    measured_weight_g: int | None
    waybill_no: str | None
    tracking_no: str | None
    hold_reason: str | None
    tracking_events: list[TrackingEventPublic]
    waybill_cancelled_at: datetime | None = None  # its waybill voided at the carrier


OrdersPublic = Page[OrderSummary]
