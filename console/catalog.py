"""Catalog: SKUs (list with filters, sort, pages, CSV/XLSX export), products with their SKUs
(create, edit, activate/deactivate, barcodes, prices typed as text), the category tree and
brands (mirrors api/routes/catalog.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.catalog_forms import (
    Form,
    fetch_list,
    form_of,
    query_string,
    yuan,
)
from console.client import ApiClient, Json, Refused
from console.export import download, listed
from console.i18n import Translator
from console.pages import MenuItem, SignedIn, Viewer, render, translator

router = APIRouter()
MENU = (
    MenuItem("nav.catalog", "/catalog/skus", "catalog.read"),
    MenuItem("nav.categories", "/catalog/categories", "catalog.read"),
)
SORTS: Final = ("id", "-id", "code", "name", "list_price_fen", "-list_price_fen")
FILTERS: Final = ("q", "barcode", "category_id", "active", "sort")
DONE: Final = ("created", "saved", "activated", "deactivated", "sku_added", "sku_saved")
_SKU_FIELDS: Final = {
    "skus.0.code": "sku_code",
    "skus.0.name": "sku_name",
    "skus.0.barcode": "barcode",
    "skus.0.list_price_fen": "price",
    "skus.0.weight_g": "weight_g",
    "skus.0.volume_cm3": "volume_cm3",
    "skus.0.freight_template_id": "freight_template_id",
    "list_price_fen": "price",
}


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", ""))


def sku_filters(query: Mapping[str, str]) -> tuple[dict[str, str], dict[str, Any]]:
    """The list's filters as typed (invalid ones dropped) and the API's parameters."""
    given = {name: query.get(name, "").strip() for name in FILTERS}
    if given["category_id"] and not (
        given["category_id"].isdigit() and 0 < int(given["category_id"]) < 2**31
    ):
        given["category_id"] = ""
    if given["active"] not in ("", "true", "false"):
        given["active"] = ""
    if given["sort"] not in SORTS:
        given["sort"] = ""
    given["q"], given["barcode"] = given["q"][:100], given["barcode"][:64]
    params: dict[str, Any] = {k: v for k, v in given.items() if v}
    return given, params


async def _all(api: ApiClient, path: str) -> list[Json]:
    rows: list[Json] = (await api.get(path, {"limit": 500}))["data"]
    return rows


async def _choices(api: ApiClient, viewer: Viewer) -> dict[str, Any]:
    templates = await _all(api, "/v1/freight-templates") if viewer.can("freight.read") else []
    return {
        "categories": await _all(api, "/v1/categories"),
        "brands": await _all(api, "/v1/brands"),
        "templates": templates,
    }


@router.get("/catalog/skus", response_class=HTMLResponse)
async def sku_list(request: Request, viewer: SignedIn) -> Response:
    viewer.require("catalog.read")
    filters, params = sku_filters(request.query_params)
    listing = await fetch_list(viewer.api, "/v1/skus", params, request.query_params)
    return render(
        request,
        "catalog/skus.html",
        viewer=viewer,
        listing=listing,
        filters=filters,
        query=lambda **extra: query_string(filters, **extra),
        sorts=SORTS,
        categories=await _all(viewer.api, "/v1/categories"),
        can_write=viewer.can("catalog.write"),
    )


def _sku_header(t: Translator) -> list[str]:
    keys = ("id", "code", "name", "barcode", "product", "price", "weight", "volume", "active")
    return [t(f"catalog.export.{k}") for k in keys]


def _sku_row(sku: Json, t: Translator) -> list[str]:
    return [
        str(sku["id"]),
        sku["code"],
        sku["name"],
        sku["barcode"],
        str(sku["spu_id"]),
        yuan(sku["list_price_fen"]),
        str(sku["weight_g"]),
        str(sku["volume_cm3"]),
        t("catalog.yes") if sku["active"] else t("catalog.no"),
    ]


@router.get("/catalog/skus/export.{kind}")
async def sku_export(request: Request, kind: str, viewer: SignedIn) -> Response:
    viewer.require("catalog.read")
    if kind not in ("csv", "xlsx"):
        return await sku_list(request, viewer)
    _, params = sku_filters(request.query_params)
    t = translator(request)
    rows = listed("/v1/skus", params, lambda sku: _sku_row(sku, t))
    sheet = t("catalog.export.sheet")
    return download(request, kind=kind, name="skus", sheet=sheet, header=_sku_header(t), rows=rows)


@router.get("/catalog/products/new", response_class=HTMLResponse)
async def new_product(request: Request, viewer: SignedIn) -> Response:
    viewer.require("catalog.write")
    return render(
        request,
        "catalog/new.html",
        viewer=viewer,
        form=Form(values={"weight_g": "", "volume_cm3": "0"}),
        **await _choices(viewer.api, viewer),
    )


def _sku_body(form: Form, t: Translator, prefix: str = "sku_") -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": form.get(f"{prefix}code").strip(),
        "name": form.get(f"{prefix}name").strip(),
        "barcode": form.get("barcode").strip(),
        "weight_g": form.integer("weight_g", t),
        "volume_cm3": form.integer("volume_cm3", t),
        "list_price_fen": form.amount("price", t),
        "freight_template_id": form.integer("freight_template_id", t, optional=True),
    }
    return body


@router.post("/catalog/products", response_class=HTMLResponse)
async def create_product(request: Request, viewer: SignedIn) -> Response:
    form = await form_of(request)
    viewer.require("catalog.write")
    t = translator(request)
    body = {
        "code": form.get("code").strip(),
        "name": form.get("name").strip(),
        "category_id": form.integer("category_id", t),
        "brand_id": form.integer("brand_id", t, optional=True),
        "description": form.get("description"),
        "skus": [_sku_body(form, t)],
    }
    if not form.errors:
        try:
            product = await viewer.api.post("/v1/products", body)
        except Refused as refusal:
            form.refused(refusal, _SKU_FIELDS)
        else:
            return RedirectResponse(
                f"{_root(request)}/catalog/products/{product['id']}?done=created", 303
            )
    return render(
        request,
        "catalog/new.html",
        viewer=viewer,
        status=422,
        form=form,
        **await _choices(viewer.api, viewer),
    )


async def product_page(
    request: Request,
    viewer: Viewer,
    product_id: int,
    *,
    form: Form | None = None,
    done: str | None = None,
    status: int = 200,
) -> Response:
    product = await viewer.api.get(f"/v1/products/{product_id}")
    return render(
        request,
        "catalog/product.html",
        viewer=viewer,
        status=status,
        product=product,
        form=form or Form(),
        done=done if done in DONE else None,
        can_write=viewer.can("catalog.write"),
        **await _choices(viewer.api, viewer),
    )


@router.get("/catalog/products/{product_id:int}", response_class=HTMLResponse)
async def product_detail(
    request: Request, product_id: int, viewer: SignedIn, done: str | None = None
) -> Response:
    viewer.require("catalog.read")
    return await product_page(request, viewer, product_id, done=done)


async def _product_action(
    request: Request,
    viewer: Viewer,
    product_id: int,
    form: Form,
    call: tuple[str, str, Json],
    fields: Mapping[str, str] = _SKU_FIELDS,
) -> Response:
    """The API call (method, path, body) as the person; back to the product saying what was
    done, or the product with the refusal next to the form's fields."""
    method, path, body = call
    if not form.errors:
        try:
            await viewer.api.send(method, path, body)
        except Refused as refusal:
            form.refused(refusal, fields)
        else:
            done = form.get("done", "saved")
            root = _root(request)
            return RedirectResponse(f"{root}/catalog/products/{product_id}?done={done}", 303)
    return await product_page(request, viewer, product_id, form=form, status=422)


