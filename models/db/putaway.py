"""Putaway (上架, DESIGN §6.9): units that landed in a receiving location (accepted receipt
lines, restocked customer returns) wait there, on hand but not pickable, until a putaway task
moves them to a storage location. A task may be put in several goes (`put` so far); each go is
one row of `putaway_puts`, keyed by the device-made action id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Sequence,
    String,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.db.base import Base

PUTAWAY_SEQUENCE = Sequence("putaway_task_seq", metadata=Base.metadata)


class PutawayTask(Base):
    __tablename__ = "putaway_tasks"
    __table_args__ = (
        CheckConstraint("status IN ('open','done','cancelled')", name="status_known"),
        CheckConstraint(
            "source_type IN ('purchase_receipt','after_sale')", name="source_type_known"
        ),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("put >= 0 AND put <= quantity", name="put_within_quantity"),
        Index("ix_putaway_tasks_warehouse_status", "warehouse_id", "status"),
    )

    task_no: Mapped[str] = mapped_column(String(32), primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    batch_no: Mapped[str] = mapped_column(String(40), default="")
    from_location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    quantity: Mapped[int]
    put: Mapped[int] = mapped_column(default=0)
    suggested_location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    status: Mapped[str] = mapped_column(String(12), default="open")
    source_type: Mapped[str] = mapped_column(String(20))
    source_no: Mapped[str] = mapped_column(String(40))
    # What made the task, once: `<receipt no>:in:<n>`, `return:<as no>:<line>`.
    source_key: Mapped[str] = mapped_column(String(80), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    done_by: Mapped[str | None] = mapped_column(String(120))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PutawayPut(Base):
    """One put of a task: `quantity` units to `to_location_id`, by the device's action id (a
    resent action finds its row and moves nothing again)."""

    __tablename__ = "putaway_puts"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    action_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    task_no: Mapped[str] = mapped_column(ForeignKey("putaway_tasks.task_no"), index=True)
    to_location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    quantity: Mapped[int]
    actor: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
