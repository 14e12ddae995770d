"""Catalog schemas: categories, brands, products (SPU) and SKUs."""

from __future__ import annotations

from typing import Annotated

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
)
from api.schemas.types import Id

Barcode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9A-Za-z\-]{4,64}$")]
Attributes = Annotated[
    dict[str, Annotated[str, StringConstraints(max_length=100)]], Field(max_length=30)
]


class CategoryCreate(Strict):
    code: Code
    name: ShortName
    parent_id: Id | None = None


class CategoryUpdate(Patch):
    nullable = frozenset({"parent_id"})

    name: ShortName | None = None
    parent_id: Id | None = None


class CategoryPublic(Public):
    id: int
    code: str
    name: str
    parent_id: int | None


class BrandCreate(Strict):
    name: ShortName


class BrandPublic(Public):
    id: int
    name: str


class SkuCreate(Strict):
    code: Code
    name: Name
    barcode: Barcode
    weight_g: PositiveInt
    volume_cm3: Quantity
    list_price_fen: Fen
    attributes: Attributes = Field(default_factory=dict)
    freight_template_id: Id | None = None
    batch_managed: bool = False
    shelf_life_days: PositiveInt | None = None


class SkuUpdate(Patch):
    nullable = frozenset({"freight_template_id", "shelf_life_days"})

    name: Name | None = None
    barcode: Barcode | None = None
    weight_g: PositiveInt | None = None
    volume_cm3: Quantity | None = None
    list_price_fen: Fen | None = None
    attributes: Attributes | None = None
    freight_template_id: Id | None = None
    shelf_life_days: PositiveInt | None = None
    active: bool | None = None


class SkuPublic(Public):
    id: int
    spu_id: int
    code: str
    name: str
    barcode: str
    weight_g: int
    volume_cm3: int
    list_price_fen: int
    attributes: dict[str, str]
    freight_template_id: int | None
    batch_managed: bool
    shelf_life_days: int | None
    active: bool


class ProductCreate(Strict):
    code: Code
    name: Name
    category_id: Id
    brand_id: Id | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    skus: Annotated[list[SkuCreate], Field(min_length=1, max_length=200)]


class ProductUpdate(Patch):
    nullable = frozenset({"brand_id"})

    name: Name | None = None
    category_id: Id | None = None
    brand_id: Id | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    active: bool | None = None


class ProductPublic(Public):
    id: int
    code: str
    name: str
    category_id: int
    brand_id: int | None
    description: str
    active: bool
    skus: list[SkuPublic]


CategoriesPublic = Page[CategoryPublic]
BrandsPublic = Page[BrandPublic]
SkusPublic = Page[SkuPublic]
ProductsPublic = Page[ProductPublic]
