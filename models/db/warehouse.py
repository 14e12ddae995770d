"""Warehouses, their priority per destination region, and their locations."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.db.base import Base, Timestamped

LOCATION_KINDS = ("storage", "receiving", "damage", "put_wall", "pack", "exception")


class Warehouse(Timestamped, Base):
    __tablename__ = "warehouses"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # Mainland administrative division code of the warehouse's city (e.g. 310000 上海).
    region_code: Mapped[str] = mapped_column(String(6))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    address: Mapped[str] = mapped_column(String(300), default="")
    active: Mapped[bool] = mapped_column(default=True)


class WarehouseRegionPriority(Base):
    """Which warehouse serves a destination province first (lower priority = preferred)."""

    __tablename__ = "warehouse_region_priorities"

    warehouse_id: Mapped[int] = mapped_column(
        ForeignKey("warehouses.id", ondelete="CASCADE"), primary_key=True
    )
    region_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    priority: Mapped[int]


class Location(Timestamped, Base):
    """A storage position: zone / aisle / bay / level, with walk coordinates in centimetres."""

    __tablename__ = "locations"
    __table_args__ = (
        UniqueConstraint("warehouse_id", "code"),
        CheckConstraint(
            "kind IN ('storage','receiving','damage','put_wall','pack','exception')",
            name="kind_known",
        ),
        CheckConstraint("aisle >= 0 AND bay >= 0 AND level >= 0", name="grid_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    barcode: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="storage")
    zone: Mapped[str] = mapped_column(String(8))
    aisle: Mapped[int]
    bay: Mapped[int]
    level: Mapped[int]
    x_cm: Mapped[int]
    y_cm: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)
