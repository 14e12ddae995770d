"""Flash sales (秒杀, mirrors api/routes/flash_sales.py): the list with filters, sort and its
export, a form to create and schedule one (SKU by code or barcode, warehouse, flash price, units,
per-customer limit, window in Asia/Shanghai time), and a sale's page watching it live — sold,
remaining, paid against unpaid orders, units given back — with the stop-early action."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.client import Json, Refused
from console.form_fields import local_time, path_id, sku_named
from console.i18n import Translator, format_time
from console.money import AmountError, format_fen, parse_fen
from console.pages import MenuItem, SignedIn, Viewer, is_fragment_request, render, translator
from console.security import CSRF_FIELD, check_csrf
from console.wh_lists import (
    Filters,
    an_id,
    back_to,
    export,
    fetch_page,
    fragment_url,
    from_list,
    one_of,
    page_number,
    warehouse_names,
)

router = APIRouter()
MENU = (MenuItem("nav.flash_sales", "/flash-sales", "promotions.read"),)
STATUSES: Final = ("scheduled", "open", "closed")
SORTS: Final = ("-starts_at", "starts_at", "-id", "id")
FILTERS: Final = {"status": one_of(*STATUSES), "sku_id": an_id, "sort": one_of(*SORTS)}
DONE: Final = ("created", "stopped")
POLL_SECONDS: Final = 2


@router.get("/flash-sales", response_class=HTMLResponse)
async def flash_list(request: Request, viewer: SignedIn) -> Response:
    viewer.require("promotions.read")
    filters = Filters.read(request.query_params, FILTERS, default_sort="-starts_at")
    page = page_number(request.query_params)
    listing = await fetch_page(viewer.api, "/v1/flash-sales", filters.api_params(), page)
    context: dict[str, Any] = {
        **listing,
        "filters": filters,
        "warehouses": await warehouse_names(viewer.api),
    }
    if is_fragment_request(request):
        fragment = render(request, "flash_sales/_rows.html", viewer=viewer, **context)
        fragment.headers["HX-Push-Url"] = fragment_url(request, "/flash-sales", filters, page)
        return fragment
    return render(
        request,
        "flash_sales/list.html",
        viewer=viewer,
        statuses=STATUSES,
        sorts=SORTS,
        can_create=viewer.can("promotions.write"),
        **context,
    )


def _header(t: Translator) -> list[str]:
    keys = ("flash_no", "name", "sku", "warehouse", "price", "status", "total", "sold",
            "remaining", "limit", "starts_at", "ends_at")  # fmt: skip
    return [t(f"flash.col.{k}") for k in keys]


def _row(row: Json, t: Translator) -> list[str]:
    return [
        row["flash_no"],
        row["name"],
        str(row["sku_id"]),
        str(row["warehouse_id"]),
        format_fen(row["price_fen"]),
        t(f"flash.status.{row['status']}"),
        str(row["total"]),
        str(row["sold"]),
        str(row["remaining"]),
        str(row["per_customer_limit"]),
        format_time(row["starts_at"]),
        format_time(row["ends_at"]),
    ]


@router.get("/flash-sales/export.{kind}")
async def flash_export(request: Request, kind: str, viewer: SignedIn) -> Response:
    viewer.require("promotions.read")
    filters = Filters.read(request.query_params, FILTERS, default_sort="-starts_at")
    rows = from_list("/v1/flash-sales", filters.api_params(), _row)
    return await export(
        request, viewer.api, kind, "flash-sales", _header(translator(request)), rows
    )


# --- creating -------------------------------------------------------------------------------


async def _new_page(
    request: Request, viewer: Viewer, form: dict[str, str], refusal: str = "", status: int = 200
) -> Response:
    return render(
        request,
        "flash_sales/new.html",
        viewer=viewer,
        status=status,
        warehouses=await warehouse_names(viewer.api),
        form=form,
        refusal=refusal,
    )


@router.get("/flash-sales/new", response_class=HTMLResponse)
async def flash_new(request: Request, viewer: SignedIn) -> Response:
    viewer.require("promotions.write")
    return await _new_page(request, viewer, {})


def _count(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and 0 < int(text) < 10**9 else None


async def _body(viewer: Viewer, form: dict[str, str], t: Translator) -> Json | str:
    """The API's body from the form, or what is wrong with the form."""
    sku_text = form.get("sku", "").strip()
    sku = await sku_named(viewer, sku_text) if sku_text else None
    if sku is None:
        return t("flash.unknown_sku", sku=sku_text)
    try:
        price = parse_fen(form.get("price", ""))
    except AmountError:
        return t("flash.bad_price")
    quantity, limit = _count(form.get("quantity", "")), _count(form.get("limit", ""))
    if quantity is None or limit is None:
        return t("flash.bad_count")
    starts, ends = local_time(form.get("starts", "")), local_time(form.get("ends", ""))
    if starts is None or ends is None:
        return t("flash.bad_time")
    if not an_id(form.get("warehouse_id", "")) or not form.get("name", "").strip():
        return t("flash.incomplete")
    return {
        "name": form["name"].strip()[:100],
        "sku_id": sku,
        "warehouse_id": int(form["warehouse_id"]),
        "price_fen": price,
        "quantity": quantity,
        "per_customer_limit": limit,
        "starts_at": starts,
        "ends_at": ends,
    }


