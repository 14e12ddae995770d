"""Supplier, supplier product and carrier schemas."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from api.pagination import Page
from api.schemas.common import (
    Code,
    Fen,
    Name,
    Patch,
    PositiveInt,
    Public,
    Quantity,
    ShortName,
    Strict,
    TimeOfDay,
)
from api.schemas.types import Id

SupplierStatus = Literal["pending", "approved", "suspended"]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Phone = Annotated[str, StringConstraints(pattern=r"^[0-9+\-() ]{0,32}$")]
Email = Annotated[str, StringConstraints(pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=200)]


class SupplierCreate(Strict):
    code: Code
    name: Name
    contact_name: Short = ""
    phone: Phone = ""
    email: Email = ""
    payment_terms_days: Annotated[int, Field(ge=0, le=365, strict=True)] = 30
    status: SupplierStatus = "pending"


class SupplierUpdate(Patch):
    name: Name | None = None
    contact_name: Short | None = None
    phone: Phone | None = None
    email: Email | None = None
    payment_terms_days: Annotated[int, Field(ge=0, le=365, strict=True)] | None = None
    status: SupplierStatus | None = None


class SupplierPublic(Public):
    id: int
    code: str
    name: str
    contact_name: str
    phone: str
    email: str
    payment_terms_days: int
    status: str


class SupplierProductCreate(Strict):
    sku_id: Id
    supply_price_fen: Fen
    purchase_unit: Annotated[str, StringConstraints(min_length=1, max_length=16)] = "件"
    units_per_purchase_unit: PositiveInt = 1
    lead_time_days: Quantity = 3
    preferred: bool = False


class SupplierProductUpdate(Patch):
    supply_price_fen: Fen | None = None
    purchase_unit: Annotated[str, StringConstraints(min_length=1, max_length=16)] | None = None
    units_per_purchase_unit: PositiveInt | None = None
    lead_time_days: Quantity | None = None
    preferred: bool | None = None


class SupplierProductPublic(Public):
    id: int
    supplier_id: int
    sku_id: int
    supply_price_fen: int
    purchase_unit: str
    units_per_purchase_unit: int
    lead_time_days: int
    preferred: bool


TrackingMode = Literal["carrier_issued", "prepurchased_range"]


class CarrierCutoffIn(Strict):
    warehouse_id: Id
    cutoff_local: TimeOfDay


class CarrierCreate(Strict):
    code: Code
    name: ShortName
    tracking_mode: TrackingMode = "carrier_issued"
    cutoffs: Annotated[list[CarrierCutoffIn], Field(max_length=50)] = []


class CarrierUpdate(Patch):
    name: ShortName | None = None
    tracking_mode: TrackingMode | None = None
    active: bool | None = None
    cutoffs: Annotated[list[CarrierCutoffIn], Field(max_length=50)] | None = None


class CarrierCutoffPublic(Public):
    warehouse_id: int
    cutoff_local: TimeOfDay


class CarrierPublic(Public):
    id: int
    code: str
    name: str
    tracking_mode: str
    active: bool
    cutoffs: list[CarrierCutoffPublic] = []


SuppliersPublic = Page[SupplierPublic]
SupplierProductsPublic = Page[SupplierProductPublic]
CarriersPublic = Page[CarrierPublic]
