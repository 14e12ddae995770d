"""Stock counts (盘点): a count of some locations of one warehouse, its counted lines, and the
surplus/deficit it booked once a warehouse manager approved it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Sequence,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.db.base import Base

STOCK_COUNT_SEQUENCE = Sequence("stock_count_seq", metadata=Base.metadata)


class StockCount(Base):
    __tablename__ = "stock_counts"
    __table_args__ = (
        CheckConstraint("status IN ('counting','approved','cancelled')", name="status_known"),
    )

    count_no: Mapped[str] = mapped_column(String(32), primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="counting")
    created_by: Mapped[str] = mapped_column(String(120))
    decided_by: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StockCountLocation(Base):
    """A location under count: not picked from while its count is open."""

    __tablename__ = "stock_count_locations"

    count_no: Mapped[str] = mapped_column(
        ForeignKey("stock_counts.count_no", ondelete="CASCADE"), primary_key=True
    )
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), primary_key=True)


class StockCountEntry(Base):
    """What was counted of one SKU and batch at one location (the last entry per key counts)."""

    __tablename__ = "stock_count_entries"
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        UniqueConstraint("count_no", "entry_key"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count_no: Mapped[str] = mapped_column(
        ForeignKey("stock_counts.count_no", ondelete="CASCADE"), index=True
    )
    entry_key: Mapped[str] = mapped_column(String(64))  # the device's: a resent scan counts once
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    batch_no: Mapped[str] = mapped_column(String(64), default="")
    quantity: Mapped[int]
    counted_by: Mapped[str] = mapped_column(String(120))
    counted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
