"""The sales report's rollup (issue 17): figures per (business day, SKU, storefront, warehouse,
province), kept current by statement triggers of migration 0051_sales_rollups on order_lines,
money_ledger and stock_cost_entries, in the transaction that writes those rows. Every period and
dimension of the report is an aggregate over this table, never over orders
(docs/architecture.md, "Reports")."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from models.db.base import Base


class SalesRollup(Base):
    __tablename__ = "sales_rollup"

    day: Mapped[date] = mapped_column(primary_key=True)  # business day, Asia/Shanghai
    sku_id: Mapped[int] = mapped_column(primary_key=True)
    api_key_id: Mapped[int] = mapped_column(primary_key=True)  # the storefront
    warehouse_id: Mapped[int] = mapped_column(primary_key=True)  # 0: none reserved
    province: Mapped[str] = mapped_column(String(6), primary_key=True)  # e.g. 440000
    units_placed: Mapped[int] = mapped_column(BigInteger)
    gmv_fen: Mapped[int] = mapped_column(BigInteger)  # list value of the lines placed
    discount_fen: Mapped[int] = mapped_column(BigInteger)  # their allocated discounts
    paid_fen: Mapped[int] = mapped_column(BigInteger)  # the ledger's payments
    refunded_fen: Mapped[int] = mapped_column(BigInteger)  # the ledger's refunds, positive
    units_shipped: Mapped[int] = mapped_column(BigInteger)
    units_returned: Mapped[int] = mapped_column(BigInteger)
    cogs_fen: Mapped[int] = mapped_column(BigInteger)  # shipped cost − returned cost


class SalesRollupBy(Base):
    """The same figures summed per business day and ONE dimension (category as the SKU's at the
    time, sku, storefront, warehouse, province), written by the same trigger statements as
    SalesRollup: the report reads these few hundred rows a day. A (day, dimension, key) is
    spread over a few `slot` rows (the writer's connection) so that concurrent orders seldom
    wait on one row; readers sum the slots."""

    __tablename__ = "sales_rollup_by"

    day: Mapped[date] = mapped_column(primary_key=True)
    dimension: Mapped[str] = mapped_column(String(12), primary_key=True)
    key: Mapped[str] = mapped_column(String(12), primary_key=True)
    slot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    units_placed: Mapped[int] = mapped_column(BigInteger)
    gmv_fen: Mapped[int] = mapped_column(BigInteger)
    discount_fen: Mapped[int] = mapped_column(BigInteger)
    paid_fen: Mapped[int] = mapped_column(BigInteger)
    refunded_fen: Mapped[int] = mapped_column(BigInteger)
    units_shipped: Mapped[int] = mapped_column(BigInteger)
    units_returned: Mapped[int] = mapped_column(BigInteger)
    cogs_fen: Mapped[int] = mapped_column(BigInteger)
