"""After-sales (DESIGN §6.3): the projection AfterSaleWorkflow writes at every step, one row per
request and its lines (the units and the amounts quoted when it was accepted)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Sequence, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.db.base import Base

AFTER_SALE_SEQUENCE = Sequence("after_sale_seq", metadata=Base.metadata)


class AfterSale(Base):
    __tablename__ = "after_sales"
    __table_args__ = (
        CheckConstraint(
            "type IN ('refund_only','return_and_refund','exchange')", name="type_known"
        ),
        CheckConstraint(
            "status IN ('requested','approved','awaiting_return','returning','received',"
            "'refunding','refunded','exchanging','exchanged','rejected','withdrawn','closed')",
            name="status_known",
        ),
        CheckConstraint("refund_fen >= 0", name="refund_not_negative"),
        Index("ix_after_sales_status_progress", "status", "last_progress_at"),
    )

    as_no: Mapped[str] = mapped_column(String(24), primary_key=True)
    order_no: Mapped[str] = mapped_column(ForeignKey("orders.order_no"), index=True)
    type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(16))
    status_seq: Mapped[int] = mapped_column(default=0)
    reason: Mapped[str] = mapped_column(String(500))
    evidence_urls: Mapped[list[str]] = mapped_column(JSONB, default=list)
    goods_fen: Mapped[int]
    freight_fen: Mapped[int]
    refund_fen: Mapped[int]
    return_coupons: Mapped[bool] = mapped_column(default=False)
    requested_by: Mapped[str] = mapped_column(String(120))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sla_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    refund_no: Mapped[str | None] = mapped_column(String(32))
    return_warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"))
    return_carrier: Mapped[str | None] = mapped_column(String(32))
    return_tracking_no: Mapped[str | None] = mapped_column(String(64))
    # Every step moves it: staff see what has not moved for days ("stuck").
    last_progress_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class AfterSaleLine(Base):
    __tablename__ = "after_sale_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
    )

    as_no: Mapped[str] = mapped_column(
        ForeignKey("after_sales.as_no", ondelete="CASCADE"), primary_key=True
    )
    line_no: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    quantity: Mapped[int]
    amount_fen: Mapped[int]
