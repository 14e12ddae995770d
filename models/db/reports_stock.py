"""Rollups of the stock and warehouse reports (issue 17), kept by triggers of migration
0053_stock_rollups in the transaction of the change they count (docs/architecture.md,
"Reports"): never written by the application."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from models.db.base import Base


class StockDailyOut(Base):
    """Units shipped (sales_out) per business day, SKU and warehouse."""

    __tablename__ = "stock_daily_out"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    sku_id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(primary_key=True)
    units: Mapped[int]


class StockActivity(Base):
    """Per (SKU, warehouse): the last business day anything shipped, and since when sellable
    has been 0 (the open stock-out spell; None when there is stock to sell)."""

    __tablename__ = "stock_activity"

    sku_id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(primary_key=True)
    last_out_on: Mapped[date | None] = mapped_column(Date)
    zero_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StockOutDay(Base):
    """A business day on which a closed stock-out spell left the SKU with 0 sellable."""

    __tablename__ = "stock_out_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    sku_id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(primary_key=True)


class WarehouseDaily(Base):
    """A warehouse's business day: waves finished (and on time, by their cutoff's day), pick
    lines finished (and short) with their units, packages weighed (and held at the scale)."""

    __tablename__ = "warehouse_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(primary_key=True)
    waves_done: Mapped[int] = mapped_column(server_default="0")
    waves_on_time: Mapped[int] = mapped_column(server_default="0")
    stops_done: Mapped[int] = mapped_column(server_default="0")
    stops_short: Mapped[int] = mapped_column(server_default="0")
    units_picked: Mapped[int] = mapped_column(server_default="0")
    units_short: Mapped[int] = mapped_column(server_default="0")
    packages_weighed: Mapped[int] = mapped_column(server_default="0")
    packages_held: Mapped[int] = mapped_column(server_default="0")


class PickHourly(Base):
    """Units picked per clock hour (UTC start) by one device and the worker signed in on it
    ('' when none)."""

    __tablename__ = "pick_hourly"

    hour_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(primary_key=True)
    device: Mapped[str] = mapped_column(String(120), primary_key=True)
    worker: Mapped[str] = mapped_column(String(64), primary_key=True)
    units: Mapped[int]
    scans: Mapped[int]
