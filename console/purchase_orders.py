"""Purchase orders: the list (filters, sort, pages, CSV/XLSX export), the detail with approvals,
receipts and returns, and the actions: submit, approve/reject (one or many), cancel, close short."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.client import ApiClient, Forbidden, Json, NotFound, Refused
from console.export import download, every_row
from console.i18n import format_time
from console.lists import Filters, an_id, fetch_page, fragment_url, page_number, warehouse_names
from console.lookups import sku_names
from console.pages import (
    SignedIn,
    Viewer,
    console_state,
    is_fragment_request,
    render,
    translator,
)
from console.purchase_lists import (
    MAX_ROWS,
    OPEN_FOR_RECEIPTS,
    PO_SORTS,
    PO_STATUSES,
    Feedback,
    form_fields,
    label_of,
    supplier_names,
    yuan,
)
from console.security import CSRF_FIELD, check_csrf

router = APIRouter()


# --- purchase orders: list and export ------------------------------------------------------------

PO_RULES: Final = {
    "status": lambda v: v in PO_STATUSES,
    "supplier_id": an_id,
    "escalated": lambda v: v in ("true", "false"),
    "sort": lambda v: v in PO_SORTS,
}


@router.get("/purchase-orders", response_class=HTMLResponse)
async def po_list(request: Request, viewer: SignedIn) -> Response:
    viewer.require("purchase.read")
    filters = Filters.read(request.query_params, PO_RULES, default_sort="-created_at")
    page = page_number(request.query_params)
    context = await fetch_page(viewer.api, "/v1/purchase-orders", filters.api_params(), page)
    suppliers = await supplier_names(viewer.api) if viewer.can("supplier.read") else {}
    context.update(
        filters=filters,
        invalid=filters.invalid,
        suppliers=suppliers,
        can_bulk=viewer.can("purchase.approve"),
    )
    if is_fragment_request(request):
        fragment = render(request, "purchasing/_rows.html", viewer=viewer, **context)
        fragment.headers["HX-Push-Url"] = fragment_url(request, "/purchase-orders", filters, page)
        return fragment
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
    filters = Filters.read(request.query_params, PO_RULES, default_sort="-created_at")
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


@router.get("/purchase-orders/{po_no}", response_class=HTMLResponse)
async def po_detail(
    request: Request, po_no: str, viewer: SignedIn, done: str | None = None
) -> Response:
    viewer.require("purchase.read")
    return await po_page(request, viewer, po_no, done=done)


@router.get("/purchase-orders/{po_no}/receipts/{receipt_no}/receipt-note.pdf")
async def receipt_note(po_no: str, receipt_no: str, viewer: SignedIn) -> Response:
    """The receipt note of one delivery, for the browser's print."""
    viewer.require("purchase.read")
    path = f"/v1/purchase-orders/{po_no}/receipts/{receipt_no}/receipt-note.pdf"
    content, kind = await viewer.api.get_bytes(path)
    return Response(content, media_type=kind or "application/pdf")


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
    form = await form_fields(request)
    check_csrf(request, form.get(CSRF_FIELD))
    viewer.require("purchase.write")
    call: tuple[str, Json] = (f"/v1/purchase-orders/{po_no}/submit", {})
    return await po_action(request, viewer, po_no, "submit", call, "submitted")


@router.post("/purchase-orders/{po_no}/approve", response_class=HTMLResponse)
async def po_approve(request: Request, po_no: str, viewer: SignedIn) -> Response:
    form = await form_fields(request)
    check_csrf(request, form.get(CSRF_FIELD))
    viewer.require("purchase.approve")
    role = form.get("role", "")
    body: Json = {"role": role} if role else {}
    call = (f"/v1/purchase-orders/{po_no}/approve", body)
    return await po_action(request, viewer, po_no, "approve", call, "approved")


async def _with_reason(
    request: Request, po_no: str, viewer: Viewer, permission: str, action: str, done: str
) -> Response:
    form = await form_fields(request)
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
