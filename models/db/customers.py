"""Customers as records (DESIGN §6.7): upserted by their storefront under its own customer key,
segments by rules over orders, and coupons issued to a segment by a batch (CouponBatchWorkflow).

A customer is (storefront, customer key): `customers.api_key_id` is the storefront's API key and
`customer_key` the number the storefront names its customer by, the `customer_id` its orders
carry (so an order names the customer `(orders.api_key_id, orders.customer_id)`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.db.base import Base, Timestamped


class Customer(Timestamped, Base):
    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("api_key_id", "customer_key"),
        Index("ix_customers_phone", "phone"),
        Index("ix_customers_name", "name"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    customer_key: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20))
    # The customer's addresses as the storefront sent them: [{name, phone, region_code, detail}].
    addresses: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    channel: Mapped[str] = mapped_column(String(32))  # where they registered (app, mini program…)


class Segment(Timestamped, Base):
    """Customers chosen by rules over their orders, all of which must hold (`rules` in the shape
    of models.domain.segments.Rule)."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    # Archived: no longer listed or issued to, its rules no longer hold a member level in use;
    # kept with its batches (the coupons they issued name it).
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CouponBatch(Timestamped, Base):
    """A coupon issued to every customer of a segment as of `as_of`, by the workflow
    `coupon-batch-<id>`; `issued` and `cursor` move with each chunk, in its transaction."""

    __tablename__ = "coupon_batches"
    __table_args__ = (
        CheckConstraint("status IN ('running','done','failed')", name="status_known"),
        CheckConstraint("issued >= 0", name="issued_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id"), index=True)
    coupon_id: Mapped[int] = mapped_column(ForeignKey("coupons.id"))
    status: Mapped[str] = mapped_column(String(10), default="running")
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The segment's rules when the batch began: it issues to them whatever the segment becomes.
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    total: Mapped[int]  # the segment's customers as of `as_of`, counted when the batch began
    issued: Mapped[int] = mapped_column(default=0)
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)  # the last customer id handled
    created_by: Mapped[str] = mapped_column(String(120))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The Idempotency-Key it was started with: the same key starts it once (a double submit)
    idempotency_key: Mapped[str | None] = mapped_column(String(100), unique=True)


class CustomerCoupon(Base):
    """A coupon given to a customer, once per (batch, customer) whatever the retries. A coupon
    issued to customers is theirs only: an order uses one unused issued coupon
    (`used_order_no`), given back (unused again) when the order is cancelled or refunded with
    its coupon returned (services/orders.return_coupon)."""

    __tablename__ = "customer_coupons"
    __table_args__ = (
        UniqueConstraint("batch_id", "customer_id"),
        Index("ix_customer_coupons_coupon_customer", "coupon_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("coupon_batches.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    coupon_id: Mapped[int] = mapped_column(ForeignKey("coupons.id"))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    used_order_no: Mapped[str | None] = mapped_column(String(24), index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
