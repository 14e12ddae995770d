"""Member levels and points (DESIGN §6.7): the level table, the points rules, one account per
customer (balance, growth value, level) and its ledger, and the level history.

Keyed by the customer record's id (customers.id): two storefronts naming their customers by the
same key are two customers (an order's customer is its (api_key_id, customer_id)). The account's
`balance` is the sum of its ledger's `points` (a test checks it after every scenario, like the
stock and money ledgers); each ledger row has a `key` unique per customer, so a retried booking
(earn, spend, refund, expire, adjust) is never made twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Index,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.db.base import Base, Timestamped


class MemberLevel(Timestamped, Base):
    """A level a customer reaches at `growth_threshold` growth value (成长值), with its benefits:
    `discount_percent` % off the goods (a discount of pricing §7) and free shipping."""

    __tablename__ = "member_levels"
    __table_args__ = (
        CheckConstraint("growth_threshold >= 0", name="threshold_not_negative"),
        CheckConstraint("discount_percent BETWEEN 0 AND 99", name="discount_in_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    growth_threshold: Mapped[int] = mapped_column(BigInteger, unique=True)
    discount_percent: Mapped[int] = mapped_column(default=0)
    free_shipping: Mapped[bool] = mapped_column(default=False)


class PointsRules(Timestamped, Base):
    """The one row of points rules (id 1): what a completed order earns per yuan paid, what a
    point is worth at checkout and the share of an order points may pay."""

    __tablename__ = "points_rules"
    __table_args__ = (
        CheckConstraint("earn_per_yuan >= 0 AND growth_per_yuan >= 0", name="earn_not_negative"),
        CheckConstraint("fen_per_point >= 1", name="point_worth_something"),
        CheckConstraint("max_percent BETWEEN 0 AND 100", name="cap_in_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    earn_per_yuan: Mapped[int] = mapped_column(default=1)  # points per ¥1 paid for goods
    growth_per_yuan: Mapped[int] = mapped_column(default=1)  # growth value per ¥1 paid
    fen_per_point: Mapped[int] = mapped_column(default=1)  # 1: 100 points = ¥1
    max_percent: Mapped[int] = mapped_column(default=50)  # at most this % of the goods


class PointsAccount(Base):
    """A customer's points balance (= Σ ledger), growth value and current level."""

    __tablename__ = "points_accounts"
    __table_args__ = (CheckConstraint("balance >= 0 AND growth >= 0", name="not_negative"),)

    customer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    growth: Mapped[int] = mapped_column(BigInteger, default=0)
    level_id: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class PointsEntry(Base):
    """One booking on a customer's points: + earn / refund (given back) / adjust, − spend /
    expire / adjust. `key` (e.g. `SO…:earn`, `SO…:spend`, `AS…:refund`, `expire:2027`) is unique
    per customer: the same booking retried is refused by the database, never booked twice."""

    __tablename__ = "points_ledger"
    __table_args__ = (
        UniqueConstraint("customer_id", "key"),
        CheckConstraint("kind IN ('earn','spend','refund','expire','adjust')", name="kind_known"),
        CheckConstraint("points <> 0 OR growth <> 0 OR kind = 'refund'", name="not_empty"),
        Index("ix_points_ledger_customer_at", "customer_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(8))
    points: Mapped[int] = mapped_column(BigInteger)
    growth: Mapped[int] = mapped_column(BigInteger, default=0)  # growth value earned with it
    order_no: Mapped[str | None] = mapped_column(String(24), index=True)
    key: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class LevelChange(Base):
    """A customer's level changed (growth reached a threshold, or the thresholds changed)."""

    __tablename__ = "member_level_history"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    from_level_id: Mapped[int | None]
    to_level_id: Mapped[int | None]
    growth: Mapped[int] = mapped_column(BigInteger)
    order_no: Mapped[str | None] = mapped_column(String(24))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
