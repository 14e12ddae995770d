"""Purchasing: suppliers and what they supply; purchase orders (list with filters, sort, pages,
CSV/XLSX export; detail with approvals, receipts and returns; create with a line editor; submit,
approve/reject, cancel, close short); reorder rules, low stock and replenishing now.

Mirrors api/routes/suppliers.py, purchase_orders.py and replenishment.py: the API decides, the
pages show its answers (a refusal next to the field it names)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.client import ApiClient, Forbidden, Json, NotFound, Refused
from console.export import download, every_row
from console.i18n import Translator, format_time
from console.lookups import sku_names
from console.money import AmountError, parse_fen
from console.pages import (
    MenuItem,
    SignedIn,
    Viewer,
    console_state,
    is_fragment_request,
    render,
    translator,
)
from console.security import CSRF_FIELD, check_csrf
from models.contracts.purchasing import PoStatus

router = APIRouter()
MENU = (
    MenuItem("nav.purchase_orders", "/purchase-orders", "purchase.read"),
    MenuItem("nav.suppliers", "/suppliers", "supplier.read"),
    MenuItem("nav.replenishment", "/replenishment", "purchase.read"),
)
PAGE_SIZE: Final = 50
PO_STATUSES: Final = get_args(PoStatus)
PO_SORTS: Final = ("-created_at", "created_at", "-amount_fen", "amount_fen")
SUPPLIER_STATUSES: Final = ("pending", "approved", "suspended")
EDITOR_ROWS: Final = 3  # empty line rows a new PO form starts with
MAX_ROWS: Final = 200  # the API's most lines per PO
OPEN_FOR_RECEIPTS: Final = ("sent", "receiving")


# --- shared list mechanics (the finance part uses them too) ------------------------------------


def page_number(query: Mapping[str, str]) -> int:
    raw = query.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 10**6 else 1


def is_id(value: str) -> bool:
    return value.isdigit() and 0 < int(value) < 2**31


@dataclass(frozen=True)
class Filters:
    """A list's filters as its query string holds them (text; empty = no filter), each checked
    by its rule; invalid ones are dropped and named on the page."""

    values: dict[str, str]
    defaults: dict[str, str]

    @classmethod
    def read(
        cls, query: Mapping[str, str], rules: Mapping[str, Callable[[str], bool]], **defaults: str
    ) -> tuple[Filters, list[str]]:
        values = {name: query.get(name, "").strip() for name in rules}
        invalid = [n for n, v in values.items() if v and not rules[n](v)]
        for name in invalid:
            values[name] = ""
        for name, default in defaults.items():
            values[name] = values[name] or default
        return cls(values, dict(defaults)), invalid

    def __getitem__(self, name: str) -> str:
        return self.values[name]

    def api_params(self) -> dict[str, str]:
        return {k: v for k, v in self.values.items() if v}

    def query(self, **extra: object) -> str:
        pairs = {k: v for k, v in self.values.items() if v and v != self.defaults.get(k, object())}
        pairs.update({k: str(v) for k, v in extra.items()})
        return urlencode(pairs)


async def listing(
    request: Request, viewer: Viewer, path: str, params: dict[str, Any]
) -> dict[str, Any]:
    """One page of an API list: rows, count, page, pages."""
    page = page_number(request.query_params)
    answer = await viewer.api.get(
        path, {**params, "skip": (page - 1) * PAGE_SIZE, "limit": PAGE_SIZE}
    )
    count = int(answer["count"])
    return {
        "rows": answer["data"],
        "count": count,
        "page": page,
        "pages": max(1, -(-count // PAGE_SIZE)),
    }


def pushed(request: Request, response: Response, path: str, query: str) -> Response:
    """A list's rows fragment says the canonical URL of what is on screen."""
    root = str(request.scope.get("root_path", ""))
    response.headers["HX-Push-Url"] = f"{root}{path}" + (f"?{query}" if query else "")
    return response


