"""Group buys (拼团, DESIGN §6.8): the offers operations configure, the groups buyers open on
them and each group's members (one order each). Offers are written by the API; groups and
members are the projection their workflows (`group-GB…`) write through activities, the live
state being the workflow."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.db.base import Base

GROUP_STATUSES = ("forming", "completed", "failed")
MEMBER_STATUSES = ("joined", "paid", "left", "completed", "failed")


def _known(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ",".join(f"'{v}'" for v in values) + ")"


class GroupBuyOffer(Base):
    """One SKU sold at `group_price_fen` to groups of `group_size` filled within
    `time_limit_minutes`, groups opened within [starts_at, ends_at) unless stopped earlier."""

    __tablename__ = "group_buy_offers"
    __table_args__ = (
        CheckConstraint("group_price_fen > 0", name="price_positive"),
        CheckConstraint("group_size BETWEEN 2 AND 100", name="size_range"),
        CheckConstraint("time_limit_minutes > 0", name="time_limit_positive"),
        CheckConstraint("ends_at > starts_at", name="window_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"), index=True)
    group_price_fen: Mapped[int] = mapped_column(BigInteger)
    group_size: Mapped[int]
    time_limit_minutes: Mapped[int]
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class GroupBuy(Base):
    __tablename__ = "group_buys"
    __table_args__ = (
        CheckConstraint(_known("status", GROUP_STATUSES), name="status_known"),
        Index("ix_group_buys_offer_status", "offer_id", "status"),
    )

    group_no: Mapped[str] = mapped_column(String(24), primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("group_buy_offers.id"))
    status: Mapped[str] = mapped_column(String(12))
    opened_by: Mapped[int] = mapped_column(BigInteger)
    group_size: Mapped[int]
    members: Mapped[int] = mapped_column(default=0)  # seats held (joined or paid)
    paid: Mapped[int] = mapped_column(default=0)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(200), default="")
    # The workflow's count of views written: an older view never overwrites a newer one.
    version: Mapped[int] = mapped_column(default=0)


class GroupBuyMember(Base):
    __tablename__ = "group_buy_members"
    __table_args__ = (CheckConstraint(_known("status", MEMBER_STATUSES), name="status_known"),)

    group_no: Mapped[str] = mapped_column(ForeignKey("group_buys.group_no"), primary_key=True)
    order_no: Mapped[str] = mapped_column(String(24), primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, index=True)  # the storefront's key
    # The member (customers.id): one customer holds one seat of a group, whatever the storefront
    # keys (two storefronts' customer 7 are two members).
    customer_record_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    status: Mapped[str] = mapped_column(String(12))
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
