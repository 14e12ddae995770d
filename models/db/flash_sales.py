"""Flash sales (秒杀, DESIGN §6.8): the campaign with its carved stock and live figures, each
buyer's running count (the per-customer limit) and each order's claim on the campaign.

`held` is what the campaign keeps in `stocks.reserved` of its SKU and warehouse (carved at
opening, given back at closing, each a stock movement); `sold` is the units claimed by orders
that still hold them (the gate raises it, an unpaid order's release lowers it).

The per-customer limit counts the customer record (customers.id): two storefronts naming their
customers by the same key are two buyers. A claim keeps the storefront's key too, as its order
names it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from models.db.base import Base, Timestamped

FLASH_SALE_STATUSES = ("scheduled", "open", "closed")
CLAIM_STATUSES = ("claimed", "reserved", "released")


class FlashSale(Timestamped, Base):
    __tablename__ = "flash_sales"
    __table_args__ = (
        CheckConstraint("status IN ('scheduled','open','closed')", name="status_known"),
        CheckConstraint("planned > 0 AND per_customer_limit > 0", name="positive_terms"),
        CheckConstraint("price_fen >= 0", name="price_not_negative"),
        CheckConstraint("sold >= 0 AND sold <= total", name="sold_within_total"),
        CheckConstraint("held >= 0 AND total >= 0 AND returned >= 0", name="figures_not_negative"),
        CheckConstraint("ends_at > starts_at", name="window_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    flash_no: Mapped[str] = mapped_column(String(24), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    price_fen: Mapped[int] = mapped_column(BigInteger)
    planned: Mapped[int]  # units asked for; `total` is what opening could carve
    per_customer_limit: Mapped[int]
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    total: Mapped[int] = mapped_column(default=0)
    sold: Mapped[int] = mapped_column(default=0)
    held: Mapped[int] = mapped_column(default=0)
    returned: Mapped[int] = mapped_column(default=0)
    workflow_id: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(100))
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str | None] = mapped_column(String(100))
    close_reason: Mapped[str | None] = mapped_column(String(200))


class FlashBuyer(Base):
    """Units a customer holds in a flash sale (claims not released): the per-customer limit.
    `customer_id` is the customer record (customers.id)."""

    __tablename__ = "flash_buyers"
    __table_args__ = (CheckConstraint("bought >= 0", name="bought_not_negative"),)

    flash_sale_id: Mapped[int] = mapped_column(ForeignKey("flash_sales.id"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    bought: Mapped[int]


class FlashClaim(Base):
    """An order's units of a flash sale: `claimed` by the gate, `reserved` once the order holds
    them, `released` when the order gave them back (unpaid, cancelled, placement failed)."""

    __tablename__ = "flash_claims"
    __table_args__ = (
        CheckConstraint("status IN ('claimed','reserved','released')", name="status_known"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_flash_claims_sale", "flash_sale_id", "status"),
        # The hand-off sweep's claims not yet taken by an order (workers/handoffs.py): few.
        Index(
            "ix_flash_claims_unstarted", "claimed_at", postgresql_where=text("status = 'claimed'")
        ),
    )

    order_no: Mapped[str] = mapped_column(String(24), primary_key=True)
    flash_sale_id: Mapped[int] = mapped_column(ForeignKey("flash_sales.id"))
    customer_id: Mapped[int] = mapped_column(BigInteger)  # the storefront's key (the order's)
    customer_record_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))  # the buyer
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    quantity: Mapped[int]
    price_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="claimed")
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    returned_to: Mapped[str | None] = mapped_column(String(16))  # 'campaign' or 'stock'
