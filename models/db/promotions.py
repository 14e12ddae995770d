"""Promotions and coupons as priced by models.domain.pricing, and coupon redemptions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.db.base import Base, Timestamped


class Promotion(Timestamped, Base):
    """An item discount, a spend-X-save-Y (满减) or a gift (满赠); `rule` holds its terms in the
    shape of the matching models.contracts.pricing type."""

    __tablename__ = "promotions"
    __table_args__ = (
        CheckConstraint("kind IN ('item_discount','spend_tier','gift')", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    rule: Mapped[dict[str, Any]] = mapped_column(JSONB)
    valid_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    active: Mapped[bool] = mapped_column(default=True)


class Coupon(Timestamped, Base):
    __tablename__ = "coupons"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    # The terms in the shape of models.contracts.pricing.CouponOffer (without usage).
    rule: Mapped[dict[str, Any]] = mapped_column(JSONB)
    active: Mapped[bool] = mapped_column(default=True)


class CouponRedemption(Base):
    """A coupon used on an order; returned (status 'returned') when the order is cancelled.
    `customer_id` is the customer record's id (customers.id), not the storefront's key."""

    __tablename__ = "coupon_redemptions"
    __table_args__ = (CheckConstraint("status IN ('used','returned')", name="status_known"),)

    coupon_id: Mapped[int] = mapped_column(ForeignKey("coupons.id"), primary_key=True)
    order_no: Mapped[str] = mapped_column(String(24), primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    status: Mapped[str] = mapped_column(String(10), default="used")


class TrackingRange(Timestamped, Base):
    """Tracking numbers bought in advance from a carrier: prefix + a number in [next, last]."""

    __tablename__ = "tracking_ranges"
    __table_args__ = (CheckConstraint("next_number <= last_number + 1", name="within_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    carrier_id: Mapped[int] = mapped_column(ForeignKey("carriers.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(8))
    next_number: Mapped[int]
    last_number: Mapped[int]
    low_watermark: Mapped[int] = mapped_column(default=100)


class TrackingAllocation(Base):
    """A tracking number given to a package: exactly once per package."""

    __tablename__ = "tracking_allocations"

    package_no: Mapped[str] = mapped_column(String(28), primary_key=True)
    carrier_id: Mapped[int] = mapped_column(ForeignKey("carriers.id"))
    tracking_no: Mapped[str] = mapped_column(String(40), unique=True)
