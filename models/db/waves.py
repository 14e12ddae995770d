"""Wave picking (DESIGN §6.4): outbound orders waiting for a wave, waves, the location/batch
allocations of their lines, routed pick tasks and their stops, device scans (stored once per
scan id) and put-wall slots."""

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

from models.db.base import Base

WAVE_SEQUENCE = Sequence("wave_seq", metadata=Base.metadata)


class OutboundOrder(Base):
    """A package released to its warehouse (销售出库单), or a transfer released to its source
    (调拨出库): waits for a wave, then is picked."""

    __tablename__ = "outbound_orders"
    __table_args__ = (
        CheckConstraint(
            "status IN ('waiting','planned','picked','short','cancelled')", name="status_known"
        ),
        Index("ix_outbound_orders_warehouse_status", "warehouse_id", "status"),
    )

    # A package (PK…) or a transfer between warehouses (TR…), picked alike.
    package_no: Mapped[str] = mapped_column(String(28), primary_key=True)
    order_no: Mapped[str] = mapped_column(String(24))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    carrier_code: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(12), default="waiting")
    wave_no: Mapped[str | None] = mapped_column(String(24), index=True)
    released_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ship_by: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Why the planner could not promise this package a cutoff (or is late for its promise).
    flag_reason: Mapped[str | None] = mapped_column(String(300))


class Wave(Base):
    __tablename__ = "waves"
    __table_args__ = (
        CheckConstraint("status IN ('picking','done','cancelled')", name="status_known"),
        Index("ix_waves_warehouse_status", "warehouse_id", "status"),
    )

    wave_no: Mapped[str] = mapped_column(String(24), primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    # The planning run that made it: a retried planner returns its own waves, no new ones.
    plan_key: Mapped[str] = mapped_column(String(120), index=True)
    carrier_code: Mapped[str] = mapped_column(String(32))
    cutoff_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    profile: Mapped[str] = mapped_column(String(12))
    zone: Mapped[str] = mapped_column(String(8))
    release_reason: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(10), default="picking")
    orders: Mapped[int]
    lines: Mapped[int]
    units: Mapped[int]
    built: Mapped[bool] = mapped_column(default=False)
    escalated: Mapped[bool] = mapped_column(default=False)
    escalation_reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PickAllocation(Base):
    """Units of one outbound line promised from one location/batch: they hold
    `location_stocks.reserved` until shipped, cancelled or found short."""

    __tablename__ = "pick_allocations"
    __table_args__ = (
        UniqueConstraint("package_no", "line_no", "location_stock_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("picked >= 0 AND picked <= quantity", name="picked_within_quantity"),
        CheckConstraint(
            "status IN ('open','picked','short','cancelled','shipped')", name="status_known"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    wave_no: Mapped[str] = mapped_column(String(24), index=True)
    # Looked up by package through the unique constraint (package_no first): an index of its
    # own was one more entry for every allocation a wave writes.
    package_no: Mapped[str] = mapped_column(String(28))
    line_no: Mapped[int]
    # The batch row is the reference; SKU, warehouse and location are copies of its own, kept
    # here for reading without a join (a wave writes thousands of these at once).
    location_stock_id: Mapped[int] = mapped_column(ForeignKey("location_stocks.id"))
    sku_id: Mapped[int]
    warehouse_id: Mapped[int]
    location_id: Mapped[int]
    batch_no: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int]
    picked: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(10), default="open")


class PickTask(Base):
    """One picker's trip: stops in route order, claimed by one device at a time."""

    __tablename__ = "pick_tasks"
    __table_args__ = (
        CheckConstraint(
            "status IN ('open','claimed','done','short','cancelled')", name="status_known"
        ),
        UniqueConstraint("wave_no", "seq"),
        Index("ix_pick_tasks_warehouse_status", "warehouse_id", "status"),
    )

    task_no: Mapped[str] = mapped_column(String(32), primary_key=True)
    wave_no: Mapped[str] = mapped_column(String(24))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    seq: Mapped[int]
    status: Mapped[str] = mapped_column(String(10), default="open")
    route_name: Mapped[str] = mapped_column(String(12))
    route_cm: Mapped[int]
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PickStop(Base):
    __tablename__ = "pick_stops"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("picked + short <= quantity", name="within_quantity"),
        CheckConstraint("status IN ('open','done','short','cancelled')", name="status_known"),
    )

    task_no: Mapped[str] = mapped_column(
        ForeignKey("pick_tasks.task_no", ondelete="CASCADE"), primary_key=True
    )
    stop_no: Mapped[int] = mapped_column(primary_key=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("pick_allocations.id"), index=True)
    location_id: Mapped[int]  # copies of the allocation's, for the device's view
    sku_id: Mapped[int]
    batch_no: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int]
    picked: Mapped[int] = mapped_column(default=0)
    short: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(10), default="open")


class DeviceScan(Base):
    """A device's scan, stored once: the same scan id again gets the stored answer.

    `status_code` records whether the scan was refused by the rules, in the code its answer was
    first sent with (the rows keep that encoding): ANSWERED or REFUSED."""

    __tablename__ = "device_scans"
    ANSWERED = 200
    REFUSED = 409

    scan_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    device: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(12))
    ref_no: Mapped[str] = mapped_column(String(32), index=True)
    status_code: Mapped[int]
    response: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # An accepted pick (or short) scan: the units it picked and the worker signed in on the
    # device; the warehouse report's units per hour are counted from them (pick_hourly).
    worker: Mapped[str | None] = mapped_column(String(64))
    units: Mapped[int | None]

    @classmethod
    def outcome_code(cls, *, refused: bool) -> int:
        return cls.REFUSED if refused else cls.ANSWERED

    @property
    def refused(self) -> bool:
        return self.status_code == self.REFUSED


class PutWallSlot(Base):
    """A multi-line package's slot on the wave's put wall; complete when every unit is in."""

    __tablename__ = "put_wall_slots"
    __table_args__ = (
        CheckConstraint("status IN ('sorting','complete','cancelled')", name="status_known"),
        UniqueConstraint("package_no"),
    )

    wave_no: Mapped[str] = mapped_column(String(24), primary_key=True)
    slot_no: Mapped[int] = mapped_column(primary_key=True)
    package_no: Mapped[str] = mapped_column(String(28))
    status: Mapped[str] = mapped_column(String(10), default="sorting")


class PutWallLine(Base):
    """Units of one SKU a slot expects and has received."""

    __tablename__ = "put_wall_lines"
    __table_args__ = (CheckConstraint("put >= 0 AND put <= expected", name="put_within_expected"),)

    wave_no: Mapped[str] = mapped_column(String(24), primary_key=True)
    slot_no: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), primary_key=True)
    expected: Mapped[int]
    put: Mapped[int] = mapped_column(default=0)