def yuan(fen: int) -> str:
    """Fen as plain yuan for exports (no symbol, no separators): 3334 → 33.34."""
    sign = "-" if fen < 0 else ""
    whole, rest = divmod(abs(fen), 100)
    return f"{sign}{whole}.{rest:02d}"


def refusal_fields(refusal: Refused) -> dict[str, str]:
    """The API's 422 errors by the field they name (`lines.0.quantity`), else under ''."""
    found: dict[str, str] = {}
    for error in refusal.problem.get("errors") or []:
        name = str(error.get("field") or "")
        name = re.sub(r"^body\.", "", name)
        found.setdefault(name, str(error.get("message") or refusal.detail))
    if not found:
        found[""] = refusal.detail
    return found


def label_of(t: Translator, prefix: str, value: str) -> str:
    key = f"{prefix}.{value}"
    return t(key) if t.has(key) else value


async def warehouse_names(api: ApiClient) -> dict[int, str]:
    answer = await api.get("/v1/warehouses", {"limit": 500})
    return {w["id"]: f"{w['name']} ({w['code']})" for w in answer["data"]}


async def supplier_names(api: ApiClient) -> dict[int, str]:
    names: dict[int, str] = {}
    async for s in every_row(api, "/v1/suppliers", {}):
        names[s["id"]] = f"{s['name']} ({s['code']})"
    return names


# --- suppliers ------------------------------------------------------------------------------------

SUPPLIER_RULES: Final = {"status": lambda v: v in SUPPLIER_STATUSES}


@router.get("/suppliers", response_class=HTMLResponse)
async def supplier_list(request: Request, viewer: SignedIn) -> Response:
    viewer.require("supplier.read")
    filters, invalid = Filters.read(request.query_params, SUPPLIER_RULES)
    context = await listing(request, viewer, "/v1/suppliers", filters.api_params())
    context.update(filters=filters, invalid=invalid)
    if is_fragment_request(request):
        fragment = render(request, "purchasing/_suppliers.html", viewer=viewer, **context)
        page = {"page": context["page"]} if context["page"] > 1 else {}
        return pushed(request, fragment, "/suppliers", filters.query(**page))
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
    filters, _ = Filters.read(request.query_params, SUPPLIER_RULES)
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
    if not is_id(supplier_id):
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


# --- purchase orders: list and export ------------------------------------------------------------

PO_RULES: Final = {
    "status": lambda v: v in PO_STATUSES,
    "supplier_id": is_id,
    "escalated": lambda v: v in ("true", "false"),
    "sort": lambda v: v in PO_SORTS,
}


@router.get("/purchase-orders", response_class=HTMLResponse)
async def po_list(request: Request, viewer: SignedIn) -> Response:
    viewer.require("purchase.read")
    filters, invalid = Filters.read(request.query_params, PO_RULES, sort="-created_at")
    context = await listing(request, viewer, "/v1/purchase-orders", filters.api_params())
    suppliers = await supplier_names(viewer.api) if viewer.can("supplier.read") else {}
    context.update(
        filters=filters,
        invalid=invalid,
        suppliers=suppliers,
        can_bulk=viewer.can("purchase.approve"),
    )
    if is_fragment_request(request):
        fragment = render(request, "purchasing/_rows.html", viewer=viewer, **context)
        page = {"page": context["page"]} if context["page"] > 1 else {}
        return pushed(request, fragment, "/purchase-orders", filters.query(**page))
    return render(
        request,
        "purchasing/list.html",
        viewer=viewer,
        statuses=PO_STATUSES,
        sorts=PO_SORTS,
        can_create=viewer.can("purchase.write"),
        **context,
    )


