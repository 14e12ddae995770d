"""Suppliers and what they supply (mirrors api/routes/suppliers.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.client import ApiClient, NotFound
from console.export import download, every_row
from console.lists import Filters, an_id, fetch_page, fragment_url, page_number
from console.lookups import sku_names
from console.pages import (
    SignedIn,
    is_fragment_request,
    render,
    translator,
)
from console.purchase_lists import SUPPLIER_STATUSES, label_of

router = APIRouter()


# --- suppliers ------------------------------------------------------------------------------------

SUPPLIER_RULES: Final = {"status": lambda v: v in SUPPLIER_STATUSES}


@router.get("/suppliers", response_class=HTMLResponse)
async def supplier_list(request: Request, viewer: SignedIn) -> Response:
    viewer.require("supplier.read")
    filters = Filters.read(request.query_params, SUPPLIER_RULES)
    page = page_number(request.query_params)
    context = await fetch_page(viewer.api, "/v1/suppliers", filters.api_params(), page)
    context.update(filters=filters, invalid=filters.invalid)
    if is_fragment_request(request):
        fragment = render(request, "purchasing/_suppliers.html", viewer=viewer, **context)
        fragment.headers["HX-Push-Url"] = fragment_url(request, "/suppliers", filters, page)
        return fragment
    return render(
        request,
        "purchasing/suppliers.html",
        viewer=viewer,
        statuses=SUPPLIER_STATUSES,
        **context,
    )


@router.get("/suppliers/export.{kind}")
async def supplier_export(request: Request, kind: str, viewer: SignedIn) -> Response:
    viewer.require("supplier.read")
    if kind not in ("csv", "xlsx"):
        raise NotFound
    filters = Filters.read(request.query_params, SUPPLIER_RULES)
    t = translator(request)
    keys = ("code", "name", "status", "contact", "phone", "email", "terms")
    header = [t(f"supplier.col.{k}") for k in keys]

    async def rows(api: ApiClient) -> AsyncIterator[list[str]]:
        async for s in every_row(api, "/v1/suppliers", filters.api_params()):
            yield [
                s["code"],
                s["name"],
                label_of(t, "supplier.status", s["status"]),
                s["contact_name"],
                s["phone"],
                s["email"],
                str(s["payment_terms_days"]),
            ]

    return download(
        request, kind=kind, name="suppliers", sheet=t("nav.suppliers"), header=header, rows=rows
    )


@router.get("/suppliers/{supplier_id}", response_class=HTMLResponse)
async def supplier_detail(request: Request, supplier_id: str, viewer: SignedIn) -> Response:
    viewer.require("supplier.read")
    if not an_id(supplier_id):
        raise NotFound
    supplier = await viewer.api.get(f"/v1/suppliers/{supplier_id}")
    products = [p async for p in every_row(viewer.api, f"/v1/suppliers/{supplier_id}/products", {})]
    return render(
        request,
        "purchasing/supplier.html",
        viewer=viewer,
        supplier=supplier,
        products=products,
        skus=await sku_names(viewer.api, {p["sku_id"] for p in products}),
        can_order=viewer.can("purchase.write") and supplier["status"] == "approved",
    )
