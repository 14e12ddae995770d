"""Finance: book a supplier's invoice against a closed PO and see its three-way match (decide a
mismatch); payables by due date and the paid transfers; reconciliation runs and differences
(run a day now); the money ledger of an order or a PO.

Mirrors api/routes/po_settlement.py and finance.py."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, get_args

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.client import ApiClient, Json, NotFound, Refused
from console.export import download, every_row
from console.i18n import format_time
from console.lists import Filters, fetch_page, fragment_url, page_number
from console.lookups import sku_names
from console.money import AmountError, format_fen, parse_fen
from console.pages import MenuItem, SignedIn, Viewer, is_fragment_request, render, translator
from console.purchase_lists import (
    Feedback,
    label_of,
    refusal_fields,
    supplier_names,
    yuan,
)
from console.security import CSRF_FIELD, check_csrf
from models.contracts.purchasing import InvoiceStatus
from models.domain.business_day import BUSINESS_TZ
from models.domain.reconciliation import DIFFERENCE_KINDS

router = APIRouter()
MENU = (
    MenuItem("nav.payables", "/payables", "purchase.settle"),
    MenuItem("nav.transfers", "/payables?status=paid", "purchase.settle"),
    MenuItem("nav.reconciliation", "/reconciliation", "finance.read"),
    MenuItem("nav.ledger", "/ledger", "finance.read"),
)
INVOICE_STATUSES: Final = get_args(InvoiceStatus)
NUMBER: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _is_day(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", ""))


# --- payables and paid transfers -----------------------------------------------------------------

PAYABLE_RULES: Final = {
    "status": lambda v: v in INVOICE_STATUSES,
    "due_before": _is_day,
}


@router.get("/payables", response_class=HTMLResponse)
async def payables(request: Request, viewer: SignedIn) -> Response:
    viewer.require("purchase.settle")
    filters = Filters.read(request.query_params, PAYABLE_RULES)
    page = page_number(request.query_params)
    context = await fetch_page(viewer.api, "/v1/payables", filters.api_params(), page)
    context.update(filters=filters, invalid=filters.invalid)
    if is_fragment_request(request):
        fragment = render(request, "finance/_payables.html", viewer=viewer, **context)
        fragment.headers["HX-Push-Url"] = fragment_url(request, "/payables", filters, page)
        return fragment
    return render(
        request, "finance/payables.html", viewer=viewer, statuses=INVOICE_STATUSES, **context
    )


@router.get("/payables/export.{kind}")
async def payables_export(request: Request, kind: str, viewer: SignedIn) -> Response:
    viewer.require("purchase.settle")
    if kind not in ("csv", "xlsx"):
        raise NotFound
    filters = Filters.read(request.query_params, PAYABLE_RULES)
    t = translator(request)
    keys = ["po_no", "invoice_no", "status", "expected", "invoiced", "credit", "payable"]
    keys += ["due_date", "transfer_id", "paid_at"]
    header = [t(f"invoice.col.{k}") for k in keys]

    async def rows(api: ApiClient) -> AsyncIterator[list[str]]:
        async for i in every_row(api, "/v1/payables", filters.api_params()):
            yield [
                i["po_no"],
                i["invoice_no"],
                label_of(t, "invoice.status", i["status"]),
                yuan(i["expected_fen"]),
                yuan(i["invoiced_fen"]),
                yuan(i["credit_fen"]),
                yuan(i["payable_fen"]),
                i["due_date"] or "",
                i["transfer_id"] or "",
                format_time(i["paid_at"]),
            ]

    return download(
        request, kind=kind, name="payables", sheet=t("nav.payables"), header=header, rows=rows
    )


# --- an invoice: book it, see the match, decide a mismatch ---------------------------------------


@dataclass
class InvoiceDraft:
    invoice_no: str
    invoice_date: str
    quantities: list[str]
    prices: list[str]  # yuan as typed

    @classmethod
    def for_po(cls, po: Json) -> InvoiceDraft:
        """What the supplier should bill: the received quantity at the PO's price."""
        return cls(
            invoice_no="",
            invoice_date=datetime.now(BUSINESS_TZ).date().isoformat(),
            quantities=[str(line["received"]) for line in po["lines"]],
            prices=[format_fen(line["unit_price_fen"]).lstrip("¥") for line in po["lines"]],
        )

    @classmethod
    def from_form(cls, form: Mapping[str, str], po: Json) -> InvoiceDraft:
        count = len(po["lines"])
        return cls(
            invoice_no=form.get("invoice_no", "").strip(),
            invoice_date=form.get("invoice_date", "").strip(),
            quantities=[form.get(f"lines.{n}.quantity", "").strip() for n in range(count)],
            prices=[form.get(f"lines.{n}.price", "").strip() for n in range(count)],
        )

    def body(self, po: Json) -> tuple[Json, dict[str, str]]:
        errors: dict[str, str] = {}
        if not NUMBER.match(self.invoice_no):
            errors["invoice_no"] = "invoice.need_number"
        if not _is_day(self.invoice_date):
            errors["invoice_date"] = "invoice.need_date"
        lines: list[Json] = []
        for n, line in enumerate(po["lines"]):
            entry: Json = {"line_no": line["line_no"], "sku_id": line["sku_id"]}
            quantity = self.quantities[n]
            if quantity.isdigit() and int(quantity) <= 10**9:
                entry["quantity"] = int(quantity)
            else:
                errors[f"lines.{n}.quantity"] = "invoice.bad_quantity"
            try:
                entry["unit_price_fen"] = parse_fen(self.prices[n])
            except AmountError:
                errors[f"lines.{n}.price"] = "invoice.bad_price"
            lines.append(entry)
        body = {"invoice_no": self.invoice_no, "invoice_date": self.invoice_date, "lines": lines}
        return body, errors