@router.post("/catalog/products/{product_id:int}", response_class=HTMLResponse)
async def edit_product(request: Request, product_id: int, viewer: SignedIn) -> Response:
    form = await form_of(request, "product")
    viewer.require("catalog.write")
    t = translator(request)
    body = {
        "name": form.get("name").strip(),
        "category_id": form.integer("category_id", t),
        "brand_id": form.integer("brand_id", t, optional=True),
        "description": form.get("description"),
    }
    form.values["done"] = "saved"
    call = ("PATCH", f"/v1/products/{product_id}", body)
    return await _product_action(request, viewer, product_id, form, call)


@router.post("/catalog/products/{product_id:int}/active", response_class=HTMLResponse)
async def product_active(request: Request, product_id: int, viewer: SignedIn) -> Response:
    form = await form_of(request, "active")
    viewer.require("catalog.write")
    active = form.get("active") == "true"
    form.values["done"] = "activated" if active else "deactivated"
    call = ("PATCH", f"/v1/products/{product_id}", {"active": active})
    return await _product_action(request, viewer, product_id, form, call)


@router.post("/catalog/products/{product_id:int}/skus", response_class=HTMLResponse)
async def add_sku(request: Request, product_id: int, viewer: SignedIn) -> Response:
    form = await form_of(request, "add_sku")
    viewer.require("catalog.write")
    body = _sku_body(form, translator(request))
    form.values["done"] = "sku_added"
    fields = {"code": "sku_code", "name": "sku_name", "list_price_fen": "price"}
    call = ("POST", f"/v1/products/{product_id}/skus", body)
    return await _product_action(request, viewer, product_id, form, call, fields)


