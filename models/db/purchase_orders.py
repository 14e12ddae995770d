"""Purchase orders, their lines with running figures, receipts and the PO timeline.

Written by activities (the projection the API lists from); the live state of an open PO is its
workflow (`po-PO…`)."""

from __future__ import annotations

from datetime import date, datetime
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

from models.db.base import Base, Timestamped

PO_NO_SEQUENCE = Sequence("po_no_seq", metadata=Base.metadata)
PO_STATUSES = (
    "draft",
    "pending_approval",
    "rejected",
    "cancelled",
    "approved",
    "sent",
    "receiving",
    "closed",
    "settled",
)


class PurchaseOrder(Timestamped, Base):
    __tablename__ = "purchase_orders"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ",".join(f"'{s}'" for s in PO_STATUSES) + ")", name="status_known"
        ),
        CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
        Index("ix_purchase_orders_status", "status"),
    )

    po_no: Mapped[str] = mapped_column(String(24), primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    status_seq: Mapped[int] = mapped_column(default=0)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: replenishment
    # Replenishment drafts: the run and supplier that drafted it, so a retried draft is the same.
    source_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    note: Mapped[str] = mapped_column(String(500), default="")
    required_roles: Mapped[list[str]] = mapped_column(JSONB, default=list)
    approvals: Mapped[dict[str, int]] = mapped_column(JSONB, default=dict)
    reminded: Mapped[bool] = mapped_column(default=False)
    escalated: Mapped[bool] = mapped_column(default=False)
    close_reason: Mapped[str | None] = mapped_column(String(20))
    # When the goods are due (the purchasing report's on-time rate); None: the approval day
    # plus the supplier's longest lead time for the PO's SKUs.
    expected_on: Mapped[date | None]


class PurchaseOrderLine(Base):
    """One SKU for one warehouse, with its running figures (ordered + over = accepted + open)."""

    __tablename__ = "purchase_order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price_fen >= 0", name="price_not_negative"),
        CheckConstraint("received = accepted + rejected", name="received_adds_up"),
        CheckConstraint("returned <= received", name="returned_within_received"),
    )

    po_no: Mapped[str] = mapped_column(
        ForeignKey("purchase_orders.po_no", ondelete="CASCADE"), primary_key=True
    )
    line_no: Mapped[int] = mapped_column(primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    quantity: Mapped[int]
    unit_price_fen: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(default=0)
    accepted: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    returned: Mapped[int] = mapped_column(default=0)


class PurchaseReceipt(Base):
    """One delivery, once: the client's receipt key makes a retried request the same receipt."""

    __tablename__ = "purchase_receipts"
    __table_args__ = (UniqueConstraint("po_no", "receipt_key"),)

    receipt_no: Mapped[str] = mapped_column(String(32), primary_key=True)
    po_no: Mapped[str] = mapped_column(ForeignKey("purchase_orders.po_no"), index=True)
    receipt_key: Mapped[str] = mapped_column(String(64))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    actor: Mapped[str] = mapped_column(String(120))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PurchaseReceiptLine(Base):
    """What one delivery brought for one PO line (line_no) or outside the PO (line_no NULL)."""

    __tablename__ = "purchase_receipt_lines"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    receipt_no: Mapped[str] = mapped_column(
        ForeignKey("purchase_receipts.receipt_no", ondelete="CASCADE"), index=True
    )
    line_no: Mapped[int | None]
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    received: Mapped[int]
    accepted: Mapped[int]
    rejected: Mapped[int]
    kind: Mapped[str] = mapped_column(String(12), default="ordered")  # ordered | sample | gift
    batch_no: Mapped[str] = mapped_column(String(64), default="")
    production_date: Mapped[date | None]
    expiry_date: Mapped[date | None]


class PurchaseOrderEvent(Base):
    """The PO's timeline: every step with actor and time."""

    __tablename__ = "purchase_order_events"
    __table_args__ = (UniqueConstraint("po_no", "idempotency_key"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    po_no: Mapped[str] = mapped_column(String(24), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    step: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(120))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(80))


class PurchaseReturn(Base):
    """Goods sent back to the supplier (采购退货), once per client return key; its credit is
    what the returned units cost on the PO."""

    __tablename__ = "purchase_returns"
    __table_args__ = (
        UniqueConstraint("po_no", "return_key"),
        CheckConstraint("credit_fen >= 0", name="credit_not_negative"),
    )

    return_no: Mapped[str] = mapped_column(String(32), primary_key=True)
    po_no: Mapped[str] = mapped_column(ForeignKey("purchase_orders.po_no"), index=True)
    return_key: Mapped[str] = mapped_column(String(64))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    reason: Mapped[str] = mapped_column(String(500))
    credit_fen: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PurchaseReturnLine(Base):
    """Units of one PO line returned: from a location and batch (on hand) or, without a
    location, rejected units that QC kept out of stock."""

    __tablename__ = "purchase_return_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    return_no: Mapped[str] = mapped_column(
        ForeignKey("purchase_returns.return_no", ondelete="CASCADE"), index=True
    )
    line_no: Mapped[int]
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    quantity: Mapped[int]
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    batch_no: Mapped[str] = mapped_column(String(64), default="")


class SupplierInvoice(Base):
    """One supplier invoice per PO, its three-way match and the payable it became."""

    __tablename__ = "supplier_invoices"
    __table_args__ = (
        CheckConstraint("status IN ('mismatch','payable','rejected','paid')", name="status_known"),
    )

    po_no: Mapped[str] = mapped_column(ForeignKey("purchase_orders.po_no"), primary_key=True)
    invoice_no: Mapped[str] = mapped_column(String(64))
    invoice_date: Mapped[date]
    status: Mapped[str] = mapped_column(String(12))
    expected_fen: Mapped[int] = mapped_column(BigInteger)
    invoiced_fen: Mapped[int] = mapped_column(BigInteger)
    credit_fen: Mapped[int] = mapped_column(BigInteger)
    payable_fen: Mapped[int] = mapped_column(BigInteger)
    discrepancies: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    due_date: Mapped[date | None]
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    transfer_id: Mapped[str | None] = mapped_column(String(64))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ReorderRule(Base):
    """When to reorder a SKU for a warehouse: sellable + in transit below the point → draft up
    to the level, for the SKU's preferred supplier (智能采购, basic)."""

    __tablename__ = "reorder_rules"
    __table_args__ = (
        CheckConstraint("reorder_point >= 0", name="point_not_negative"),
        CheckConstraint("reorder_level >= reorder_point", name="level_above_point"),
    )

    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), primary_key=True)
    reorder_point: Mapped[int]
    reorder_level: Mapped[int]