@router.get("/purchase-orders/export.{kind}")
async def po_export(request: Request, kind: str, viewer: SignedIn) -> Response:
    viewer.require("purchase.read")
    if kind not in ("csv", "xlsx"):
        raise NotFound
    filters, _ = Filters.read(request.query_params, PO_RULES, sort="-created_at")
    t = translator(request)
    keys = ("po_no", "status", "supplier", "amount", "escalated", "created_at")
    header = [t(f"po.col.{k}") for k in keys]
    named = viewer.can("supplier.read")

    async def rows(api: ApiClient) -> AsyncIterator[list[str]]:
        names = await supplier_names(api) if named else {}
        async for po in every_row(api, "/v1/purchase-orders", filters.api_params()):
            yield [
                po["po_no"],
                label_of(t, "po.status", po["status"]),
                names.get(po["supplier_id"], str(po["supplier_id"])),
                yuan(po["amount_fen"]),
                t("po.yes") if po["escalated"] else t("po.no"),
                format_time(po["created_at"]),
            ]

    return download(
        request,
        kind=kind,
        name="purchase-orders",
        sheet=t("nav.purchase_orders"),
        header=header,
        rows=rows,
    )


# --- purchase orders: detail and actions -------------------------------------------------------


@dataclass(frozen=True)
class Feedback:
    """What a page says next to one of its forms after a post."""

    form: str = ""  # which form: "submit", "approve", "reject", "cancel", "close", ...
    message: str | None = None  # a catalogue key
    refusal: str | None = None  # the API's own words
    reason: str = ""  # what the person typed


PO_DONE: Final = ("created", "submitted", "approved", "rejected", "cancelled", "closed")


def approvals_of(po: Json) -> dict[str, str]:
    """Role → who approved as it, by name (from the timeline), for the roles approved."""
    names = {
        e["step"].removeprefix("approved_as_"): e["actor"].split(":", 1)[-1]
        for e in po["timeline"]
        if e["step"].startswith("approved_as_")
    }
    return {role: names.get(role, str(user)) for role, user in po["approvals"].items()}


async def po_page(
    request: Request,
    viewer: Viewer,
    po_no: str,
    *,
    feedback: Feedback | None = None,
    done: str | None = None,
    status: int = 200,
) -> Response:
    po = await viewer.api.get(f"/v1/purchase-orders/{po_no}")
    api = viewer.api
    supplier = (
        await api.get(f"/v1/suppliers/{po['supplier_id']}") if viewer.can("supplier.read") else None
    )
    approved_by = approvals_of(po)
    waiting = [r for r in po["required_roles"] if r not in po["approvals"]]
    mine = [r for r in waiting if r in viewer.me.roles]
    pending = po["status"] == "pending_approval"
    invoices: Any = await api.get(f"/v1/purchase-orders/{po_no}/invoices")
    invoice = invoices[0] if isinstance(invoices, list) and invoices else None
    receipts: Any = await api.get(f"/v1/purchase-orders/{po_no}/receipts")
    returns: Any = await api.get(f"/v1/purchase-orders/{po_no}/returns")
    config = console_state(request).config
    can = {
        "submit": viewer.can("purchase.write") and po["status"] == "draft",
        "cancel": viewer.can("purchase.write") and po["status"] in ("draft", "pending_approval"),
        "approve": viewer.can("purchase.approve") and pending and bool(mine),
        "reject": viewer.can("purchase.approve")
        and pending
        and bool(set(po["required_roles"]) & set(viewer.me.roles)),
        "close": viewer.can("purchase.write") and po["status"] in OPEN_FOR_RECEIPTS,
    }
    return render(
        request,
        "purchasing/detail.html",
        viewer=viewer,
        status=status,
        po=po,
        supplier=supplier,
        skus=await sku_names(
            api,
            {line["sku_id"] for line in po["lines"]}
            | {line["sku_id"] for r in receipts for line in r["lines"]},
        ),
        warehouses=await warehouse_names(api),
        receipts=receipts,
        returns=returns,
        approved_by=approved_by,
        waiting=waiting,
        my_roles=mine,
        invoice=invoice,
        workflow_url=config.workflow_url(f"po-{po['po_no']}"),
        can_submit=can["submit"],
        can_cancel=can["cancel"],
        can_approve=can["approve"],
        can_reject=can["reject"],
        can_close=can["close"],
        form_shown=can.get((feedback or Feedback()).form, False),
        can_invoice=viewer.can("purchase.settle") and po["status"] == "closed" and not invoice,
        can_ledger=viewer.can("finance.read"),
        feedback=feedback or Feedback(),
        done=done if done in PO_DONE else None,
    )