@router.post("/catalog/skus/{sku_id:int}", response_class=HTMLResponse)
async def edit_sku(request: Request, sku_id: int, viewer: SignedIn) -> Response:
    """A SKU's name, barcode, price (typed as text), freight template or active flag."""
    form = await form_of(request, f"sku:{sku_id}")
    viewer.require("catalog.write")
    t = translator(request)
    sku = await viewer.api.get(f"/v1/skus/{sku_id}")
    if "active" in form.values and len(form.values) == 1:
        active = form.get("active") == "true"
        body: Json = {"active": active}
        form.values["done"] = "activated" if active else "deactivated"
    else:
        body = {
            "name": form.get("sku_name").strip(),
            "barcode": form.get("barcode").strip(),
            "list_price_fen": form.amount("price", t),
            "freight_template_id": form.integer("freight_template_id", t, optional=True),
        }
        form.values["done"] = "sku_saved"
    call = ("PATCH", f"/v1/skus/{sku_id}", body)
    fields = {"name": "sku_name", "list_price_fen": "price"}
    return await _product_action(request, viewer, int(sku["spu_id"]), form, call, fields)


def category_tree(categories: list[Json]) -> list[tuple[int, Json]]:
    """The categories in tree order, each with its depth (children under their parent, by id);
    a category whose parent is unknown starts a tree of its own."""
    known = {c["id"] for c in categories}
    children: dict[int | None, list[Json]] = {}
    for category in sorted(categories, key=lambda c: c["id"]):
        parent = category["parent_id"] if category["parent_id"] in known else None
        children.setdefault(parent, []).append(category)
    ordered: list[tuple[int, Json]] = []

    def walk(parent: int | None, depth: int) -> None:
        for child in children.get(parent, []):
            ordered.append((depth, child))
            walk(child["id"], depth + 1)

    walk(None, 0)
    return ordered


async def categories_page(
    request: Request, viewer: Viewer, *, form: Form | None = None, status: int = 200
) -> Response:
    categories = await _all(viewer.api, "/v1/categories")
    return render(
        request,
        "catalog/categories.html",
        viewer=viewer,
        status=status,
        tree=category_tree(categories),
        categories=categories,
        brands=await _all(viewer.api, "/v1/brands"),
        form=form or Form(),
        done=request.query_params.get("done") if status == 200 else None,
        can_write=viewer.can("catalog.write"),
    )


@router.get("/catalog/categories", response_class=HTMLResponse)
async def categories(request: Request, viewer: SignedIn) -> Response:
    viewer.require("catalog.read")
    return await categories_page(request, viewer)


@router.post("/catalog/categories", response_class=HTMLResponse)
async def create_category(request: Request, viewer: SignedIn) -> Response:
    form = await form_of(request, "category")
    viewer.require("catalog.write")
    t = translator(request)
    body = {
        "code": form.get("code").strip(),
        "name": form.get("name").strip(),
        "parent_id": form.integer("parent_id", t, optional=True),
    }
    return await _categories_action(request, viewer, form, "/v1/categories", body, "category")


@router.post("/catalog/brands", response_class=HTMLResponse)
async def create_brand(request: Request, viewer: SignedIn) -> Response:
    form = await form_of(request, "brand")
    viewer.require("catalog.write")
    body = {"name": form.get("brand_name").strip()}
    fields = {"name": "brand_name"}
    return await _categories_action(request, viewer, form, "/v1/brands", body, "brand", fields)


async def _categories_action(
    request: Request,
    viewer: Viewer,
    form: Form,
    path: str,
    body: Json,
    done: str,
    fields: Mapping[str, str] | None = None,
) -> Response:
    if not form.errors:
        try:
            await viewer.api.post(path, body)
        except Refused as refusal:
            form.refused(refusal, fields)
        else:
            return RedirectResponse(f"{_root(request)}/catalog/categories?done={done}", 303)
    return await categories_page(request, viewer, form=form, status=422)