INVOICE_DONE: Final = ("booked", "decided")


async def invoice_of(api: ApiClient, po_no: str) -> Json | None:
    """The PO's invoice (one at most), or None."""
    found: Any = await api.get(f"/v1/purchase-orders/{po_no}/invoices")
    return found[0] if isinstance(found, list) and found else None


async def invoice_page(
    request: Request,
    viewer: Viewer,
    po_no: str,
    *,
    draft: InvoiceDraft | None = None,
    errors: dict[str, str] | None = None,
    feedback: Feedback | None = None,
    done: str | None = None,
    status: int = 200,
) -> Response:
    api = viewer.api
    po = await api.get(f"/v1/purchase-orders/{po_no}")
    invoice = await invoice_of(api, po_no)
    can_book = viewer.can("purchase.settle") and po["status"] == "closed" and invoice is None
    suppliers = await supplier_names(api) if viewer.can("supplier.read") else {}
    return render(
        request,
        "finance/invoice.html",
        viewer=viewer,
        status=status,
        po=po,
        invoice=invoice,
        supplier=suppliers.get(po["supplier_id"], str(po["supplier_id"])),
        skus=await sku_names(api, {line["sku_id"] for line in po["lines"]}),
        can_book=can_book,
        can_decide=viewer.can("purchase.settle")
        and invoice is not None
        and invoice["status"] == "mismatch",
        can_ledger=viewer.can("finance.read"),
        draft=draft or InvoiceDraft.for_po(po),
        errors=errors or {},
        feedback=feedback or Feedback(),
        done=done if done in INVOICE_DONE else None,
    )


@router.get("/invoices/{po_no}", response_class=HTMLResponse)
async def invoice(
    request: Request, po_no: str, viewer: SignedIn, done: str | None = None
) -> Response:
    viewer.require("purchase.read")
    return await invoice_page(request, viewer, po_no, done=done)


@router.post("/invoices/{po_no}", response_class=HTMLResponse)
async def book_invoice(request: Request, po_no: str, viewer: SignedIn) -> Response:
    form = await _form(request)
    check_csrf(request, form.get(CSRF_FIELD))
    viewer.require("purchase.settle")
    po = await viewer.api.get(f"/v1/purchase-orders/{po_no}")
    draft = InvoiceDraft.from_form(form, po)
    body, errors = draft.body(po)
    if errors:
        return await invoice_page(request, viewer, po_no, draft=draft, errors=errors, status=422)
    try:
        await viewer.api.post(f"/v1/purchase-orders/{po_no}/invoices", body)
    except Refused as refusal:
        shown = {
            re.sub(r"\.unit_price_fen$", ".price", k): v for k, v in refusal_fields(refusal).items()
        }
        general = shown.pop("", None)
        feedback = Feedback(form="book", refusal=general)
        return await invoice_page(
            request,
            viewer,
            po_no,
            draft=draft,
            errors=shown,
            feedback=feedback,
            status=refusal.status,
        )
    return RedirectResponse(f"{_root(request)}/invoices/{po_no}?done=booked", status_code=303)


@router.post("/invoices/{po_no}/decision", response_class=HTMLResponse)
async def decide_invoice(request: Request, po_no: str, viewer: SignedIn) -> Response:
    form = await _form(request)
    check_csrf(request, form.get(CSRF_FIELD))
    viewer.require("purchase.settle")
    decision = form.get("decision", "")
    reason = form.get("reason", "").strip()
    if decision not in ("approve", "reject"):
        feedback = Feedback(form="decide", message="invoice.need_decision", reason=reason)
        return await invoice_page(request, viewer, po_no, feedback=feedback, status=422)
    if len(reason) < 2:
        feedback = Feedback(form="decide", message="po.need_reason", reason=reason)
        return await invoice_page(request, viewer, po_no, feedback=feedback, status=422)
    found = await invoice_of(viewer.api, po_no)
    if found is None:
        raise NotFound
    number = found["invoice_no"]
    try:
        await viewer.api.post(
            f"/v1/purchase-orders/{po_no}/invoices/{number}/decision",
            {"approve": decision == "approve", "reason": reason},
        )
    except Refused as refusal:
        feedback = Feedback(form="decide", refusal=refusal.detail, reason=reason)
        return await invoice_page(request, viewer, po_no, feedback=feedback, status=refusal.status)
    return RedirectResponse(f"{_root(request)}/invoices/{po_no}?done=decided", status_code=303)


