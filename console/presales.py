"""Presales (预售, mirrors api/routes/presales.py): the list with filters, sort and its export, a
form to create and schedule one (SKU by code or barcode, presale price, deposit, deposits from,
balance window start and end in Asia/Shanghai time, the forfeit rule and the refund rule before
the window), and a presale's page watching it live — deposits against balances paid,
forfeited — with the stop-early action."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.campaigns import Part
from console.client import Json
from console.form_fields import local_time, sku_named
from console.i18n import Translator, format_time
from console.lists import an_id, one_of
from console.lookups import sku_names
from console.money import AmountError, format_fen, parse_fen
from console.pages import MenuItem, SignedIn, Viewer

router = APIRouter()
MENU = (MenuItem("nav.presales", "/presales", "promotions.read"),)
STATUSES: Final = ("active", "stopped")
SORTS: Final = ("-starts_at", "starts_at", "-id", "id")
FILTERS: Final = {"status": one_of(*STATUSES), "sku_id": an_id, "sort": one_of(*SORTS)}
DONE: Final = ("created", "stopped")
POLL_SECONDS: Final = 2
PRESALES: Final = Part(
    "/presales", "/v1/presales", "presales", "promotions.read", FILTERS, DONE, "-starts_at"
)


@router.get("/presales", response_class=HTMLResponse)
async def presale_list(request: Request, viewer: SignedIn) -> Response:
    can_create = viewer.can("promotions.write")
    return await PRESALES.list_page(
        request, viewer, statuses=STATUSES, sorts=SORTS, can_create=can_create
    )


def _header(t: Translator) -> list[str]:
    keys = ("id", "name", "sku", "price", "deposit", "phase", "starts_at", "balance_starts_at",
            "balance_ends_at", "forfeit", "refund")  # fmt: skip
    return [t(f"presale.col.{k}") for k in keys]


def _row(row: Json, t: Translator) -> list[str]:
    return [
        str(row["id"]),
        row["name"],
        str(row["sku_id"]),
        format_fen(row["price_fen"]),
        format_fen(row["deposit_fen"]),
        t(f"presale.phase.{row['phase']}"),
        format_time(row["starts_at"]),
        format_time(row["balance_starts_at"]),
        format_time(row["balance_ends_at"]),
        f"{row['forfeit_percent']}%",
        f"{row['refund_percent']}%",
    ]


@router.get("/presales/export.{kind}")
async def presale_export(request: Request, kind: str, viewer: SignedIn) -> Response:
    return await PRESALES.export(request, viewer, kind, "presales", _header, _row)


# --- creating -------------------------------------------------------------------------------


def _percent(text: str) -> int | None:
    text = text.strip().removesuffix("%").strip()
    return int(text) if text.isdigit() and 0 <= int(text) <= 100 else None


async def _body(viewer: Viewer, form: dict[str, str], t: Translator) -> Json | str:
    """The API's body from the form, or what is wrong with the form."""
    sku_text = form.get("sku", "").strip()
    sku = await sku_named(viewer, sku_text) if sku_text else None
    if sku is None:
        return t("presale.unknown_sku", sku=sku_text)
    try:
        price, deposit = parse_fen(form.get("price", "")), parse_fen(form.get("deposit", ""))
    except AmountError:
        return t("presale.bad_amount")
    times = [local_time(form.get(k, "")) for k in ("starts", "balance_starts", "balance_ends")]
    if None in times:
        return t("presale.bad_time")
    forfeit, refund = _percent(form.get("forfeit", "")), _percent(form.get("refund", ""))
    if forfeit is None or refund is None:
        return t("presale.bad_percent")
    if not form.get("name", "").strip():
        return t("presale.incomplete")
    starts, balance_starts, balance_ends = times
    return {
        "name": form["name"].strip()[:100],
        "sku_id": sku,
        "price_fen": price,
        "deposit_fen": deposit,
        "starts_at": starts,
        "balance_starts_at": balance_starts,
        "balance_ends_at": balance_ends,
        "forfeit_percent": forfeit,
        "refund_percent": refund,
    }


# the form (`/presales/new`) and its post
PRESALES.form_pages(router, "promotions.write", _body)


# --- one presale ----------------------------------------------------------------------------


def _orders_open(sale: Json) -> bool:
    """Orders placed can still move the figures once the presale takes no more: one awaiting
    its deposit (paid or cancelled), one whose deposit is in awaiting its balance (paid, or
    forfeited at the window's end, or cancelled)."""
    awaiting_balance = int(sale["deposits_paid"]) - sale["balances_paid"] - sale["forfeited"]
    return int(sale["awaiting_deposit"]) > 0 or awaiting_balance > 0


async def _context(viewer: Viewer, sale_id: int) -> dict[str, Any]:
    sale = await viewer.api.get(f"/v1/presales/{sale_id}")
    running = sale["phase"] not in ("ended", "stopped")
    return {
        "sale": sale,
        "can_stop": viewer.can("promotions.write") and sale["status"] != "stopped",
        "polling": running or _orders_open(sale),
        "poll_seconds": POLL_SECONDS,
    }


# its page, the live figures the page polls while the presale runs, and its stop
async def _page_context(viewer: Viewer, sale_id: int) -> dict[str, Any]:
    """The whole page: the live part and the SKU by code and name (the form takes a code)."""
    context = await _context(viewer, sale_id)
    return {**context, "skus": await sku_names(viewer.api, [context["sale"]["sku_id"]])}


PRESALES.watched_pages(router, _context, "presale.need_reason", _page_context)
