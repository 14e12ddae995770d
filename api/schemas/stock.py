"""Stock schemas: warehouse figures, batches at locations, adjustments and the ledger."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from api.pagination import Page
from api.schemas.common import Public, Quantity, Reason, Strict
from api.schemas.types import Id

BatchNo = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9\-_.]{0,40}$")
]


class StockPublic(Public):
    sku_id: int
    warehouse_id: int
    on_hand: int
    reserved: int
    in_transit: int
    safety_hold: int
    blocked: int = 0  # in disabled batches: on hand, not sellable
    sellable: int


class StockRowPublic(StockPublic):
    """A row of the stock list: also the units waiting in receiving for putaway (待上架), on
    hand but not pickable until put away."""

    awaiting_putaway: int = 0


class BatchStockPublic(Public):
    id: int
    sku_id: int
    warehouse_id: int
    location_id: int
    batch_no: str
    production_date: date | None
    expiry_date: date | None
    received_at: datetime
    quantity: int
    reserved: int
    disabled: bool


class StockAdjustmentCreate(Strict):
    """A counted correction: +n puts units on hand at a location/batch, -n takes them off."""

    sku_id: Id
    warehouse_id: Id
    location_id: Id
    quantity_delta: Annotated[int, Field(ge=-(10**9), le=10**9, strict=True)]
    batch_no: BatchNo = ""
    production_date: date | None = None
    expiry_date: date | None = None
    reason: Reason
    # A client-chosen key makes a retried request a no-op instead of a second adjustment.
    client_ref: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None

    # Field validators (not a model validator) so the 422 names the offending field.
    @field_validator("quantity_delta")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("must not be 0")
        return value

    @field_validator("expiry_date")
    @classmethod
    def _after_production(cls, value: date | None, info: ValidationInfo) -> date | None:
        produced = info.data.get("production_date")
        if value is not None and produced is not None and value < produced:
            raise ValueError("is before production_date")
        return value


class MovementPublic(Public):
    id: int
    created_at: datetime
    movement_type: str
    sku_id: int
    warehouse_id: int
    location_id: int | None
    batch_no: str | None
    on_hand_delta: int
    reserved_delta: int
    in_transit_delta: int
    ref_type: str
    ref_no: str
    actor: str
    reason: str


class StockAdjustmentPublic(Public):
    movement: MovementPublic
    stock: StockPublic


class SafetyHoldSet(Strict):
    safety_hold: Quantity
    reason: Reason


class BatchUpdate(Strict):
    disabled: bool
    reason: Reason


StocksPublic = Page[StockRowPublic]


class StockValuePublic(Public):
    """A SKU's stock value in a warehouse (moving weighted average cost, docs/architecture.md
    "Inventory cost"): value_fen in whole fen; unit_cost_fen = value_fen // on_hand."""

    sku_id: int
    warehouse_id: int
    on_hand: int
    unit_cost_fen: int
    value_fen: int


class StockValuesPublic(Page[StockValuePublic]):
    total_value_fen: int = 0  # of every row matching the filters, not just this page


BatchStocksPublic = Page[BatchStockPublic]
MovementsPublic = Page[MovementPublic]


MoveId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9\-_.:]{1,64}$")]


class LocationMoveCreate(Strict):
    """Units of one SKU batch from one location to another of the same warehouse (移库)."""

    # Chosen by the client (console form, handheld): a retried request moves the units once.
    move_id: MoveId
    sku_id: Id
    warehouse_id: Id
    from_location_id: Id
    to_location_id: Id
    quantity: Annotated[int, Field(ge=1, le=10**9, strict=True)]
    batch_no: BatchNo = ""


class LocationMovePublic(Public):
    move_id: str
    out: MovementPublic
    into: MovementPublic
    replayed: bool
