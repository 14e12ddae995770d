"""Supplier routes: suppliers and the products each may supply."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy import select, update

from api.crud import apply_update, check_refs, get_or_404
from api.deps import Session, Writer, require, writer
from api.errors import Problem, not_found
from api.pagination import Paging, fetch_page
from api.routing import Routes
from api.schemas.partners import (
    SupplierCreate,
    SupplierProductCreate,
    SupplierProductPublic,
    SupplierProductsPublic,
    SupplierProductUpdate,
    SupplierPublic,
    SuppliersPublic,
    SupplierUpdate,
)
from api.schemas.types import IdParam, TextParam
from models.db import Sku, Supplier, SupplierProduct

router = Routes(prefix="/v1/suppliers", tags=["suppliers"])
Read = Depends(require("supplier.read"))
Write = Annotated[Writer, Depends(writer("supplier.write"))]
APPROVERS = frozenset({"purchasing_manager", "admin"})


@router.get("", dependencies=[Read])
async def list_suppliers(
    session: Session, paging: Paging, status: TextParam | None = None
) -> SuppliersPublic:
    query = select(Supplier).order_by(Supplier.id)
    if status:
        query = query.where(Supplier.status == status)
    rows, count = await fetch_page(session, query, paging)
    return SuppliersPublic(data=[SupplierPublic.model_validate(r) for r in rows], count=count)


@router.post("", status_code=201)
async def create_supplier(body: SupplierCreate, w: Write) -> SupplierPublic:
    supplier = Supplier(**body.model_dump())
    w.session.add(supplier)
    await w.session.flush()
    await w.commit("supplier.create", "supplier", supplier.id)
    return SupplierPublic.model_validate(supplier)


@router.get("/{supplier_id}", dependencies=[Read])
async def get_supplier(supplier_id: IdParam, session: Session) -> SupplierPublic:
    return SupplierPublic.model_validate(
        await get_or_404(session, Supplier, supplier_id, "supplier")
    )


@router.patch("/{supplier_id}")
async def update_supplier(supplier_id: IdParam, body: SupplierUpdate, w: Write) -> SupplierPublic:
    """Approving a supplier (status → approved) takes a purchasing manager (or admin): only
    approved suppliers' products can be ordered."""
    supplier = await get_or_404(w.session, Supplier, supplier_id, "supplier")
    approving = body.status == "approved" and supplier.status != "approved"
    if approving and not w.principal.roles & APPROVERS:
        raise Problem(403, "approving a supplier takes a purchasing manager",
                      type_="/problems/forbidden")  # fmt: skip
    changes = apply_update(supplier, body)
    await w.commit("supplier.update", "supplier", supplier.id, changes)
    return SupplierPublic.model_validate(supplier)


@router.get("/{supplier_id}/products", dependencies=[Read])
async def list_supplier_products(
    supplier_id: IdParam, session: Session, paging: Paging
) -> SupplierProductsPublic:
    await get_or_404(session, Supplier, supplier_id, "supplier")
    query = (
        select(SupplierProduct)
        .where(SupplierProduct.supplier_id == supplier_id)
        .order_by(SupplierProduct.sku_id)
    )
    rows, count = await fetch_page(session, query, paging)
    return SupplierProductsPublic(
        data=[SupplierProductPublic.model_validate(r) for r in rows], count=count
    )


async def _clear_other_preferred(w: Writer, sku_id: int, supplier_id: int) -> None:
    """One preferred supplier per SKU: choosing a new one un-prefers the old."""
    await w.session.execute(
        update(SupplierProduct)
        .where(SupplierProduct.sku_id == sku_id, SupplierProduct.supplier_id != supplier_id)
        .values(preferred=False)
    )


@router.post("/{supplier_id}/products", status_code=201)
async def add_supplier_product(
    supplier_id: IdParam, body: SupplierProductCreate, w: Write
) -> SupplierProductPublic:
    await get_or_404(w.session, Supplier, supplier_id, "supplier")
    await check_refs(w.session, {"sku_id": (Sku, body.sku_id)})
    if body.preferred:
        await _clear_other_preferred(w, body.sku_id, supplier_id)
    product = SupplierProduct(supplier_id=supplier_id, **body.model_dump())
    w.session.add(product)
    await w.session.flush()
    await w.commit("supplier_product.create", "supplier_product", product.id)
    return SupplierProductPublic.model_validate(product)


@router.patch("/{supplier_id}/products/{sku_id}")
async def update_supplier_product(
    supplier_id: IdParam, sku_id: IdParam, body: SupplierProductUpdate, w: Write
) -> SupplierProductPublic:
    product = await w.session.scalar(
        select(SupplierProduct).where(
            SupplierProduct.supplier_id == supplier_id, SupplierProduct.sku_id == sku_id
        )
    )
    if product is None:
        raise not_found("supplier product", f"{supplier_id}/{sku_id}")
    if body.preferred:
        await _clear_other_preferred(w, sku_id, supplier_id)
    changes = apply_update(product, body)
    await w.session.flush()
    await w.commit("supplier_product.update", "supplier_product", product.id, changes)
    return SupplierProductPublic.model_validate(product)
