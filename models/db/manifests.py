"""Carrier manifests (交接单, DESIGN §6.2 handover): at the pack station packages of one carrier
and one warehouse are scanned onto a manifest, then handed over together; the printed manifest is
what the driver signs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from models.db.base import Base, Timestamped

MANIFEST_STATUSES = ("open", "handed_over", "cancelled")
# A line's state: on the manifest (scanned), taken off (removed), gone with the carrier
# (handed_over), refused by its shipment at hand-over (failed: the package stays in the
# warehouse), or on a manifest that was cancelled.
LINE_STATUSES = ("scanned", "removed", "handed_over", "failed", "cancelled")
# A package is on at most one manifest in these line states.
LIVE_LINE = "status IN ('scanned', 'handed_over')"


class Manifest(Timestamped, Base):
    __tablename__ = "manifests"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in MANIFEST_STATUSES) + ")",
            name="status_known",
        ),
        Index("ix_manifests_warehouse_status", "warehouse_id", "status"),
        Index("ix_manifests_created", "created_at", "manifest_no"),
    )

    manifest_no: Mapped[str] = mapped_column(String(24), primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    carrier_code: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(20), default="open")
    note: Mapped[str | None] = mapped_column(String(200))  # driver, vehicle
    # Made by the device that opened it: opening again with the same id is the same manifest.
    request_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(120))
    # Set when a hand-over starts: from then on nothing is scanned on or taken off.
    handover_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handed_over_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handed_over_by: Mapped[str | None] = mapped_column(String(120))  # the device or person
    handed_over_worker: Mapped[str | None] = mapped_column(String(120))  # signed in on it


class ManifestPackage(Base):
    __tablename__ = "manifest_packages"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in LINE_STATUSES) + ")",
            name="status_known",
        ),
        Index(
            "uq_manifest_packages_live_package",
            "package_no",
            unique=True,
            postgresql_where=text(LIVE_LINE),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    manifest_no: Mapped[str] = mapped_column(
        ForeignKey("manifests.manifest_no", ondelete="CASCADE"), index=True
    )
    package_no: Mapped[str] = mapped_column(ForeignKey("packages.package_no"), index=True)
    scan_id: Mapped[str] = mapped_column(String(64), unique=True)  # made by the device
    status: Mapped[str] = mapped_column(String(20), default="scanned")
    scanned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    scanned_by: Mapped[str] = mapped_column(String(120))
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    removed_by: Mapped[str | None] = mapped_column(String(120))
    failure: Mapped[str | None] = mapped_column(String(500))  # why its shipment refused
