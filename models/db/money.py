"""Payments, refunds and the money ledger: per order, paid − refunded = Σ ledger; and the
provider's refund callbacks, which confirm our refunds (or show finance where they differ)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Index,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.db.base import Base

ENTRY_TYPES = (
    "payment",
    "refund",
    "supplier_invoice",
    "supplier_credit",
    "supplier_payment",
    "forfeit",
)


class Payment(Base):
    __tablename__ = "payments"
    # Paid GMV per day (the dashboard's chart) reads accepted payments by time.
    __table_args__ = (
        Index(
            "ix_payments_accepted_paid_at",
            "paid_at",
            postgresql_include=["amount_fen"],
            postgresql_where=text("accepted"),
        ),
    )

    transaction_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    payment_id: Mapped[str] = mapped_column(String(64))
    order_no: Mapped[str] = mapped_column(String(24), index=True)
    amount_fen: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    # False when it arrived for a cancelled order or with the wrong amount: refunded in full.
    accepted: Mapped[bool]
    paid_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)

    refund_no: Mapped[str] = mapped_column(String(48), primary_key=True)
    order_no: Mapped[str] = mapped_column(String(24), index=True)
    transaction_id: Mapped[str] = mapped_column(String(64))
    provider_refund_id: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int]
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # When the provider's signed callback confirmed this refund (same provider id and amount).
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class MoneyEntry(Base):
    """The money ledger, one row per document. Orders: payments in (+), refunds out (−), so
    per order paid − refunded = Σ. Purchase orders: the supplier's invoice (+, owed), credits
    for returned goods (−) and the payment (−), so per PO Σ = what is still owed."""

    __tablename__ = "money_ledger"
    __table_args__ = (
        UniqueConstraint("entry_type", "ref_no"),
        CheckConstraint(
            "entry_type IN (" + ",".join(f"'{t}'" for t in ENTRY_TYPES) + ")", name="type_known"
        ),
        CheckConstraint("(order_no IS NULL) <> (po_no IS NULL)", name="one_document"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_no: Mapped[str | None] = mapped_column(String(24), index=True)
    po_no: Mapped[str | None] = mapped_column(String(24), index=True)
    entry_type: Mapped[str] = mapped_column(String(20))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    ref_no: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


REFUND_STATES = ("pending", "refused", "done")


class OrderRefund(Base):
    """A refund the order owes and has not yet made, as its process announced it: `pending`
    while it goes to the provider (a cancel answers before that), `refused` when the provider
    refused it (staff retry it once fixed), `done` once it is in `refunds`. Refunds made at once
    have no row here; the order shows those from `refunds`."""

    __tablename__ = "order_refunds"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint(
            "status IN (" + ",".join(f"'{s}'" for s in REFUND_STATES) + ")", name="status_known"
        ),
    )

    refund_no: Mapped[str] = mapped_column(String(48), primary_key=True)
    order_no: Mapped[str] = mapped_column(String(24), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(String(500))
    refused_reason: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


CALLBACK_OUTCOMES = ("pending", "confirmed", "difference")


class RefundCallback(Base):
    """A `refund.succeeded` callback of the provider, once per provider refund id (its copies and
    retries only count up `copies`). `pending`: none of our refunds has its number yet, but it
    fits a payment of ours (the refund is being recorded); `confirmed`: it confirmed ours;
    `difference`: it is recorded for finance in reconciliation_differences."""

    __tablename__ = "refund_callbacks"
    __table_args__ = (
        CheckConstraint(
            "outcome IN (" + ",".join(f"'{o}'" for o in CALLBACK_OUTCOMES) + ")",
            name="outcome_known",
        ),
    )

    provider_refund_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    refund_no: Mapped[str] = mapped_column(String(64), index=True)
    payment_id: Mapped[str] = mapped_column(String(64))
    order_no: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(12))
    copies: Mapped[int] = mapped_column(default=1)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