@router.get("/purchase-orders/new", response_class=HTMLResponse)
async def po_new(request: Request, viewer: SignedIn) -> Response:
    viewer.require("purchase.write")
    supplier = request.query_params.get("supplier_id", "")
    draft = Draft(supplier_id=supplier if is_id(supplier) else "")
    return await editor_page(request, viewer, draft)


@router.get("/purchase-orders/{po_no}", response_class=HTMLResponse)
async def po_detail(
    request: Request, po_no: str, viewer: SignedIn, done: str | None = None
) -> Response:
    viewer.require("purchase.read")
    return await po_page(request, viewer, po_no, done=done)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def po_action(
    request: Request,
    viewer: Viewer,
    po_no: str,
    form_name: str,
    call: tuple[str, Json],
    done: str,
    reason: str = "",
) -> Response:
    path, body = call
    try:
        await viewer.api.post(path, body)
    except Refused as refusal:
        feedback = Feedback(form=form_name, refusal=refusal.detail, reason=reason)
        return await po_page(request, viewer, po_no, feedback=feedback, status=refusal.status)
    root = str(request.scope.get("root_path", ""))
    return RedirectResponse(f"{root}/purchase-orders/{po_no}?done={done}", status_code=303)


@router.post("/purchase-orders/{po_no}/submit", response_class=HTMLResponse)
async def po_submit(request: Request, po_no: str, viewer: SignedIn) -> Response:
    form = await _form(request)
    check_csrf(request, form.get(CSRF_FIELD))
    viewer.require("purchase.write")
    call: tuple[str, Json] = (f"/v1/purchase-orders/{po_no}/submit", {})
    return await po_action(request, viewer, po_no, "submit", call, "submitted")


@router.post("/purchase-orders/{po_no}/approve", response_class=HTMLResponse)
async def po_approve(request: Request, po_no: str, viewer: SignedIn) -> Response:
    form = await _form(request)
    check_csrf(request, form.get(CSRF_FIELD))
    viewer.require("purchase.approve")
    role = form.get("role", "")
    body: Json = {"role": role} if role else {}
    call = (f"/v1/purchase-orders/{po_no}/approve", body)
    return await po_action(request, viewer, po_no, "approve", call, "approved")


async def _with_reason(
    request: Request, po_no: str, viewer: Viewer, permission: str, action: str, done: str
) -> Response:
    form = await _form(request)
    check_csrf(request, form.get(CSRF_FIELD))
    viewer.require(permission)
    reason = form.get("reason", "").strip()
    if len(reason) < 2:
        feedback = Feedback(form=action, message="po.need_reason", reason=reason)
        return await po_page(request, viewer, po_no, feedback=feedback, status=422)
    if action == "cancel" and form.get("confirm") != "yes":
        feedback = Feedback(form=action, message="po.need_confirm", reason=reason)
        return await po_page(request, viewer, po_no, feedback=feedback, status=422)
    call = (f"/v1/purchase-orders/{po_no}/{action}", {"reason": reason})
    return await po_action(request, viewer, po_no, action, call, done, reason)


@router.post("/purchase-orders/{po_no}/reject", response_class=HTMLResponse)
async def po_reject(request: Request, po_no: str, viewer: SignedIn) -> Response:
    return await _with_reason(request, po_no, viewer, "purchase.approve", "reject", "rejected")


@router.post("/purchase-orders/{po_no}/cancel", response_class=HTMLResponse)
async def po_cancel(request: Request, po_no: str, viewer: SignedIn) -> Response:
    return await _with_reason(request, po_no, viewer, "purchase.write", "cancel", "cancelled")


@router.post("/purchase-orders/{po_no}/close", response_class=HTMLResponse)
async def po_close(request: Request, po_no: str, viewer: SignedIn) -> Response:
    return await _with_reason(request, po_no, viewer, "purchase.write", "close", "closed")


