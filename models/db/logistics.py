"""Carriers, their cutoffs per warehouse, freight templates and the platform freight policy."""

from __future__ import annotations

from datetime import time

from sqlalchemy import CheckConstraint, ForeignKey, String, Time
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from models.db.base import Base, Timestamped


class Carrier(Timestamped, Base):
    __tablename__ = "carriers"
    __table_args__ = (
        CheckConstraint(
            "tracking_mode IN ('carrier_issued','prepurchased_range')", name="mode_known"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # carrier_issued: the carrier assigns tracking numbers with the waybill;
    # prepurchased_range: houtai allocates from a range bought in advance.
    tracking_mode: Mapped[str] = mapped_column(String(24), default="carrier_issued")
    active: Mapped[bool] = mapped_column(default=True)


class CarrierCutoff(Base):
    """The daily handover cutoff of a carrier at a warehouse, in the warehouse's timezone."""

    __tablename__ = "carrier_cutoffs"

    carrier_id: Mapped[int] = mapped_column(
        ForeignKey("carriers.id", ondelete="CASCADE"), primary_key=True
    )
    warehouse_id: Mapped[int] = mapped_column(
        ForeignKey("warehouses.id", ondelete="CASCADE"), primary_key=True
    )
    cutoff_local: Mapped[time] = mapped_column(Time, primary_key=True)


class FreightTemplate(Timestamped, Base):
    """运费模板: how SKUs that share it are charged, per destination region."""

    __tablename__ = "freight_templates"
    __table_args__ = (
        CheckConstraint("charge_by IN ('piece','weight','volume')", name="charge_by_known"),
        CheckConstraint("free_over_fen IS NULL OR free_over_fen >= 0", name="free_over_ok"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    charge_by: Mapped[str] = mapped_column(String(8))
    # Template-level free shipping: goods of this template worth at least this much ship free.
    free_over_fen: Mapped[int | None]
    # Destinations this template does not ship to (province codes).
    unserviceable_regions: Mapped[list[str]] = mapped_column(ARRAY(String(6)), default=list)


class FreightRule(Base):
    """首重/续重: first `first_units` for `first_price_fen`, each further `additional_units`
    (or part of it) for `additional_price_fen`. Units are pieces, grams or cm³ by template."""

    __tablename__ = "freight_rules"
    __table_args__ = (
        CheckConstraint("first_units > 0 AND additional_units > 0", name="units_positive"),
        CheckConstraint(
            "first_price_fen >= 0 AND additional_price_fen >= 0", name="prices_not_negative"
        ),
        CheckConstraint("is_default OR cardinality(regions) > 0", name="regions_or_default"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(
        ForeignKey("freight_templates.id", ondelete="CASCADE"), index=True
    )
    # Destination province codes this rule covers; the default rule covers every other region.
    regions: Mapped[list[str]] = mapped_column(ARRAY(String(6)), default=list)
    is_default: Mapped[bool] = mapped_column(default=False)
    first_units: Mapped[int]
    first_price_fen: Mapped[int]
    additional_units: Mapped[int]
    additional_price_fen: Mapped[int]


class FreightPolicy(Timestamped, Base):
    """The platform rule (one row): a fixed fee, free over a threshold, or per template."""

    __tablename__ = "freight_policies"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("mode IN ('templates','fixed')", name="mode_known"),
        CheckConstraint("combine IN ('sum','max')", name="combine_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    mode: Mapped[str] = mapped_column(String(16), default="templates")
    fixed_fee_fen: Mapped[int] = mapped_column(default=0)
    # Orders whose goods amount reaches this ship free, whatever the mode.
    free_over_fen: Mapped[int | None]
    combine: Mapped[str] = mapped_column(String(8), default="sum")
