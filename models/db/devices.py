"""Handheld devices paired by a one-time code, the badges workers sign in with, and the units a
pack station has scanned into a package's box (DESIGN §3a, §6.9)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from models.db.base import Base


class Device(Base):
    """A handheld of one warehouse. Created with a one-time pairing code (only its hash is
    kept); pairing hands the handheld its own API key once. Revoked: the key is deactivated."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), unique=True)
    pairing_code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    pairing_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    paired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The worker signed in on it by badge: every action of the device records them too.
    worker_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    worker_signed_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StaffBadge(Base):
    """A staff member's badge barcode in one warehouse: scanned on a device to sign in."""

    __tablename__ = "staff_badges"
    __table_args__ = (UniqueConstraint("user_id", "warehouse_id"),)

    badge_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PackCheck(Base):
    """How many units of a SKU the pack station has scanned into a package's box (复核)."""

    __tablename__ = "pack_checks"
    __table_args__ = (CheckConstraint("scanned >= 0", name="scanned_not_negative"),)

    package_no: Mapped[str] = mapped_column(
        ForeignKey("packages.package_no", ondelete="CASCADE"), primary_key=True
    )
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), primary_key=True)
    scanned: Mapped[int] = mapped_column(default=0)
