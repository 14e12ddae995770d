"""Rollups of the purchasing and finance reports (issue 17, DESIGN §6.11), kept current by
database triggers in the transaction of the change they count (migration
0054_purchase_finance_rollups): the reports read these, never the whole history.

Days are business days (Asia/Shanghai). Money is integer fen."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.db.base import Base

OPEN_PO_STATUSES = ("approved", "sent", "receiving")


class ReportPoFact(Base):
    """One row per PO: its supplier, status, when it was approved (first seen approved or
    later) and closed, the date its goods are expected, units ordered and received so far."""

    __tablename__ = "report_po_facts"
    __table_args__ = (
        Index(
            "ix_report_po_facts_open",
            "supplier_id",
            "approved_at",
            postgresql_where=text("status IN ('approved','sent','receiving')"),
        ),
    )

    po_no: Mapped[str] = mapped_column(String(24), primary_key=True)
    supplier_id: Mapped[int]
    status: Mapped[str] = mapped_column(String(20))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    expected_on: Mapped[date | None] = mapped_column(Date)
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ordered_units: Mapped[int] = mapped_column(BigInteger)
    received_units: Mapped[int] = mapped_column(BigInteger)


class ReportSupplierDay(Base):
    """Per business day and supplier: POs closed that day with their units ordered and
    received (the fill rate), and receipts that day, on time or not (the on-time rate)."""

    __tablename__ = "report_supplier_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    supplier_id: Mapped[int] = mapped_column(primary_key=True)
    pos_closed: Mapped[int]
    units_ordered: Mapped[int] = mapped_column(BigInteger)
    units_received: Mapped[int] = mapped_column(BigInteger)
    receipts: Mapped[int]
    receipts_on_time: Mapped[int]


class ReportPriceDay(Base):
    """Per SKU, business day of approval and supplier: the PO lines approved, their units, value
    (Σ units × unit price) and lowest and highest unit price."""

    __tablename__ = "report_price_days"

    sku_id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    supplier_id: Mapped[int] = mapped_column(primary_key=True)
    lines: Mapped[int]
    units: Mapped[int] = mapped_column(BigInteger)
    value_fen: Mapped[int] = mapped_column(BigInteger)
    min_price_fen: Mapped[int] = mapped_column(BigInteger)
    max_price_fen: Mapped[int] = mapped_column(BigInteger)


class ReportMoneyDay(Base):
    """The money ledger's refunds and supplier entries summed per business day, entry type,
    cause (refunds: why the money went back; '' otherwise) and supplier (0: an order's entry):
    Σ amount_fen as the ledger signs it. Orders' payments and forfeits are not summed."""

    __tablename__ = "report_money_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    entry_type: Mapped[str] = mapped_column(String(20), primary_key=True)
    cause: Mapped[str] = mapped_column(String(24), primary_key=True)
    supplier_id: Mapped[int] = mapped_column(primary_key=True)
    entries: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)


class ReportPayable(Base):
    """What each PO still owes its supplier (Σ of its money ledger rows), with the invoice's
    date and due date once invoiced. Settled POs owe 0 and drop out of the partial index."""

    __tablename__ = "report_payables"
    __table_args__ = (
        Index(
            "ix_report_payables_owed",
            "supplier_id",
            "due_date",
            postgresql_where=text("owed_fen <> 0"),
        ),
    )

    po_no: Mapped[str] = mapped_column(String(24), primary_key=True)
    supplier_id: Mapped[int]
    invoice_date: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    owed_fen: Mapped[int] = mapped_column(BigInteger)


class ReportReconciliationDay(Base):
    """Reconciliation differences per business day, kind, entry type and state (open or
    resolved): how many and Σ |provider amount − ledger amount|."""

    __tablename__ = "report_reconciliation_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), primary_key=True)
    entry_type: Mapped[str] = mapped_column(String(12), primary_key=True)
    resolved: Mapped[bool] = mapped_column(primary_key=True)
    differences: Mapped[int]
    amount_fen: Mapped[int] = mapped_column(BigInteger)
