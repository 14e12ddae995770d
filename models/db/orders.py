"""Orders, their lines and packages, the timeline, and stock reservations per order line.

Rows here are written by activities (the projection the API lists from); the live state of a
running order is its workflow."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Sequence,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.db.base import Base

ORDER_NO_SEQUENCE = Sequence("order_no_seq", metadata=Base.metadata)


class OrderNumber(Base):
    """A storefront's client order key → our order number: the same key, the same order."""

    __tablename__ = "order_numbers"
    __table_args__ = (UniqueConstraint("api_key_id", "client_order_key"),)

    order_no: Mapped[str] = mapped_column(String(24), primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    client_order_key: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_status_placed", "status", "placed_at"),
        # The dashboard's flags: few rows among many, counted without reading the table.
        Index("ix_orders_escalated", "placed_at", postgresql_where=text("escalated")),
        Index("ix_orders_under_review", "placed_at", postgresql_where=text("under_review")),
        Index("ix_orders_payable", "payable_fen", "order_no"),  # the list sorted by amount
        # A customer's orders (models/db/customers.py): the customer page, segment rules.
        Index("ix_orders_customer", "api_key_id", "customer_id", "placed_at"),
        CheckConstraint("paid_fen >= 0 AND refunded_fen >= 0", name="money_not_negative"),
    )

    order_no: Mapped[str] = mapped_column(String(24), primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    status: Mapped[str] = mapped_column(String(20))
    # The workflow's step number of the status shown: concurrent writes never move it back.
    status_seq: Mapped[int] = mapped_column(default=0)
    region_code: Mapped[str] = mapped_column(String(6))
    address: Mapped[dict[str, Any]] = mapped_column(JSONB)
    goods_list_fen: Mapped[int]
    discount_fen: Mapped[int]
    freight_fen: Mapped[int]
    payable_fen: Mapped[int]
    paid_fen: Mapped[int] = mapped_column(default=0)
    refunded_fen: Mapped[int] = mapped_column(default=0)
    coupon_id: Mapped[int | None]
    pricing: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    payment_deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    under_review: Mapped[bool] = mapped_column(default=False)
    escalated: Mapped[bool] = mapped_column(default=False)
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    # What kind of cancel it was (models/domain/cancel_kinds.py), for the orders report.
    cancel_kind: Mapped[str | None] = mapped_column(String(20))
    # Set by the timeline trigger (migration 0052): the payment step, the first handover.
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handed_over_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class OrderLine(Base):
    __tablename__ = "order_lines"
    # With the order number: "orders holding this SKU" is read from the index alone.
    __table_args__ = (Index("ix_order_lines_sku", "sku_id", "order_no"),)

    order_no: Mapped[str] = mapped_column(
        ForeignKey("orders.order_no", ondelete="CASCADE"), primary_key=True
    )
    line_no: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    quantity: Mapped[int]
    unit_price_fen: Mapped[int]
    list_amount_fen: Mapped[int]
    discount_fen: Mapped[int]
    paid_fen: Mapped[int]
    is_gift: Mapped[bool] = mapped_column(default=False)
    # Per-discount allocations in fen; refunds are computed from these (DESIGN §7).
    allocations: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)


class Package(Base):
    __tablename__ = "packages"
    __table_args__ = (
        Index("ix_packages_status_warehouse", "status", "warehouse_id"),
        # With the order number: "orders shipping from this warehouse" from the index alone.
        Index("ix_packages_warehouse_order", "warehouse_id", "order_no"),
        Index("ix_packages_updated", "updated_at", "package_no"),  # the packages list's order
    )

    package_no: Mapped[str] = mapped_column(String(28), primary_key=True)
    order_no: Mapped[str] = mapped_column(ForeignKey("orders.order_no"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    status: Mapped[str] = mapped_column(String(20))
    status_seq: Mapped[int] = mapped_column(default=0)
    carrier_code: Mapped[str] = mapped_column(String(32))
    expected_weight_g: Mapped[int]
    measured_weight_g: Mapped[int | None]
    waybill_no: Mapped[str | None] = mapped_column(String(64))
    tracking_no: Mapped[str | None] = mapped_column(String(64), unique=True)
    hold_reason: Mapped[str | None] = mapped_column(String(500))
    tracking_events: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    # A packed package cancelled before handover: when its waybill was voided at the carrier.
    waybill_cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class PackageLine(Base):
    __tablename__ = "package_lines"

    package_no: Mapped[str] = mapped_column(
        ForeignKey("packages.package_no", ondelete="CASCADE"), primary_key=True
    )
    line_no: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    quantity: Mapped[int]


class OrderEvent(Base):
    """The order's timeline: every step with actor and time."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_no: Mapped[str] = mapped_column(String(24), index=True)
    package_no: Mapped[str | None] = mapped_column(String(28))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    step: Mapped[str] = mapped_column(String(40))
    # The writing workflow's step number: orders steps recorded at the same time (one task).
    seq: Mapped[int] = mapped_column(default=0, server_default="0")
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_name: Mapped[str] = mapped_column(String(100))
    # Every role the actor holds, comma-joined (built-in and composed ones: room for many).
    actor_role: Mapped[str] = mapped_column(String(400), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # A retried activity writes its timeline row once.
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)


class Reservation(Base):
    """Units of one order line held in one warehouse (DESIGN §5)."""

    __tablename__ = "reservations"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("status IN ('held','released','consumed')", name="status_known"),
    )

    # A package ships from one warehouse and holds each order line at most once.
    package_no: Mapped[str] = mapped_column(String(28), primary_key=True)
    line_no: Mapped[int] = mapped_column(primary_key=True)
    order_no: Mapped[str] = mapped_column(String(24), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    quantity: Mapped[int]
    status: Mapped[str] = mapped_column(String(10), default="held")
