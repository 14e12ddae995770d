"""Transfer (between warehouses) request and response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from api.pagination import Page
from api.schemas.common import Public, Reason, Strict
from api.schemas.types import Id, LineNo, PositiveInt, Quantity

Key = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class TransferLineIn(Strict):
    sku_id: Id
    quantity: PositiveInt


class TransferCreate(Strict):
    from_warehouse_id: Id
    to_warehouse_id: Id
    lines: Annotated[list[TransferLineIn], Field(min_length=1, max_length=200)]
    note: Annotated[str, StringConstraints(max_length=500)] = ""
    request_key: Key | None = None  # the same key again answers the same transfer


class TransferReasonIn(Strict):
    reason: Reason


class ReceivedLineIn(Strict):
    line_no: LineNo
    good: Quantity
    damaged: Quantity = 0


class TransferReceiptIn(Strict):
    receipt_key: Key
    lines: Annotated[list[ReceivedLineIn], Field(min_length=1, max_length=200)]


class TransferLinePublic(Public):
    line_no: int
    sku_id: int
    sku_code: str
    sku_name: str
    sku_barcode: str | None
    quantity: int
    picked: int
    shipped: int
    good: int
    damaged: int
    short: int
    over: int


class TransferEventPublic(Public):
    at: datetime
    step: str
    actor: str
    detail: dict[str, object]


class TransferPublic(Public):
    transfer_no: str
    from_warehouse_id: int
    to_warehouse_id: int
    status: str
    carrier_code: str
    note: str
    reason: str
    wave_no: str | None
    receipt_key: str | None
    created_at: datetime
    updated_at: datetime
    lines: list[TransferLinePublic]
    timeline: list[TransferEventPublic]


class TransferSummary(Public):
    transfer_no: str
    from_warehouse_id: int
    to_warehouse_id: int
    status: str
    created_at: datetime
    updated_at: datetime


TransfersPublic = Page[TransferSummary]
