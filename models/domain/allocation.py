"""Location allocation inside a warehouse (DESIGN §5, issue 4 item 1): which batches at which
locations an outbound line is picked from.

Rules, in this order:
- a batch is a candidate when it is not disabled, not expired on the warehouse's `today`
  (a batch expiring today is still sold today), and has free units (quantity − reserved > 0);
- FEFO: the earliest expiry first; batches without an expiry date come after every dated one;
- then FIFO: the earliest production date first (none last), then the earliest receipt;
- ties end on the batch's id, so the same stock always gives the same allocation;
- take as much as possible from each batch in that order; what no batch can give is `short`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class BatchStock(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int  # the location_stocks row
    location_id: int
    batch_no: str = ""
    quantity: int = Field(ge=0)
    reserved: int = Field(ge=0)
    production_date: date | None = None
    expiry_date: date | None = None
    received_at: datetime
    disabled: bool = False

    @property
    def free(self) -> int:
        return max(0, self.quantity - self.reserved)


class Take(BaseModel):
    model_config = ConfigDict(frozen=True)

    batch: BatchStock
    quantity: int = Field(gt=0)


class Allocation(BaseModel):
    model_config = ConfigDict(frozen=True)

    takes: tuple[Take, ...]
    short: int = Field(ge=0)


def pickable(batch: BatchStock, today: date) -> bool:
    expired = batch.expiry_date is not None and batch.expiry_date < today
    return not batch.disabled and not expired and batch.free > 0


def batch_order(batch: BatchStock) -> tuple[bool, date, bool, date, datetime, int]:
    """FEFO, then FIFO by production date, then receipt; undated goes last; id breaks ties."""
    return (
        batch.expiry_date is None,
        batch.expiry_date or date.max,
        batch.production_date is None,
        batch.production_date or date.max,
        batch.received_at,
        batch.id,
    )


def allocate(quantity: int, batches: Iterable[BatchStock], today: date) -> Allocation:
    """Units of one line from the given batches of its SKU in one warehouse."""
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    takes: list[Take] = []
    remaining = quantity
    for batch in sorted((b for b in batches if pickable(b, today)), key=batch_order):
        take = min(remaining, batch.free)
        takes.append(Take(batch=batch, quantity=take))
        remaining -= take
        if remaining == 0:
            break
    return Allocation(takes=tuple(takes), short=remaining)
