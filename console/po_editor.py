"""A new purchase order: the line editor (supplier, lines of SKU, warehouse, quantity, price),
checked by the API, refusals shown next to the line and field they name."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.client import Json, Refused
from console.export import every_row
from console.lists import an_id, warehouse_names
from console.lookups import sku_names
from console.money import AmountError, parse_fen
from console.pages import (
    SignedIn,
    Viewer,
    is_fragment_request,
    render,
)
from console.purchase_lists import (
    EDITOR_ROWS,
    MAX_ROWS,
    form_fields,
    refusal_fields,
)
from console.security import CSRF_FIELD, check_csrf

router = APIRouter()


# --- purchase orders: the line editor ------------------------------------------------------------


@dataclass
class DraftLine:
    sku_id: str = ""
    warehouse_id: str = ""
    quantity: str = ""
    price: str = ""  # yuan as typed; empty: the supply price

    @property
    def blank(self) -> bool:
        return not (self.sku_id or self.quantity or self.price)


@dataclass
class Draft:
    """The new-PO form as typed: everything is text until the person creates it."""

    supplier_id: str = ""
    q: str = ""  # the SKU search
    note: str = ""
    lines: list[DraftLine] = field(default_factory=list)

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> Draft:
        count = form.get("rows", "")
        rows = int(count) if count.isdigit() and 0 < int(count) <= MAX_ROWS else EDITOR_ROWS
        lines = [
            DraftLine(
                sku_id=form.get(f"lines.{n}.sku_id", "").strip(),
                warehouse_id=form.get(f"lines.{n}.warehouse_id", "").strip(),
                quantity=form.get(f"lines.{n}.quantity", "").strip(),
                price=form.get(f"lines.{n}.price", "").strip(),
            )
            for n in range(rows)
        ]
        return cls(
            supplier_id=form.get("supplier_id", "").strip(),
            q=form.get("q", "").strip(),
            note=form.get("note", "").strip(),
            lines=lines,
        )

    def body(self, offered: Mapping[int, Json]) -> tuple[Json, dict[str, str]]:
        """The API's body, and the errors found before asking it (by field name)."""
        errors: dict[str, str] = {}
        if not an_id(self.supplier_id):
            errors["supplier_id"] = "po.new.need_supplier"
        lines = [
            _line_body(f"lines.{n}", line, offered, errors)
            for n, line in enumerate(self.lines)
            if not line.blank
        ]
        if not lines and not errors:
            errors["lines"] = "po.new.need_lines"
        body: Json = {"supplier_id": int(self.supplier_id or 0), "lines": lines}
        if self.note:
            body["note"] = self.note
        return body, errors


def _line_body(
    at: str, line: DraftLine, offered: Mapping[int, Json], errors: dict[str, str]
) -> Json:
    """One line's part of the API's body; what is wrong goes into errors under its field."""
    entry: Json = {}
    if an_id(line.sku_id) and (not offered or int(line.sku_id) in offered):
        entry["sku_id"] = int(line.sku_id)
    else:
        errors[f"{at}.sku_id"] = "po.new.need_sku"
    if an_id(line.warehouse_id):
        entry["warehouse_id"] = int(line.warehouse_id)
    else:
        errors[f"{at}.warehouse_id"] = "po.new.need_warehouse"
    if line.quantity.isdigit() and 0 < int(line.quantity) <= 10**9:
        entry["quantity"] = int(line.quantity)
    else:
        errors[f"{at}.quantity"] = "po.new.bad_quantity"
    if line.price:
        try:
            entry["unit_price_fen"] = parse_fen(line.price)
        except AmountError:
            errors[f"{at}.price"] = "po.new.bad_price"
    return entry