@router.post("/purchase-orders/approve", response_class=HTMLResponse)
async def po_bulk_approve(request: Request, viewer: SignedIn) -> Response:
    """Approve the selected POs, each on its own: one refused does not undo the others; the
    page answers every one."""
    form = await request.form()
    check_csrf(request, str(form.get(CSRF_FIELD) or ""))
    viewer.require("purchase.approve")
    chosen = [str(v) for v in form.getlist("po_no") if isinstance(v, str)]
    numbers = list(dict.fromkeys(n for n in chosen if re.fullmatch(r"PO\d{8,20}", n)))[:MAX_ROWS]
    results: list[tuple[str, str | None]] = []
    for number in numbers:
        try:
            await viewer.api.post(f"/v1/purchase-orders/{number}/approve", {})
        except Refused as refusal:
            results.append((number, refusal.detail))
        except (NotFound, Forbidden):
            results.append((number, translator(request)("po.bulk.not_found")))
        else:
            results.append((number, None))
    status = 200 if numbers else 422
    return render(request, "purchasing/bulk.html", viewer=viewer, results=results, status=status)


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
        if not is_id(self.supplier_id):
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
    if is_id(line.sku_id) and (not offered or int(line.sku_id) in offered):
        entry["sku_id"] = int(line.sku_id)
    else:
        errors[f"{at}.sku_id"] = "po.new.need_sku"
    if is_id(line.warehouse_id):
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
    if is_id(draft.supplier_id):
        products = [
            p async for p in every_row(api, f"/v1/suppliers/{draft.supplier_id}/products", {})
        ]
    names = await sku_names(api, {p["sku_id"] for p in products})
    chosen = {int(line.sku_id) for line in draft.lines if is_id(line.sku_id)}
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
    form = await _form(request)
    check_csrf(request, form.get(CSRF_FIELD))
    viewer.require("purchase.write")
    draft = Draft.from_form(form)
    action = form.get("action", "create")
    if action == "add_line" and len(draft.lines) < MAX_ROWS:
        draft.lines.append(DraftLine())
    if action != "create":
        return await editor_page(request, viewer, draft, fragment=is_fragment_request(request))
    products = (
        (await _editor_context(viewer, draft))["products"] if is_id(draft.supplier_id) else {}
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


# --- reorder rules, low stock, replenish now -----------------------------------------------------


async def replenishment_page(
    request: Request,
    viewer: Viewer,
    *,
    feedback: Feedback | None = None,
    errors: dict[str, str] | None = None,
    typed: Mapping[str, str] | None = None,
    drafted: list[str] | None = None,
    status: int = 200,
) -> Response:
    warehouse = request.query_params.get("warehouse_id", "")
    params = {"warehouse_id": warehouse} if is_id(warehouse) else {}
    rules = await viewer.api.get("/v1/reorder-rules", params)
    low = await viewer.api.get("/v1/stock/low", params)
    assert isinstance(rules, list) and isinstance(low, list)
    skus = await sku_names(viewer.api, {r["sku_id"] for r in [*rules, *low]})
    return render(
        request,
        "purchasing/replenishment.html",
        viewer=viewer,
        status=status,
        rules=rules,
        low=low,
        skus=skus,
        warehouses=await warehouse_names(viewer.api),
        warehouse=warehouse if is_id(warehouse) else "",
        can_write=viewer.can("purchase.write"),
        feedback=feedback or Feedback(),
        errors=errors or {},
        typed=typed or {},
        drafted=drafted,
    )


@router.get("/replenishment", response_class=HTMLResponse)
async def replenishment(request: Request, viewer: SignedIn) -> Response:
    viewer.require("purchase.read")
    saved = request.query_params.get("done") == "rule"
    raw = request.query_params.get("drafted", "")
    drafted = [n for n in raw.split(",") if re.fullmatch(r"PO\d{8,20}", n)] if raw else None
    feedback = Feedback(message="replenish.rule_saved" if saved else None)
    return await replenishment_page(request, viewer, feedback=feedback, drafted=drafted)


@router.get("/replenishment/{which}.{kind}")
async def replenishment_export(
    request: Request, which: str, kind: str, viewer: SignedIn
) -> Response:
    """The low-stock list or the reorder rules (of the warehouse filtered on), as CSV or XLSX."""
    viewer.require("purchase.read")
    if which not in ("low", "rules") or kind not in ("csv", "xlsx"):
        raise NotFound
    warehouse = request.query_params.get("warehouse_id", "")
    params = {"warehouse_id": warehouse} if is_id(warehouse) else {}
    path = "/v1/stock/low" if which == "low" else "/v1/reorder-rules"
    t = translator(request)
    figures = ["sellable", "in_transit"] if which == "low" else []
    figures += ["reorder_point", "reorder_level"]
    header = [t("po.line.sku"), t("replenish.sku_name"), t("po.line.warehouse")]
    header += [t(f"replenish.{k.removeprefix('reorder_')}") for k in figures]

    async def rows(api: ApiClient) -> AsyncIterator[list[str]]:
        found: Any = await api.get(path, params)
        names = await sku_names(api, {r["sku_id"] for r in found})
        warehouses = await warehouse_names(api)
        for r in found:
            yield [
                str(r["sku_id"]),
                names.get(r["sku_id"], ""),
                warehouses.get(r["warehouse_id"], str(r["warehouse_id"])),
                *(str(r[k]) for k in figures),
            ]

    sheet = t("replenish.low" if which == "low" else "replenish.rules")
    return download(
        request, kind=kind, name=f"replenishment-{which}", sheet=sheet, header=header, rows=rows
    )


@router.post("/replenishment/rules", response_class=HTMLResponse)
async def set_rule(request: Request, viewer: SignedIn) -> Response:
    form = await _form(request)
    check_csrf(request, form.get(CSRF_FIELD))
    viewer.require("purchase.write")
    errors: dict[str, str] = {}
    body: Json = {}
    for name in ("sku_id", "warehouse_id"):
        value = form.get(name, "").strip()
        if is_id(value):
            body[name] = int(value)
        else:
            errors[name] = f"replenish.need_{name}"
    for name in ("reorder_point", "reorder_level"):
        value = form.get(name, "").strip()
        if value.isdigit() and int(value) <= 10**9:
            body[name] = int(value)
        else:
            errors[name] = "replenish.bad_count"
    if not errors:
        try:
            await viewer.api.put("/v1/reorder-rules", body)
        except Refused as refusal:
            errors = refusal_fields(refusal)
    if errors:
        general = errors.pop("", None)
        return await replenishment_page(
            request,
            viewer,
            feedback=Feedback(form="rule", refusal=general),
            errors=errors,
            typed=form,
            status=422,
        )
    root = str(request.scope.get("root_path", ""))
    return RedirectResponse(f"{root}/replenishment?done=rule", status_code=303)


@router.post("/replenishment/run", response_class=HTMLResponse)
async def replenish_now(request: Request, viewer: SignedIn) -> Response:
    form = await _form(request)
    check_csrf(request, form.get(CSRF_FIELD))
    viewer.require("purchase.write")
    warehouse = form.get("warehouse_id", "").strip()
    if not is_id(warehouse):
        feedback = Feedback(form="run", message="replenish.need_warehouse_id")
        return await replenishment_page(request, viewer, feedback=feedback, status=422)
    try:
        answer = await viewer.api.post(f"/v1/warehouses/{warehouse}/replenish")
    except Refused as refusal:
        feedback = Feedback(form="run", refusal=refusal.detail)
        return await replenishment_page(request, viewer, feedback=feedback, status=refusal.status)
    root = str(request.scope.get("root_path", ""))
    query = urlencode({"warehouse_id": warehouse, "drafted": ",".join(answer["drafted"]) or "-"})
    return RedirectResponse(f"{root}/replenishment?{query}", status_code=303)
