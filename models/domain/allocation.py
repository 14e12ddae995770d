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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime


# Plain frozen dataclasses: a wave allocates thousands of lines against thousands of batches
# read from the database (already valid there), and validation would be most of the work.
@dataclass(frozen=True, slots=True, kw_only=True)
class BatchStock:
    id: int  # the location_stocks row
    location_id: int
    received_at: datetime
    quantity: int
    reserved: int
    batch_no: str = ""
    production_date: date | None = None
    expiry_date: date | None = None
    disabled: bool = False

    @property
    def free(self) -> int:
        return max(0, self.quantity - self.reserved)


@dataclass(frozen=True, slots=True)
class Take:
    batch: BatchStock
    quantity: int


@dataclass(frozen=True, slots=True)
class Allocation:
    takes: tuple[Take, ...]
    short: int


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


def allocate(
    quantity: int,
    batches: Sequence[BatchStock],
    today: date,
    taken: Mapping[int, int] | None = None,
) -> Allocation:
    """Units of one line from the given batches of its SKU in one warehouse; `taken` (batch id
    → units) is what earlier lines of the same run already hold beyond `reserved`."""
    return allocate_in_order(quantity, in_pick_order(batches, today), taken)


def in_pick_order(batches: Sequence[BatchStock], today: date) -> list[BatchStock]:
    """The batches a line may be picked from on `today`, in the order they are taken. A wave
    builder sorts each SKU's batches once for all its lines (`allocate_in_order`)."""
    return sorted((b for b in batches if pickable(b, today)), key=batch_order)


def allocate_in_order(
    quantity: int, ordered: Sequence[BatchStock], taken: Mapping[int, int] | None = None
) -> Allocation:
    """`allocate` over batches already filtered and sorted by `in_pick_order`."""
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    more = taken or {}
    takes: list[Take] = []
    remaining = quantity
    for batch in ordered:
        free = batch.free - more.get(batch.id, 0)
        if free <= 0:
            continue
        take = min(remaining, free)
        takes.append(Take(batch=batch, quantity=take))
        remaining -= take
        if remaining == 0:
            break
    return Allocation(takes=tuple(takes), short=remaining)


class Allocator:
    """The lines of one run (a wave build), one after another, from their SKUs' batches in pick
    order (`in_pick_order`): what `allocate_in_order` gives with the run's `taken`, without
    objects per take. A batch a line has used up is never looked at again."""

    def __init__(self, ordered: Mapping[int, Sequence[BatchStock]]) -> None:
        self._ordered = ordered
        self._left: dict[int, list[int]] = {}  # SKU → free units still left on each batch
        self._first: dict[int, int] = {}  # SKU → its first batch with units left
        self.taken: dict[int, int] = {}  # batch id → units the run's lines took from it

    def take(self, sku_id: int, quantity: int) -> tuple[list[tuple[BatchStock, int]], int]:
        """(batch, units) taken for a line of `quantity` units, in order, and the units short."""
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        batches = self._ordered.get(sku_id, ())
        left = self._left.get(sku_id)
        if left is None:
            left = self._left[sku_id] = [batch.free for batch in batches]
            self._first[sku_id] = 0
        takes: list[tuple[BatchStock, int]] = []
        remaining = quantity
        index = self._first[sku_id]
        while remaining and index < len(left):
            free = left[index]
            if free > 0:
                units = min(remaining, free)
                batch = batches[index]
                takes.append((batch, units))
                self.taken[batch.id] = self.taken.get(batch.id, 0) + units
                left[index] = free - units
                remaining -= units
            if left[index] <= 0:
                index += 1
        self._first[sku_id] = index
        return takes, remaining
