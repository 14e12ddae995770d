"""Catalog routes: categories, brands, products (SPU with SKUs) and SKUs."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Query
from sqlalchemy import or_, select

from api.crud import apply_update, check_refs, get_or_404
from api.deps import Session, Writer, require, writer
from api.errors import invalid
from api.pagination import Paging, fetch_page
from api.routing import Routes
from api.schemas.catalog import (
    BrandCreate,
    BrandPublic,
    BrandsPublic,
    CategoriesPublic,
    CategoryCreate,
    CategoryPublic,
    CategoryUpdate,
    ProductCreate,
    ProductPublic,
    ProductsPublic,
    ProductUpdate,
    SkuCreate,
    SkuPublic,
    SkusPublic,
    SkuUpdate,
)
from api.schemas.types import IdParam, TextParam
from models.db import Brand, Category, FreightTemplate, Sku, Spu

router = Routes(prefix="/v1", tags=["catalog"])
Read = Depends(require("catalog.read"))
Write = Annotated[Writer, Depends(writer("catalog.write"))]
SkuSort = Literal[
    "id", "-id", "code", "-code", "name", "-name", "list_price_fen", "-list_price_fen"
]
SKU_SORTS = {"id": Sku.id, "code": Sku.code, "name": Sku.name, "list_price_fen": Sku.list_price_fen}


@router.get("/categories", dependencies=[Read])
async def list_categories(session: Session, paging: Paging) -> CategoriesPublic:
    rows, count = await fetch_page(session, select(Category).order_by(Category.id), paging)
    return CategoriesPublic(data=[CategoryPublic.model_validate(r) for r in rows], count=count)


@router.post("/categories", status_code=201)
async def create_category(body: CategoryCreate, w: Write) -> CategoryPublic:
    await check_refs(w.session, {"parent_id": (Category, body.parent_id)})
    category = Category(**body.model_dump())
    w.session.add(category)
    await w.session.flush()
    await w.commit("category.create", "category", category.id)
    return CategoryPublic.model_validate(category)


@router.get("/categories/{category_id}", dependencies=[Read])
async def get_category(category_id: IdParam, session: Session) -> CategoryPublic:
    return CategoryPublic.model_validate(
        await get_or_404(session, Category, category_id, "category")
    )


async def _check_no_cycle(session: Session, category_id: int, parent_id: int | None) -> None:
    """The new parent may be neither the category itself nor one of its descendants."""
    seen: set[int] = set()
    while parent_id is not None and parent_id not in seen:
        if parent_id == category_id:
            raise invalid("parent_id", "a category cannot be its own ancestor", "category_cycle")
        seen.add(parent_id)
        parent_id = await session.scalar(select(Category.parent_id).where(Category.id == parent_id))


@router.patch("/categories/{category_id}")
async def update_category(category_id: IdParam, body: CategoryUpdate, w: Write) -> CategoryPublic:
    category = await get_or_404(w.session, Category, category_id, "category")
    await check_refs(w.session, {"parent_id": (Category, body.parent_id)})
    await _check_no_cycle(w.session, category_id, body.parent_id)
    changes = apply_update(category, body)
    await w.commit("category.update", "category", category.id, changes)
    return CategoryPublic.model_validate(category)


@router.get("/brands", dependencies=[Read])
async def list_brands(session: Session, paging: Paging) -> BrandsPublic:
    rows, count = await fetch_page(session, select(Brand).order_by(Brand.id), paging)
    return BrandsPublic(data=[BrandPublic.model_validate(r) for r in rows], count=count)


@router.post("/brands", status_code=201)
async def create_brand(body: BrandCreate, w: Write) -> BrandPublic:
    brand = Brand(name=body.name)
    w.session.add(brand)
    await w.session.flush()
    await w.commit("brand.create", "brand", brand.id)
    return BrandPublic.model_validate(brand)


async def _product_public(w_session: Session, spu: Spu) -> ProductPublic:
    skus = await w_session.scalars(select(Sku).where(Sku.spu_id == spu.id).order_by(Sku.id))
    return ProductPublic(
        id=spu.id,
        code=spu.code,
        name=spu.name,
        category_id=spu.category_id,
        brand_id=spu.brand_id,
        description=spu.description,
        active=spu.active,
        skus=[SkuPublic.model_validate(s) for s in skus],
    )


async def _check_sku_refs(session: Session, skus: list[SkuCreate], prefix: str = "skus") -> None:
    """422 for an unknown freight template, named as the client sent it: `skus.1.…` inside a
    product, plain `freight_template_id` for a SKU posted on its own (prefix "")."""
    for i, sku in enumerate(skus):
        field = f"{prefix}.{i}.freight_template_id" if prefix else "freight_template_id"
        await check_refs(session, {field: (FreightTemplate, sku.freight_template_id)})


@router.get("/products", dependencies=[Read])
async def list_products(
    session: Session, paging: Paging, category_id: IdParam | None = None, q: TextParam | None = None
) -> ProductsPublic:
    query = select(Spu).order_by(Spu.id)
    if category_id is not None:
        query = query.where(Spu.category_id == category_id)
    if q:
        query = query.where(or_(Spu.name.icontains(q), Spu.code.icontains(q)))
    rows, count = await fetch_page(session, query, paging)
    return ProductsPublic(data=[await _product_public(session, r) for r in rows], count=count)


@router.post("/products", status_code=201)
async def create_product(body: ProductCreate, w: Write) -> ProductPublic:
    await check_refs(
        w.session, {"category_id": (Category, body.category_id), "brand_id": (Brand, body.brand_id)}
    )
    await _check_sku_refs(w.session, body.skus)
    spu = Spu(**body.model_dump(exclude={"skus"}))
    w.session.add(spu)
    await w.session.flush()
    w.session.add_all(Sku(spu_id=spu.id, **s.model_dump()) for s in body.skus)
    await w.session.flush()
    await w.commit("product.create", "product", spu.id, {"skus": [s.code for s in body.skus]})
    return await _product_public(w.session, spu)


@router.get("/products/{product_id}", dependencies=[Read])
async def get_product(product_id: IdParam, session: Session) -> ProductPublic:
    return await _product_public(session, await get_or_404(session, Spu, product_id, "product"))


@router.patch("/products/{product_id}")
async def update_product(product_id: IdParam, body: ProductUpdate, w: Write) -> ProductPublic:
    spu = await get_or_404(w.session, Spu, product_id, "product")
    await check_refs(
        w.session, {"category_id": (Category, body.category_id), "brand_id": (Brand, body.brand_id)}
    )
    changes = apply_update(spu, body)
    await w.commit("product.update", "product", spu.id, changes)
    return await _product_public(w.session, spu)


@router.post("/products/{product_id}/skus", status_code=201)
async def add_sku(product_id: IdParam, body: SkuCreate, w: Write) -> SkuPublic:
    await get_or_404(w.session, Spu, product_id, "product")
    await _check_sku_refs(w.session, [body], prefix="")
    sku = Sku(spu_id=product_id, **body.model_dump())
    w.session.add(sku)
    await w.session.flush()
    await w.commit("sku.create", "sku", sku.id)
    return SkuPublic.model_validate(sku)


@router.get("/skus", dependencies=[Read])
async def list_skus(
    session: Session,
    paging: Paging,
    q: Annotated[TextParam | None, Query(max_length=100)] = None,
    barcode: TextParam | None = None,
    category_id: IdParam | None = None,
    active: bool | None = None,
    ids: Annotated[list[IdParam] | None, Query(max_length=200)] = None,
    sort: SkuSort = "id",
) -> SkusPublic:
    """SKUs under the filters; `ids` (repeated, up to 200) picks given ones in one call."""
    column = SKU_SORTS[sort.removeprefix("-")]
    query = select(Sku).order_by(column.desc() if sort.startswith("-") else column, Sku.id)
    if active is not None:
        query = query.where(Sku.active.is_(active))
    if q:
        query = query.where(or_(Sku.name.icontains(q), Sku.code.icontains(q)))
    if barcode:
        query = query.where(Sku.barcode == barcode)
    if ids:
        query = query.where(Sku.id.in_(ids))
    if category_id is not None:
        query = query.join(Spu, Spu.id == Sku.spu_id).where(Spu.category_id == category_id)
    rows, count = await fetch_page(session, query, paging)
    return SkusPublic(data=[SkuPublic.model_validate(r) for r in rows], count=count)


@router.get("/skus/{sku_id}", dependencies=[Read])
async def get_sku(sku_id: IdParam, session: Session) -> SkuPublic:
    return SkuPublic.model_validate(await get_or_404(session, Sku, sku_id, "sku"))


@router.patch("/skus/{sku_id}")
async def update_sku(sku_id: IdParam, body: SkuUpdate, w: Write) -> SkuPublic:
    sku = await get_or_404(w.session, Sku, sku_id, "sku")
    await check_refs(
        w.session, {"freight_template_id": (FreightTemplate, body.freight_template_id)}
    )
    changes = apply_update(sku, body)
    await w.session.flush()
    await w.commit("sku.update", "sku", sku.id, changes)
    return SkuPublic.model_validate(sku)
