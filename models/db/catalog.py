"""Catalog: categories, brands, SPUs (products) and SKUs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.db.base import Base, Timestamped


class Category(Timestamped, Base):
    __tablename__ = "categories"
    # NULLS NOT DISTINCT: two top-level categories may not share a name either.
    __table_args__ = (UniqueConstraint("parent_id", "name", postgresql_nulls_not_distinct=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"))


class Brand(Timestamped, Base):
    __tablename__ = "brands"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class Spu(Timestamped, Base):
    """A product as customers see it (标准产品单位); sold as one or more SKUs."""

    __tablename__ = "spus"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    brand_id: Mapped[int | None] = mapped_column(ForeignKey("brands.id"))
    description: Mapped[str] = mapped_column(String(2000), default="")
    active: Mapped[bool] = mapped_column(default=True)


class Sku(Timestamped, Base):
    """The unit that is stocked, picked and sold (库存量单位)."""

    __tablename__ = "skus"
    __table_args__ = (
        CheckConstraint("weight_g > 0", name="weight_positive"),
        CheckConstraint("volume_cm3 >= 0", name="volume_not_negative"),
        CheckConstraint("list_price_fen >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    spu_id: Mapped[int] = mapped_column(ForeignKey("spus.id"), index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    barcode: Mapped[str] = mapped_column(String(64), unique=True)
    weight_g: Mapped[int]
    volume_cm3: Mapped[int]
    list_price_fen: Mapped[int]
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    freight_template_id: Mapped[int | None] = mapped_column(ForeignKey("freight_templates.id"))
    # Batch-managed goods carry batch numbers, production dates and expiry (FEFO picking).
    batch_managed: Mapped[bool] = mapped_column(default=False)
    shelf_life_days: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)
