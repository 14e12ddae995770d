"""Flash sale schemas (秒杀, DESIGN §6.8)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from api.pagination import Page
from api.schemas.common import Public, Strict
from api.schemas.types import AwareInstant, Fen, Id, PositiveInt, Reason, ShortName

FlashSaleStatus = Literal["scheduled", "open", "closed"]
FlashSaleSort = Literal["-starts_at", "starts_at", "-id", "id"]


class FlashSaleCreate(Strict):
    name: ShortName
    sku_id: Id
    warehouse_id: Id  # the units are carved from this warehouse's sellable stock
    price_fen: Fen
    quantity: PositiveInt  # units to carve at opening
    per_customer_limit: PositiveInt
    starts_at: AwareInstant  # now or earlier: opens at once
    ends_at: AwareInstant


class FlashStopIn(Strict):
    reason: Reason


class FlashSalePublic(Public):
    id: int
    flash_no: str
    name: str
    sku_id: int
    warehouse_id: int
    price_fen: int
    planned: int
    per_customer_limit: int
    starts_at: datetime
    ends_at: datetime
    status: FlashSaleStatus
    total: int
    sold: int
    remaining: int
    held: int
    returned: int
    created_by: str
    opened_at: datetime | None
    closed_at: datetime | None
    closed_by: str | None
    close_reason: str | None


class FlashSaleDetail(FlashSalePublic):
    paid_orders: int
    paid_units: int
    unpaid_orders: int
    unpaid_units: int
    released_orders: int
    released_units: int


class FlashSalesPublic(Page[FlashSalePublic]):
    pass