@router.post("/flash-sales/new", response_class=HTMLResponse)
async def flash_create(request: Request, viewer: SignedIn) -> Response:
    posted = await request.form()
    form = {k: v for k, v in posted.items() if isinstance(v, str)}
    check_csrf(request, form.get(CSRF_FIELD))
    viewer.require("promotions.write")
    body = await _body(viewer, form, translator(request))
    if isinstance(body, str):
        return await _new_page(request, viewer, form, body, 422)
    try:
        created = await viewer.api.post("/v1/flash-sales", body)
    except Refused as refusal:
        return await _new_page(request, viewer, form, refusal.detail, refusal.status)
    return back_to(request, f"/flash-sales/{created['id']}", done="created")


# --- one sale -------------------------------------------------------------------------------


async def _context(viewer: Viewer, sale_id: int) -> dict[str, Any]:
    sale = await viewer.api.get(f"/v1/flash-sales/{sale_id}")
    return {
        "sale": sale,
        "warehouses": await warehouse_names(viewer.api),
        "can_stop": viewer.can("promotions.write") and sale["status"] != "closed",
        "polling": sale["status"] != "closed",
        "poll_seconds": POLL_SECONDS,
    }


async def _detail(
    request: Request, viewer: Viewer, sale_id: int, refusal: str = "", status: int = 200
) -> Response:
    done = request.query_params.get("done", "")
    return render(
        request,
        "flash_sales/detail.html",
        viewer=viewer,
        status=status,
        refusal=refusal,
        done=done if done in DONE else "",
        **await _context(viewer, sale_id),
    )


@router.get("/flash-sales/{sale_id}", response_class=HTMLResponse)
async def flash_detail(request: Request, sale_id: str, viewer: SignedIn) -> Response:
    viewer.require("promotions.read")
    return await _detail(request, viewer, path_id(sale_id))


@router.get("/flash-sales/{sale_id}/watch", response_class=HTMLResponse)
async def flash_watch(request: Request, sale_id: str, viewer: SignedIn) -> Response:
    """The live figures the page polls while the sale is scheduled or open."""
    viewer.require("promotions.read")
    context = await _context(viewer, path_id(sale_id))
    return render(request, "flash_sales/_live.html", viewer=viewer, **context)


@router.post("/flash-sales/{sale_id}/stop", response_class=HTMLResponse)
async def flash_stop(request: Request, sale_id: str, viewer: SignedIn) -> Response:
    posted = await request.form()
    form = {k: v for k, v in posted.items() if isinstance(v, str)}
    check_csrf(request, form.get(CSRF_FIELD))
    viewer.require("promotions.write")
    number = path_id(sale_id)
    reason = form.get("reason", "").strip()
    if len(reason) < 2:
        refusal = translator(request)("flash.need_reason")
        return await _detail(request, viewer, number, refusal, 422)
    try:
        await viewer.api.post(f"/v1/flash-sales/{number}/stop", {"reason": reason[:500]})
    except Refused as refusal:
        return await _detail(request, viewer, number, refusal.detail, refusal.status)
    return back_to(request, f"/flash-sales/{number}", done="stopped")
