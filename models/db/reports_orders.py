"""Rollups of the orders and after-sales reports (issue 17, docs/architecture.md "Reports"): one
row per business day (Asia/Shanghai) and dimension, kept by the order_events trigger
(roll_order_event, migration 0052_order_rollups) in the transaction that writes the timeline
step, so a report reads a few hundred rows however many orders there are.

Durations (paid → handed over, requested → decided) are kept as histograms in fixed buckets:
bucket i holds minutes m with floor(4·log2(1 + m)) = i (a quarter octave, models/domain/
report_buckets.py); percentiles are read from the buckets."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from models.db.base import Base


class OrderFunnelDay(Base):
    """Per day and storefront: orders placed, paid, handed over (first package on a manifest
    handed to the carrier), completed and cancelled that day."""

    __tablename__ = "order_funnel_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    api_key_id: Mapped[int] = mapped_column(primary_key=True)
    placed: Mapped[int] = mapped_column(default=0)
    paid: Mapped[int] = mapped_column(default=0)
    handed_over: Mapped[int] = mapped_column(default=0)
    completed: Mapped[int] = mapped_column(default=0)
    cancelled: Mapped[int] = mapped_column(default=0)
    paid_units: Mapped[int] = mapped_column(BigInteger, default=0)  # units of the paid orders


class OrderCancelDay(Base):
    """Orders cancelled per day, storefront and kind of cancel (orders.cancel_kind)."""

    __tablename__ = "order_cancel_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    api_key_id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    orders: Mapped[int] = mapped_column(default=0)


class HandoverTimeDay(Base):
    """Packages handed over per day (of the handover), warehouse and duration bucket of
    paid → handed over."""

    __tablename__ = "handover_time_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(primary_key=True)
    bucket: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    packages: Mapped[int] = mapped_column(default=0)


class SkuSoldDay(Base):
    """Units sold per day (the order's payment day) and SKU: the after-sale rate's base."""

    __tablename__ = "sku_sold_days"
    # One SKU's days (the report's rows): read without the other SKUs'.
    __table_args__ = (Index("ix_sku_sold_days_sku_day", "sku_id", "day"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    sku_id: Mapped[int] = mapped_column(primary_key=True)
    units: Mapped[int] = mapped_column(BigInteger, default=0)


class AfterSaleSkuDay(Base):
    """Per day, SKU and reason: after-sale requests naming the SKU and their units (by request
    day), and the refunded fen on the SKU (by refund day; the freight part on the request's
    first line)."""

    __tablename__ = "after_sale_sku_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    sku_id: Mapped[int] = mapped_column(primary_key=True)
    reason: Mapped[str] = mapped_column(String(100), primary_key=True)
    requests: Mapped[int] = mapped_column(default=0)
    units: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)


class AfterSaleReasonDay(Base):
    """Per day and reason: after-sale requests (request day), refunds made and their fen
    (refund day)."""

    __tablename__ = "after_sale_reason_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    reason: Mapped[str] = mapped_column(String(100), primary_key=True)
    requests: Mapped[int] = mapped_column(default=0)
    refunds: Mapped[int] = mapped_column(default=0)
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)


class AfterSaleDecisionDay(Base):
    """Decisions (approved, rejected, auto-approved) per decision day, reason and bucket of the
    time from request to decision; `within_sla`: those decided by a person (or at once) by the
    SLA's due time."""

    __tablename__ = "after_sale_decision_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    reason: Mapped[str] = mapped_column(String(100), primary_key=True)
    bucket: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    decided: Mapped[int] = mapped_column(default=0)
    within_sla: Mapped[int] = mapped_column(default=0)