# --- reconciliation ------------------------------------------------------------------------------

RECONCILE_RULES: Final = {
    "day": _is_day,
    "kind": lambda v: v in DIFFERENCE_KINDS,
    "unresolved": lambda v: v in ("true", "false"),
}


async def reconciliation_page(
    request: Request,
    viewer: Viewer,
    *,
    feedback: Feedback | None = None,
    run: Json | None = None,
    status: int = 200,
) -> Response:
    filters = Filters.read(request.query_params, RECONCILE_RULES)
    page = page_number(request.query_params)
    path = "/v1/finance/reconciliation"
    context = await fetch_page(viewer.api, path, filters.api_params(), page)
    context.update(filters=filters, invalid=filters.invalid)
    if is_fragment_request(request):
        fragment = render(request, "finance/_differences.html", viewer=viewer, **context)
        fragment.headers["HX-Push-Url"] = fragment_url(request, "/reconciliation", filters, page)
        return fragment
    answer = await viewer.api.get(
        "/v1/finance/reconciliation", {**filters.api_params(), "limit": 1}
    )
    return render(
        request,
        "finance/reconciliation.html",
        viewer=viewer,
        status=status,
        kinds=DIFFERENCE_KINDS,
        runs=answer["runs"],
        can_run=viewer.can("finance.reconcile"),
        feedback=feedback or Feedback(),
        run=run,
        **context,
    )


@router.get("/reconciliation", response_class=HTMLResponse)
async def reconciliation(request: Request, viewer: SignedIn) -> Response:
    viewer.require("finance.read")
    return await reconciliation_page(request, viewer)


@router.post("/reconciliation/run", response_class=HTMLResponse)
async def reconcile_now(request: Request, viewer: SignedIn) -> Response:
    form = await _form(request)
    check_csrf(request, form.get(CSRF_FIELD))
    viewer.require("finance.reconcile")
    day = form.get("day", "").strip()
    if day and not _is_day(day):
        feedback = Feedback(form="run", message="reconcile.bad_day", reason=day)
        return await reconciliation_page(request, viewer, feedback=feedback, status=422)
    try:
        answer = await viewer.api.post(
            "/v1/finance/reconciliation/run", {"day": day} if day else {}
        )
    except Refused as refusal:
        feedback = Feedback(form="run", refusal=refusal.detail, reason=day)
        return await reconciliation_page(request, viewer, feedback=feedback, status=refusal.status)
    run = answer["run"]
    return RedirectResponse(
        f"{_root(request)}/reconciliation?day={run['day']}&ran={run['id']}", status_code=303
    )


@router.get("/reconciliation/export.{kind}")
async def reconciliation_export(request: Request, kind: str, viewer: SignedIn) -> Response:
    viewer.require("finance.read")
    if kind not in ("csv", "xlsx"):
        raise NotFound
    filters = Filters.read(request.query_params, RECONCILE_RULES)
    t = translator(request)
    keys = ["day", "kind", "entry_type", "reference", "order_no", "provider", "ledger"]
    keys += ["detail", "resolved"]
    header = [t(f"reconcile.col.{k}") for k in keys]

    def amount(fen: int | None) -> str:
        return "" if fen is None else yuan(fen)

    async def rows(api: ApiClient) -> AsyncIterator[list[str]]:
        async for d in every_row(api, "/v1/finance/reconciliation", filters.api_params()):
            yield [
                d["day"],
                label_of(t, "reconcile.kind", d["kind"]),
                d["entry_type"],
                d["reference"],
                d["order_no"],
                amount(d["provider_amount_fen"]),
                amount(d["ledger_amount_fen"]),
                d["detail"],
                t("po.yes") if d["resolved"] else t("po.no"),
            ]

    return download(
        request,
        kind=kind,
        name="reconciliation",
        sheet=t("nav.reconciliation"),
        header=header,
        rows=rows,
    )


# --- the money ledger ------------------------------------------------------------------------


@router.get("/ledger", response_class=HTMLResponse)
async def ledger(request: Request, viewer: SignedIn) -> Response:
    viewer.require("finance.read")
    number = request.query_params.get("number", "").strip().upper()
    number = (
        number or request.query_params.get("po_no", "") or request.query_params.get("order_no", "")
    )
    context: dict[str, Any] = {"number": number, "ledger": None, "problem": None}
    if number:
        kind = "po_no" if number.startswith("PO") else "order_no"
        if not NUMBER.match(number) or not number.startswith(("PO", "SO")):
            context["problem"] = "ledger.bad_number"
        else:
            context["ledger"] = await viewer.api.get("/v1/ledger", {kind: number})
            context["kind"] = kind
    return render(request, "finance/ledger.html", viewer=viewer, **context)
