"""Stock per (SKU, warehouse), per (SKU, location, batch), and the stock movement ledger."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.contracts.inventory import MOVEMENT_TYPES
from models.db.base import Base


class Stock(Base):
    """Warehouse-level figures. sellable = on_hand - reserved - safety_hold."""

    __tablename__ = "stocks"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("in_transit >= 0", name="in_transit_not_negative"),
        CheckConstraint("safety_hold >= 0", name="safety_hold_not_negative"),
        CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
    )

    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), primary_key=True)
    on_hand: Mapped[int] = mapped_column(default=0)
    reserved: Mapped[int] = mapped_column(default=0)
    in_transit: Mapped[int] = mapped_column(default=0)
    safety_hold: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class LocationStock(Base):
    """Units of one SKU batch at one location. Σ quantity per warehouse = Stock.on_hand."""

    __tablename__ = "location_stocks"
    __table_args__ = (
        UniqueConstraint("location_id", "sku_id", "batch_no"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        CheckConstraint("reserved >= 0 AND reserved <= quantity", name="reserved_within_quantity"),
        Index("ix_location_stocks_sku_warehouse", "sku_id", "warehouse_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    # '' for goods that are not batch-managed, so (location, sku, batch) stays unique.
    batch_no: Mapped[str] = mapped_column(String(40), default="")
    production_date: Mapped[date | None] = mapped_column(Date)
    expiry_date: Mapped[date | None] = mapped_column(Date)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    quantity: Mapped[int] = mapped_column(default=0)
    # Units of this batch promised to pick tasks (location-level reservation).
    reserved: Mapped[int] = mapped_column(default=0)
    disabled: Mapped[bool] = mapped_column(default=False)


class StockMovement(Base):
    """The stock ledger: every change of on_hand, reserved or in_transit is one row here.

    on_hand = Σ on_hand_delta, reserved = Σ reserved_delta, in_transit = Σ in_transit_delta.
    """

    __tablename__ = "stock_movements"
    __table_args__ = (
        CheckConstraint(
            "movement_type IN (" + ",".join(f"'{t}'" for t in MOVEMENT_TYPES) + ")",
            name="type_known",
        ),
        Index("ix_stock_movements_sku_warehouse", "sku_id", "warehouse_id"),
        Index("ix_stock_movements_ref", "ref_type", "ref_no"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    movement_type: Mapped[str] = mapped_column(String(24))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    batch_no: Mapped[str | None] = mapped_column(String(40))
    on_hand_delta: Mapped[int] = mapped_column(default=0)
    reserved_delta: Mapped[int] = mapped_column(default=0)
    in_transit_delta: Mapped[int] = mapped_column(default=0)
    ref_type: Mapped[str] = mapped_column(String(24))
    ref_no: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(500), default="")
    # Makes a retried write a no-op: one key, one row.
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    # What one unit cost when it came in at a known price (a receipt at the PO line's price);
    # None lets the cost booking choose (docs/architecture.md, "Inventory cost").
    unit_cost_fen: Mapped[int | None] = mapped_column(BigInteger)


class StockCost(Base):
    """Moving weighted average cost per (SKU, warehouse): the units the value is spread over
    and the value in integer fen. Kept by the stock_movements trigger (book_stock_cost), in the
    same transaction as the movement; units = Stock.on_hand, value 0 when no unit is left."""

    __tablename__ = "stock_costs"
    __table_args__ = (
        CheckConstraint("units >= 0", name="cost_units_not_negative"),
        CheckConstraint("value_fen >= 0", name="cost_value_not_negative"),
        CheckConstraint("units > 0 OR value_fen = 0", name="no_value_without_units"),
    )

    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), primary_key=True)
    units: Mapped[int] = mapped_column(default=0)
    value_fen: Mapped[int] = mapped_column(BigInteger, default=0)


class StockCostEntry(Base):
    """The cost ledger: one row per on-hand movement (its id, so one key, one row), with the
    units and the value in fen it moved (signed) and the cost per unit used. The sales_out rows
    are the cost of goods sold per shipped line (ref: the package)."""

    __tablename__ = "stock_cost_entries"
    __table_args__ = (
        Index("ix_stock_cost_entries_sku_warehouse", "sku_id", "warehouse_id"),
        Index("ix_stock_cost_entries_ref", "ref_type", "ref_no", "sku_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    movement_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("stock_movements.id"), unique=True
    )
    movement_type: Mapped[str] = mapped_column(String(24))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    units: Mapped[int] = mapped_column()
    value_fen: Mapped[int] = mapped_column(BigInteger)
    unit_cost_fen: Mapped[int] = mapped_column(BigInteger)
    ref_type: Mapped[str] = mapped_column(String(24))
    ref_no: Mapped[str] = mapped_column(String(64))
