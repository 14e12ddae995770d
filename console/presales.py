"""Presales (预售, mirrors api/routes/presales.py): the list with filters, sort and its export, a
form to create and schedule one (SKU by code or barcode, presale price, deposit, deposits from,
balance window start and end in Asia/Shanghai time, the forfeit rule and the refund rule before
the window), and a presale's page watching it live — deposits against balances paid,
forfeited — with the stop-early action."""

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
)

router = APIRouter()
MENU = (MenuItem("nav.presales", "/presales", "promotions.read"),)
STATUSES: Final = ("active", "stopped")
SORTS: Final = ("-starts_at", "starts_at", "-id", "id")
FILTERS: Final = {"status": one_of(*STATUSES), "sku_id": an_id, "sort": one_of(*SORTS)}
DONE: Final = ("created", "stopped")
POLL_SECONDS: Final = 2


@router.get("/presales", response_class=HTMLResponse)
async def presale_list(request: Request, viewer: SignedIn) -> Response:
    viewer.require("promotions.read")
    filters = Filters.read(request.query_params, FILTERS, default_sort="-starts_at")
    page = page_number(request.query_params)
    listing = await fetch_page(viewer.api, "/v1/presales", filters.api_params(), page)
    context: dict[str, Any] = {**listing, "filters": filters}
    if is_fragment_request(request):
        fragment = render(request, "presales/_rows.html", viewer=viewer, **context)
        fragment.headers["HX-Push-Url"] = fragment_url(request, "/presales", filters, page)
        return fragment
    return render(
        request,
        "presales/list.html",
        viewer=viewer,
        statuses=STATUSES,
        sorts=SORTS,
        can_create=viewer.can("promotions.write"),
        **context,
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
    viewer.require("promotions.read")
    filters = Filters.read(request.query_params, FILTERS, default_sort="-starts_at")
    rows = from_list("/v1/presales", filters.api_params(), _row)
    return await export(request, viewer.api, kind, "presales", _header(translator(request)), rows)


# --- creating -------------------------------------------------------------------------------


async def _new_page(
    request: Request, viewer: Viewer, form: dict[str, str], refusal: str = "", status: int = 200
) -> Response:
    return render(
        request, "presales/new.html", viewer=viewer, status=status, form=form, refusal=refusal
    )


@router.get("/presales/new", response_class=HTMLResponse)
async def presale_new(request: Request, viewer: SignedIn) -> Response:
    viewer.require("promotions.write")
    return await _new_page(request, viewer, {})


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


@router.post("/presales/new", response_class=HTMLResponse)
async def presale_create(request: Request, viewer: SignedIn) -> Response:
    posted = await request.form()
    form = {k: v for k, v in posted.items() if isinstance(v, str)}
    check_csrf(request, form.get(CSRF_FIELD))
    viewer.require("promotions.write")
    body = await _body(viewer, form, translator(request))
    if isinstance(body, str):
        return await _new_page(request, viewer, form, body, 422)
    try:
        created = await viewer.api.post("/v1/presales", body)
    except Refused as refusal:
        return await _new_page(request, viewer, form, refusal.detail, refusal.status)
    return back_to(request, f"/presales/{created['id']}", done="created")


# --- one presale ----------------------------------------------------------------------------


async def _context(viewer: Viewer, sale_id: int) -> dict[str, Any]:
    sale = await viewer.api.get(f"/v1/presales/{sale_id}")
    running = sale["phase"] not in ("ended", "stopped")
    return {
        "sale": sale,
        "can_stop": viewer.can("promotions.write") and sale["status"] != "stopped",
        "polling": running,
        "poll_seconds": POLL_SECONDS,
    }


async def _detail(
    request: Request, viewer: Viewer, sale_id: int, refusal: str = "", status: int = 200
) -> Response:
    done = request.query_params.get("done", "")
    return render(
        request,
        "presales/detail.html",
        viewer=viewer,
        status=status,
        refusal=refusal,
        done=done if done in DONE else "",
        **await _context(viewer, sale_id),
    )


@router.get("/presales/{sale_id}", response_class=HTMLResponse)
async def presale_detail(request: Request, sale_id: str, viewer: SignedIn) -> Response:
    viewer.require("promotions.read")
    return await _detail(request, viewer, path_id(sale_id))


@router.get("/presales/{sale_id}/watch", response_class=HTMLResponse)
async def presale_watch(request: Request, sale_id: str, viewer: SignedIn) -> Response:
    """The live figures the page polls while the presale runs."""
    viewer.require("promotions.read")
    context = await _context(viewer, path_id(sale_id))
    return render(request, "presales/_live.html", viewer=viewer, **context)


@router.post("/presales/{sale_id}/stop", response_class=HTMLResponse)
async def presale_stop(request: Request, sale_id: str, viewer: SignedIn) -> Response:
    posted = await request.form()
    form = {k: v for k, v in posted.items() if isinstance(v, str)}
    check_csrf(request, form.get(CSRF_FIELD))
    viewer.require("promotions.write")
    number = path_id(sale_id)
    reason = form.get("reason", "").strip()
    if len(reason) < 2:
        refusal = translator(request)("presale.need_reason")
        return await _detail(request, viewer, number, refusal, 422)
    try:
        await viewer.api.post(f"/v1/presales/{number}/stop", {"reason": reason[:500]})
    except Refused as refusal:
        return await _detail(request, viewer, number, refusal.detail, refusal.status)
    return back_to(request, f"/presales/{number}", done="stopped")
