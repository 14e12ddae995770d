"""Transfers between warehouses (调拨, DESIGN §6.9): the transfer, its lines with running figures
and its timeline. Written by activities (the projection the API lists from); the live state of
an open transfer is its workflow (`transfer-TR…`)."""

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
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.db.base import Base, Timestamped

TRANSFER_NO_SEQUENCE = Sequence("transfer_no_seq", metadata=Base.metadata)
TRANSFER_STATUSES = (
    "requested",
    "approved",
    "picked",
    "in_transit",
    "closed",
    "rejected",
    "cancelled",
)


class Transfer(Timestamped, Base):
    __tablename__ = "transfers"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ",".join(f"'{s}'" for s in TRANSFER_STATUSES) + ")",
            name="status_known",
        ),
        CheckConstraint("from_warehouse_id <> to_warehouse_id", name="two_warehouses"),
        Index("ix_transfers_status", "status"),
    )

    transfer_no: Mapped[str] = mapped_column(String(24), primary_key=True)
    from_warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    to_warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    carrier_code: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(20), default="requested")
    status_seq: Mapped[int] = mapped_column(default=0)
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # A client's key for the request: the same key again is the same transfer.
    request_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    note: Mapped[str] = mapped_column(String(500), default="")
    wave_no: Mapped[str | None] = mapped_column(String(24))
    receipt_key: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(500), default="")


class TransferLine(Base):
    """One SKU: requested, picked, shipped; at the destination good + damaged + short =
    shipped + over."""

    __tablename__ = "transfer_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("picked >= 0 AND shipped >= 0 AND shipped <= quantity", name="shipped_ok"),
        CheckConstraint(
            "good >= 0 AND damaged >= 0 AND short >= 0 AND over >= 0", name="counts_not_negative"
        ),
        CheckConstraint(
            "good + damaged + short + over = 0 OR good + damaged + short = shipped + over",
            name="received_adds_up",
        ),
        UniqueConstraint("transfer_no", "sku_id"),
    )

    transfer_no: Mapped[str] = mapped_column(
        ForeignKey("transfers.transfer_no", ondelete="CASCADE"), primary_key=True
    )
    line_no: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    quantity: Mapped[int]
    picked: Mapped[int] = mapped_column(default=0)
    shipped: Mapped[int] = mapped_column(default=0)
    good: Mapped[int] = mapped_column(default=0)
    damaged: Mapped[int] = mapped_column(default=0)
    short: Mapped[int] = mapped_column(default=0)
    over: Mapped[int] = mapped_column(default=0)
    # The batches the units left the source in (batch_no, dates, quantity): the destination
    # receives them into the same batches.
    batches: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)


class TransferEvent(Base):
    """The transfer's timeline: every step with actor and time."""

    __tablename__ = "transfer_events"
    __table_args__ = (UniqueConstraint("transfer_no", "idempotency_key"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    transfer_no: Mapped[str] = mapped_column(String(24), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    step: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(120))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(80))
