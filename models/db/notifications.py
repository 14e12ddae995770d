"""Notifications (DESIGN §6.10): one row per "waiting on a person" event, written by the process
in the transaction of its state change; who has read it; the channels each role subscribes to;
and the outbox of deliveries to those channels (企业微信 / 钉钉 group robots, e-mail)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from models.db.base import Base


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # (kind, business number, step): a retried activity raises the same notification once.
    key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    ref: Mapped[str] = mapped_column(String(64))  # PO…, SO…, PK…, AS…, WV…, an invoice, an id
    step: Mapped[str] = mapped_column(String(40))  # raised, reminder, escalated, auto_approved…
    permission: Mapped[str] = mapped_column(String(48))  # who can act: the deciding route's
    # Narrower still where the process names them (a PO's approval tiers still open); None: all
    # roles granting the permission.
    roles: Mapped[list[str] | None] = mapped_column(ARRAY(String(32)))
    warehouse_id: Mapped[int | None] = mapped_column(Integer)  # warehouse-bound kinds
    order_no: Mapped[str | None] = mapped_column(String(32))
    amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Set when the thing was acted upon (the process moved on): the bell stops counting it.
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_notifications_open", "kind", "ref", postgresql_where=text("done_at IS NULL")),
        Index("ix_notifications_created_at", "created_at"),
    )


class NotificationRead(Base):
    """A person has seen a notification (read/unread is per person, done is per notification)."""

    __tablename__ = "notification_reads"

    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    read_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class NotificationSubscription(Base):
    """A role's channel: a group robot's webhook or an e-mail address, optionally for one
    warehouse's notifications only."""

    __tablename__ = "notification_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(ForeignKey("roles.name", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))  # wecom | dingtalk | email
    target: Mapped[str] = mapped_column(String(500))  # webhook URL or e-mail address
    secret: Mapped[str | None] = mapped_column(String(200))  # 钉钉 加签 secret (SEC…)
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"))
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (UniqueConstraint("role", "channel", "target"),)


class NotificationDelivery(Base):
    """The outbox: one row per (notification, subscription), written with the notification.
    The sender marks it sent in the transaction that records the attempt; `message_id` goes with
    every attempt so a receiver drops a resend of what it already has."""

    __tablename__ = "notification_deliveries"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("notification_subscriptions.id", ondelete="CASCADE")
    )
    channel: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str] = mapped_column(String(80), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_error: Mapped[str] = mapped_column(String(500), default="", server_default="")
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("notification_id", "subscription_id"),
        Index(
            "ix_notification_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )
