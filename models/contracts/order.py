"""Payloads of the order lifecycle: OrderWorkflow's input, updates, signals, query, and the
activities it calls (DESIGN §6.1)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from models.contracts.group_buy import GroupLink
from models.contracts.presale import PresaleStep, PresaleTerms
from models.contracts.pricing import AppliedDiscount, CartLine, PricedLine

OrderStatus = Literal[
    "placing",
    "rejected",
    "awaiting_payment",
    "paid",
    "fulfilling",
    "delivered",
    "completed",
    "closed",
    "cancelling",
    "cancelled",
]
Fen = Annotated[int, Field(ge=0)]


class OrderTimings(BaseModel):
    """Every duration a business rule uses, from configuration (DESIGN §4)."""

    payment_window: timedelta = timedelta(minutes=30)
    risk_review_sla: timedelta = timedelta(hours=2)
    auto_confirm_after: timedelta = timedelta(days=7)
    after_sale_window: timedelta = timedelta(days=15)
    after_sale_approval_sla: timedelta = timedelta(hours=48)  # undecided → approved
    after_sale_return_window: timedelta = timedelta(days=7)  # to ship the goods back
    # After a cancel the workflow stays open this long to refund payments that arrive late.
    late_payment_grace: timedelta = timedelta(days=1)
    tracking_poll_interval: timedelta = timedelta(hours=6)
    # A short-picked package's missing units wait this long for stock in their warehouse
    # (tried again every `backorder_retry`) before they are refunded.
    backorder_for: timedelta = timedelta(days=2)
    backorder_retry: timedelta = timedelta(hours=6)
    # A flash sale's order (秒杀, DESIGN §6.8) has a shorter time to pay: unpaid, its units go
    # back to the campaign for the next buyer.
    flash_payment_window: timedelta = timedelta(minutes=10)


class OrderPolicy(BaseModel):
    risk_review_over_fen: int | None = 500_000
    weight_tolerance_g: int = 20
    weight_tolerance_pct: int = 5
    box_tare_g: int = 0
    carrier_code: str = "SF"
    currency: str = "CNY"
    short_pick_policy: Literal["backorder", "cancel_line"] = "backorder"


class ShippingAddress(BaseModel):
    name: str
    phone: str
    region_code: str
    detail: str


class Actor(BaseModel):
    kind: Literal["storefront", "user", "device", "system", "provider"]
    name: str
    role: str = ""


class OrderInput(BaseModel):
    order_no: str
    timings: OrderTimings = Field(default_factory=OrderTimings)
    policy: OrderPolicy = Field(default_factory=OrderPolicy)


class PlaceOrderRequest(BaseModel):
    order_no: str
    storefront: str
    api_key_id: int
    customer_id: int
    lines: list[CartLine]
    coupon_code: str | None = None
    address: ShippingAddress
    points: int | None = None  # points the customer spends at checkout (DESIGN §6.7)
    # The flash sale the API's gate took this order's units from (DESIGN §6.8).
    flash_sale_id: int | None = None
    # A group-buy member's order (DESIGN §6.8): priced at the group price, ships once the
    # group completes, cancelled and refunded when it fails.
    group: GroupLink | None = None
    # The presale (预售) the order buys in: its price, a deposit now and the balance later.
    presale_id: int | None = None


class PackageLine(BaseModel):
    line_no: int
    sku_id: int
    quantity: int


class PackagePlan(BaseModel):
    package_no: str
    warehouse_id: int
    lines: list[PackageLine]
    weight_g: int = 0  # Σ SKU weight × quantity, before the box


class Quote(BaseModel):
    """What the quote activity computed: priced lines and the warehouse split."""

    lines: list[PricedLine]
    discounts: list[AppliedDiscount]
    coupon_id: int | None
    goods_list_fen: Fen
    discount_fen: Fen
    goods_paid_fen: Fen
    freight_fen: Fen
    payable_fen: Fen
    packages: list[PackagePlan]
    points_used: int = 0  # points spent at checkout (DESIGN §6.7), booked with the order


class QuoteRequest(BaseModel):
    order_no: str
    customer_id: int  # the storefront's customer key
    # The storefront (its API key) whose customer it is; None in quotes of workflows started
    # before quotes named it.
    api_key_id: int | None = None
    lines: list[CartLine]
    coupon_code: str | None
    region_code: str
    at: datetime
    points: int | None = None
    flash_sale_id: int | None = None  # the line of its SKU is priced at the claimed flash price
    group: GroupLink | None = None  # the offer's SKU sold at the group price
    presale_id: int | None = None  # the line of its SKU is priced at the presale's price


class ReserveRequest(BaseModel):
    order_no: str
    region_code: str
    lines: list[PricedLine]
    flash_sale_id: int | None = None  # units come from the campaign's stock, not sellable


class Reservation(BaseModel):
    packages: list[PackagePlan]


class RecordOrderRequest(BaseModel):
    order_no: str
    placed: PlaceOrderRequest
    quote: Quote
    packages: list[PackagePlan]
    payment_deadline: datetime
    placed_at: datetime
    under_review: bool


class RecordPackageRequest(BaseModel):
    order_no: str
    package: PackagePlan


class PlacedOrder(BaseModel):
    """The synchronous answer to POST /v1/orders."""

    order_no: str
    status: OrderStatus
    quote: Quote
    packages: list[PackagePlan]
    payment_deadline: datetime
    under_review: bool
    # A presale's order: its first payment (by the deadline) is the deposit, the balance follows.
    presale: PresaleTerms | None = None


class PaymentRequest(BaseModel):
    actor: Actor


class OpenPaymentRequest(BaseModel):
    order_no: str
    amount_fen: int
    currency: str
    # The merchant order number at the provider when not the order's own (a presale's balance).
    payment_key: str | None = None


class PaymentSession(BaseModel):
    order_no: str
    payment_id: str
    pay_token: str
    amount_fen: int
    currency: str


class PaymentReceived(BaseModel):
    provider: str
    transaction_id: str
    payment_id: str
    amount_fen: int
    currency: str
    paid_at: datetime


class RecordPaymentRequest(BaseModel):
    order_no: str
    payment: PaymentReceived
    accepted: bool
    # The workflow's time of taking it: the timeline step sorts before the steps that follow it
    # in the same workflow task (the database's clock ran later than the workflow's).
    at: datetime | None = None


class ConfirmPaymentRequest(BaseModel):
    order_no: str
    payment: PaymentReceived


class PaymentConfirmation(BaseModel):
    """Whether the provider's books hold the payment a callback reported: its transaction, for
    that order, of that amount and currency. Money they do not hold is a difference for
    finance, never money of the order."""

    vouched: bool
    detail: str = ""
    recorded: bool = False  # the transaction is in our books already (a copy of its callback)


class RefundRequest(BaseModel):
    order_no: str
    refund_no: str
    payment_id: str
    transaction_id: str
    amount_fen: int
    reason: str


class RefundResult(BaseModel):
    refund_no: str
    provider_refund_id: str
    amount_fen: int


class CancelRequest(BaseModel):
    actor: Actor
    reason: str


class RiskDecision(BaseModel):
    actor: Actor
    approve: bool
    reason: str = ""


class ConfirmReceipt(BaseModel):
    actor: Actor
    # The packages the order's view shows delivered while the order still says fulfilling (it
    # has not yet heard from the last one): the confirmation is taken and waits for it.
    delivered_packages: list[str] = Field(default_factory=list)


class ReleaseRequest(BaseModel):
    order_no: str
    reason: str
    package_no: str | None = None  # None: every held reservation of the order


class ReservePackageRequest(BaseModel):
    """A replacement package (reship) from one warehouse."""

    order_no: str
    package_no: str
    warehouse_id: int
    lines: list[PackageLine]


class RefundState(BaseModel):
    """A refund the order owes and has not made yet, as the order shows it (`order_refunds`)."""

    refund_no: str
    amount_fen: int
    status: Literal["pending", "refused"]
    reason: str
    refused_reason: str | None = None


class StatusChange(BaseModel):
    order_no: str
    status: OrderStatus
    step: str
    # Unique per order and step occurrence: a retried activity writes its timeline row once.
    key: str
    # The workflow's step counter: the projection keeps the status of the highest one.
    seq: int = 0
    at: datetime | None = None  # the workflow's time of the step (orders the timeline)
    actor: Actor
    detail: dict[str, str | int | bool | None] = Field(default_factory=dict)
    escalated: bool | None = None
    refunds: list[RefundState] = Field(default_factory=list)  # refunds announced at this step
    # A presale order's stage that this step reaches (deposit or balance paid), written with the
    # step: whoever reads the order paid finds the presale's counts saying so too.
    presale: PresaleStep | None = None


class TimelineEntry(BaseModel):
    at: datetime
    step: str
    actor: Actor
    detail: dict[str, str | int | bool | None] = Field(default_factory=dict)


class PackageView(BaseModel):
    package_no: str
    warehouse_id: int
    status: str
    waybill_no: str | None = None
    tracking_no: str | None = None


class OrderView(BaseModel):
    order_no: str
    status: OrderStatus
    escalated: bool
    under_review: bool
    payable_fen: int
    paid_fen: int
    refunded_fen: int
    payment_deadline: datetime | None
    packages: list[PackageView]
    timeline: list[TimelineEntry]
    # Refunds owed and not made yet: still going to the provider, or refused by it.
    pending_refunds: list[RefundState] = Field(default_factory=list)


class LatePaymentInput(BaseModel):
    """A payment that came after its order's process had ended (LatePaymentRefundWorkflow)."""

    order_no: str
    payment: PaymentReceived


class LatePaymentView(BaseModel):
    order_no: str
    transaction_id: str
    refund_no: str
    amount_fen: int
    # confirming → duplicate (a payment we have recorded already) | difference (the provider
    # does not hold it) | refunding → refunded, or
    # refused (until staff retry it) → refunding …
    status: Literal["confirming", "duplicate", "difference", "refunding", "refused", "refunded"]
    refused_reason: str | None = None
