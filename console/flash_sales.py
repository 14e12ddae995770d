"""Flash sales (秒杀, mirrors api/routes/flash_sales.py): the list with filters, sort and its
export, a form to create and schedule one (SKU by code or barcode, warehouse, flash price, units,
per-customer limit, window in Asia/Shanghai time), and a sale's page watching it live — sold,
remaining, paid against unpaid orders, units given back — with the stop-early action."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.campaigns import Part
from console.client import Json
from console.form_fields import local_time, sku_named
from console.i18n import Translator, format_time
from console.lists import an_id, one_of, warehouse_names
from console.lookups import sku_names
from console.money import AmountError, format_fen, parse_fen
from console.pages import MenuItem, SignedIn, Viewer

router = APIRouter()
MENU = (MenuItem("nav.flash_sales", "/flash-sales", "promotions.read"),)
STATUSES: Final = ("scheduled", "open", "closed")
SORTS: Final = ("-starts_at", "starts_at", "-id", "id")
FILTERS: Final = {"status": one_of(*STATUSES), "sku_id": an_id, "sort": one_of(*SORTS)}
DONE: Final = ("created", "stopped")
POLL_SECONDS: Final = 2
SALES: Final = Part(
    "/flash-sales",
    "/v1/flash-sales",
    "flash_sales",
    "promotions.read",
    FILTERS,
    DONE,
    default_sort="-starts_at",
    warehouses=True,
)


@router.get("/flash-sales", response_class=HTMLResponse)
async def flash_list(request: Request, viewer: SignedIn) -> Response:
    can_create = viewer.can("promotions.write")
    return await SALES.list_page(
        request, viewer, statuses=STATUSES, sorts=SORTS, can_create=can_create
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
    return await SALES.export(request, viewer, kind, "flash-sales", _header, _row)


# --- creating -------------------------------------------------------------------------------


async def _choices(viewer: Viewer) -> dict[str, Any]:
    return {"warehouses": await warehouse_names(viewer.api)}


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


# the form (`/flash-sales/new`) and its post
SALES.form_pages(router, "promotions.write", _body, choices=_choices)


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


# its page, the live figures the page polls while the sale is scheduled or open, and its stop
async def _page_context(viewer: Viewer, sale_id: int) -> dict[str, Any]:
    """The whole page: the live part and the SKU by code and name (the form takes a code)."""
    context = await _context(viewer, sale_id)
    return {**context, "skus": await sku_names(viewer.api, [context["sale"]["sku_id"]])}


SALES.watched_pages(router, _context, "flash.need_reason", _page_context)
