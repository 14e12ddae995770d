"""Presales (预售, DESIGN §6.8): the campaign's published terms and each order's stage in it.

A presale takes deposits from `starts_at` until its balance window opens (or staff stop it);
its orders pay the balance between `balance_starts_at` and `balance_ends_at`. The rules are
percent of the deposit: `forfeit_percent` kept when the balance is not paid in time,
`refund_percent` given back on a cancel before the window opens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.db.base import Base, Timestamped

PRESALE_STATUSES = ("active", "stopped")
PRESALE_ORDER_STAGES = ("placed", "deposit_paid", "balance_paid", "forfeited", "cancelled")


class Presale(Timestamped, Base):
    __tablename__ = "presales"
    __table_args__ = (
        CheckConstraint("status IN ('active','stopped')", name="status_known"),
        CheckConstraint("price_fen > 0 AND deposit_fen > 0", name="amounts_positive"),
        CheckConstraint("deposit_fen < price_fen", name="deposit_below_price"),
        CheckConstraint(
            "starts_at < balance_starts_at AND balance_starts_at < balance_ends_at",
            name="times_ordered",
        ),
        CheckConstraint(
            "forfeit_percent BETWEEN 0 AND 100 AND refund_percent BETWEEN 0 AND 100",
            name="rules_in_percent",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    price_fen: Mapped[int] = mapped_column(BigInteger)
    deposit_fen: Mapped[int] = mapped_column(BigInteger)  # per unit
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    balance_starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    balance_ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    forfeit_percent: Mapped[int]
    refund_percent: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_by: Mapped[str] = mapped_column(String(100))
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stopped_by: Mapped[str | None] = mapped_column(String(100))
    stop_reason: Mapped[str | None] = mapped_column(String(200))


class PresaleOrder(Base):
    """An order of a presale and how far it got: its deposit, its balance, what was forfeited."""

    __tablename__ = "presale_orders"
    __table_args__ = (
        CheckConstraint(
            "stage IN ('placed','deposit_paid','balance_paid','forfeited','cancelled')",
            name="stage_known",
        ),
        Index("ix_presale_orders_presale", "presale_id", "stage"),
    )

    order_no: Mapped[str] = mapped_column(String(24), primary_key=True)
    presale_id: Mapped[int] = mapped_column(ForeignKey("presales.id"))
    quantity: Mapped[int]
    deposit_fen: Mapped[int] = mapped_column(BigInteger)  # owed for the whole order
    stage: Mapped[str] = mapped_column(String(16), default="placed")
    deposit_paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    balance_paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    forfeited_fen: Mapped[int] = mapped_column(BigInteger, default=0)