async def _editor_context(viewer: Viewer, draft: Draft) -> dict[str, Any]:
    """The suppliers one may order from, the chosen supplier's products (those the SKU search
    finds, and those already on a line) with their supply price, and the warehouses."""
    api = viewer.api
    approved = [s async for s in every_row(api, "/v1/suppliers", {"status": "approved"})]
    products: list[Json] = []
    if an_id(draft.supplier_id):
        products = [
            p async for p in every_row(api, f"/v1/suppliers/{draft.supplier_id}/products", {})
        ]
    names = await sku_names(api, {p["sku_id"] for p in products})
    chosen = {int(line.sku_id) for line in draft.lines if an_id(line.sku_id)}
    needle = draft.q.casefold()
    offered = [
        p
        for p in products
        if not needle or needle in names.get(p["sku_id"], "").casefold() or p["sku_id"] in chosen
    ]
    return {
        "suppliers": approved,
        "products": {p["sku_id"]: p for p in products},
        "offered": offered,
        "names": names,
        "warehouses": await warehouse_names(api),
    }


async def editor_page(
    request: Request,
    viewer: Viewer,
    draft: Draft,
    *,
    errors: dict[str, str] | None = None,
    refusal: str | None = None,
    status: int = 200,
    fragment: bool = False,
) -> Response:
    if not draft.lines:
        draft.lines = [DraftLine() for _ in range(EDITOR_ROWS)]
    context = await _editor_context(viewer, draft)
    template = "purchasing/_lines.html" if fragment else "purchasing/new.html"
    return render(
        request,
        template,
        viewer=viewer,
        status=status,
        draft=draft,
        errors=errors or {},
        refusal=refusal,
        **context,
    )


@router.post("/purchase-orders/new", response_class=HTMLResponse)
async def po_create(request: Request, viewer: SignedIn) -> Response:
    """One form, three buttons: refresh (the supplier or the search changed: without JS the
    page comes back with the products), add a line, create."""
    form = await form_fields(request)
    check_csrf(request, form.get(CSRF_FIELD))
    viewer.require("purchase.write")
    draft = Draft.from_form(form)
    action = form.get("action", "create")
    if action == "add_line" and len(draft.lines) < MAX_ROWS:
        draft.lines.append(DraftLine())
    if action != "create":
        return await editor_page(request, viewer, draft, fragment=is_fragment_request(request))
    products = (
        (await _editor_context(viewer, draft))["products"] if an_id(draft.supplier_id) else {}
    )
    body, errors = draft.body(products)
    if errors:
        return await editor_page(request, viewer, draft, errors=errors, status=422)
    try:
        created = await viewer.api.post("/v1/purchase-orders", body)
    except Refused as refusal:
        found = refusal_fields(refusal)
        shown = {_line_field(k, draft): v for k, v in found.items()}
        general = shown.pop("", None)
        if not shown and general is None:
            general = refusal.detail
        return await editor_page(
            request, viewer, draft, errors=shown, refusal=general, status=refusal.status
        )
    root = str(request.scope.get("root_path", ""))
    return RedirectResponse(
        f"{root}/purchase-orders/{created['po_no']}?done=created", status_code=303
    )


def _line_field(api_field: str, draft: Draft) -> str:
    """The API numbers the lines it was sent (blank rows left out); the form numbers its rows.
    `lines.1.unit_price_fen` → the form's `lines.<row>.price`; unknown fields → ''."""
    match = re.match(r"^lines\.(\d+)(?:\.(\w+))?$", api_field)
    if match is None:
        return api_field if api_field in ("supplier_id", "note") else ""
    rows = [n for n, line in enumerate(draft.lines) if not line.blank]
    index = int(match[1])
    if index >= len(rows):
        return ""
    name = {"unit_price_fen": "price"}.get(match[2] or "sku_id", match[2] or "sku_id")
    return f"lines.{rows[index]}.{name}"


@router.get("/purchase-orders/new", response_class=HTMLResponse)
async def po_new(request: Request, viewer: SignedIn) -> Response:
    viewer.require("purchase.write")
    supplier = request.query_params.get("supplier_id", "")
    draft = Draft(supplier_id=supplier if an_id(supplier) else "")
    return await editor_page(request, viewer, draft)
