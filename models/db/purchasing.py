"""Suppliers and the products each may supply."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.db.base import Base, Timestamped

SUPPLIER_STATUSES = ("pending", "approved", "suspended")


class Supplier(Timestamped, Base):
    __tablename__ = "suppliers"
    __table_args__ = (
        CheckConstraint("status IN ('pending','approved','suspended')", name="status_known"),
        CheckConstraint("payment_terms_days >= 0", name="terms_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    contact_name: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    payment_terms_days: Mapped[int] = mapped_column(default=30)
    status: Mapped[str] = mapped_column(String(16), default="pending")


class SupplierProduct(Timestamped, Base):
    __tablename__ = "supplier_products"
    __table_args__ = (
        UniqueConstraint("supplier_id", "sku_id"),
        CheckConstraint("supply_price_fen >= 0", name="price_not_negative"),
        CheckConstraint("units_per_purchase_unit > 0", name="units_positive"),
        CheckConstraint("lead_time_days >= 0", name="lead_time_not_negative"),
        # At most one preferred supplier per SKU.
        Index(
            "uq_supplier_products_preferred_sku",
            "sku_id",
            unique=True,
            postgresql_where=text("preferred"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    supply_price_fen: Mapped[int]
    purchase_unit: Mapped[str] = mapped_column(String(16), default="件")
    units_per_purchase_unit: Mapped[int] = mapped_column(default=1)
    lead_time_days: Mapped[int] = mapped_column(default=3)
    preferred: Mapped[bool] = mapped_column(default=False)
