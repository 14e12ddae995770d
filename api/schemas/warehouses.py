"""Warehouse and location schemas."""

from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import available_timezones

from pydantic import AfterValidator, Field, StringConstraints

from api.pagination import Page
from api.schemas.common import Code, Patch, Public, Quantity, RegionCode, ShortName, Strict

_ZONES = frozenset(available_timezones())


def _known_timezone(value: str) -> str:
    if value not in _ZONES:
        raise ValueError(f"unknown timezone {value!r} (use an IANA name like Asia/Shanghai)")
    return value


Timezone = Annotated[str, AfterValidator(_known_timezone)]
LocationKind = Literal["storage", "receiving", "damage", "put_wall", "pack", "exception"]
Zone = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,8}$")]


class WarehouseCreate(Strict):
    code: Code
    name: ShortName
    region_code: RegionCode
    timezone: Timezone = "Asia/Shanghai"
    address: Annotated[str, StringConstraints(max_length=300)] = ""


class WarehouseUpdate(Patch):
    name: ShortName | None = None
    region_code: RegionCode | None = None
    timezone: Timezone | None = None
    address: Annotated[str, StringConstraints(max_length=300)] | None = None
    active: bool | None = None


class RegionPriority(Strict):
    region_code: RegionCode
    priority: Annotated[int, Field(ge=1, le=99, strict=True)]


class RegionPriorities(Strict):
    priorities: Annotated[list[RegionPriority], Field(max_length=100)]


class RegionPriorityPublic(Public):
    region_code: str
    priority: int


class WarehousePublic(Public):
    id: int
    code: str
    name: str
    region_code: str
    timezone: str
    address: str
    active: bool
    region_priorities: list[RegionPriorityPublic] = []


class LocationCreate(Strict):
    code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9\-]{1,32}$")]
    barcode: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9\-]{1,64}$")]
    kind: LocationKind = "storage"
    zone: Zone
    aisle: Quantity
    bay: Quantity
    level: Quantity
    x_cm: Quantity
    y_cm: Quantity


class LocationUpdate(Patch):
    kind: LocationKind | None = None
    active: bool | None = None


class LocationPublic(Public):
    id: int
    warehouse_id: int
    code: str
    barcode: str
    kind: str
    zone: str
    aisle: int
    bay: int
    level: int
    x_cm: int
    y_cm: int
    active: bool


WarehousesPublic = Page[WarehousePublic]
LocationsPublic = Page[LocationPublic]
