"""Stock count (盘点) request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from api.schemas.common import Public, Strict
from api.schemas.types import Id


class CountCreate(Strict):
    location_ids: Annotated[list[Id], Field(min_length=1, max_length=500)]


class CountEntryIn(Strict):
    entry_key: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    location_id: Id
    sku_id: Id
    batch_no: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] = ""
    quantity: Annotated[int, Field(ge=0, le=10_000_000)]


class CountEntriesIn(Strict):
    entries: Annotated[list[CountEntryIn], Field(min_length=1, max_length=1000)]


class DifferencePublic(Public):
    location_id: int
    sku_id: int
    batch_no: str
    book: int
    counted: int
    difference: int
    kind: str  # surplus (盘盈) | deficit (盘亏)


class CountedPublic(Public):
    """What was counted so far for one (location, SKU, batch): the scans added up."""

    location_id: int
    sku_id: int
    batch_no: str
    quantity: int


class CountPublic(Public):
    count_no: str
    warehouse_id: int
    status: str
    created_by: str
    decided_by: str | None
    created_at: datetime
    decided_at: datetime | None
    location_ids: list[int]
    entries: int
    differences: list[DifferencePublic]  # against the book now; booked ones once approved
    # A blind count (盲盘): whoever may not approve counts (a device, a worker) never sees the
    # book, so `differences` is empty for them; `counted` is what was counted, never the book.
    blind: bool = False
    counted: list[CountedPublic] = []
