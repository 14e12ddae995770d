"""Group buys (拼团, mirrors api/routes/group_buys.py): the offers with their live figures,
filters and export; a form to create and schedule an offer (SKU, group price, group size, time
limit, window); an offer's page watching its groups form, complete and fail, with a stop to end
it early; and a group's page with its members and their orders."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.campaigns import Part, fragment
from console.client import Json, NotFound
from console.form_fields import local_time, path_id, sku_named
from console.i18n import Translator, format_time
from console.lists import (
    Filters,
    a_number,
    export,
    fetch_page,
    from_list,
    one_of,
    page_number,
)
from console.lookups import sku_names
from console.money import AmountError, format_fen, parse_fen
from console.pages import MenuItem, SignedIn, Viewer, is_fragment_request, render, translator

router = APIRouter()
MENU = (MenuItem("nav.group_buys", "/group-buys", "promotions.read"),)
OFFER_STATUSES: Final = ("scheduled", "live", "ended", "stopped")
GROUP_STATUSES: Final = ("forming", "completed", "failed")
OFFER_FILTERS: Final = {"status": one_of(*OFFER_STATUSES)}
GROUP_FILTERS: Final = {
    "status": one_of(*GROUP_STATUSES),
    "sort": one_of("-opened_at", "opened_at", "deadline", "-deadline"),
}
DONE: Final = ("created", "stopped")
POLL_SECONDS: Final = 3
MAX_HOURS: Final = 720  # the API's limit: 30 days
OFFERS: Final = Part(
    "/group-buys", "/v1/group-buy-offers", "group_buys", "promotions.read", OFFER_FILTERS, DONE
)


# --- offers ---------------------------------------------------------------------------------


@router.get("/group-buys", response_class=HTMLResponse)
async def offer_list(request: Request, viewer: SignedIn) -> Response:
    can_write = viewer.can("promotions.write")
    return await OFFERS.list_page(request, viewer, statuses=OFFER_STATUSES, can_write=can_write)


def _offer_header(t: Translator) -> list[str]:
    keys = ("id", "name", "sku", "price", "size", "time_limit", "starts_at", "ends_at", "status")
    figures = ("forming", "completed", "failed", "members")
    return [t(f"group_buys.col.{k}") for k in keys] + [t(f"group_buys.fig.{k}") for k in figures]


def _offer_row(row: Json, t: Translator) -> list[str]:
    figures = row["figures"]
    return [
        str(row["id"]),
        row["name"],
        str(row["sku_id"]),
        format_fen(row["group_price_fen"]),
        str(row["group_size"]),
        hours_text(row["time_limit_minutes"], t),
        format_time(row["starts_at"]),
        format_time(row["ends_at"]),
        t(f"group_buys.status.{row['status']}"),
        *(str(figures[k]) for k in ("forming", "completed", "failed", "members")),
    ]


def hours_text(minutes: int, t: Translator) -> str:
    hours, rest = divmod(minutes, 60)
    return t("group_buys.hours", hours=hours) if not rest else t("group_buys.minutes", n=minutes)


@router.get("/group-buys/export.{kind}")
async def offer_export(request: Request, kind: str, viewer: SignedIn) -> Response:
    return await OFFERS.export(request, viewer, kind, "group_buys", _offer_header, _offer_row)


# --- creating -------------------------------------------------------------------------------


def _small(text: str, low: int, high: int) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and low <= int(text) <= high else None


async def _offer_body(viewer: Viewer, form: dict[str, str], t: Translator) -> Json | str:
    """The offer the form describes, or what is wrong with it (in the person's language)."""
    name = form.get("name", "").strip()
    if not name or len(name) > 100:
        return t("group_buys.bad_name")
    sku = await sku_named(viewer, form.get("sku", ""))
    if sku is None:
        return t("group_buys.unknown_sku", sku=form.get("sku", "").strip()[:64])
    try:
        price = parse_fen(form.get("price", ""))
    except AmountError:
        price = 0
    size = _small(form.get("group_size", ""), 2, 100)
    hours = _small(form.get("hours", ""), 1, MAX_HOURS)
    starts, ends = local_time(form.get("starts_at", "")), local_time(form.get("ends_at", ""))
    problems = [
        (price <= 0, t("group_buys.bad_price")),
        (size is None, t("group_buys.bad_size")),
        (hours is None, t("group_buys.bad_hours", max=MAX_HOURS)),
        (starts is None or ends is None or ends <= starts, t("group_buys.bad_window")),
    ]
    wrong = [text for bad, text in problems if bad]
    if wrong or size is None or hours is None:
        return " ".join(wrong)
    return {
        "name": name,
        "sku_id": sku,
        "group_price_fen": price,
        "group_size": size,
        "time_limit_minutes": hours * 60,
        "starts_at": starts,
        "ends_at": ends,
    }


# the form (`/group-buys/new`, for a pair within a day unless changed) and its post
OFFERS.form_pages(router, "promotions.write", _offer_body, blank={"group_size": "2", "hours": "24"})


# --- one offer: its groups, live ------------------------------------------------------------


async def _offer_context(request: Request, viewer: Viewer, offer_id: int) -> dict[str, Any]:
    offer = await viewer.api.get(f"/v1/group-buy-offers/{offer_id}")
    filters = Filters.read(request.query_params, GROUP_FILTERS, default_sort="-opened_at")
    page = page_number(request.query_params)
    params = {**filters.api_params(), "offer_id": offer_id}
    listing = await fetch_page(viewer.api, "/v1/group-buys", params, page)
    return {
        **listing,
        "offer": offer,
        "filters": filters,
        "statuses": GROUP_STATUSES,
        "limit_text": hours_text(offer["time_limit_minutes"], translator(request)),
        "path": f"/group-buys/{offer_id}",
        "polling": offer["status"] == "live" or offer["figures"]["forming"] > 0,
        "poll_seconds": POLL_SECONDS,
        "can_stop": viewer.can("promotions.write") and offer["status"] in ("scheduled", "live"),
    }


@router.get("/group-buys/{offer_id}", response_class=HTMLResponse)
async def offer_detail(request: Request, offer_id: str, viewer: SignedIn) -> Response:
    viewer.require("promotions.read")
    context = await _offer_context(request, viewer, path_id(offer_id))
    if is_fragment_request(request):
        return fragment(request, viewer, "group_buys/_groups.html", context["path"], context)
    return OFFERS.detail_page(request, viewer, await _with_sku(viewer, context))


async def _with_sku(viewer: Viewer, context: dict[str, Any]) -> dict[str, Any]:
    """The whole page also names the SKU by code and name (the form takes a code), which the
    polled live part does not show."""
    return {**context, "skus": await sku_names(viewer.api, [context["offer"]["sku_id"]])}


@router.get("/group-buys/{offer_id}/watch", response_class=HTMLResponse)
async def offer_watch(request: Request, offer_id: str, viewer: SignedIn) -> Response:
    """The live part the page polls: the figures and the groups under the page's filters."""
    viewer.require("promotions.read")
    context = await _offer_context(request, viewer, path_id(offer_id))
    return OFFERS.live(request, viewer, context)


def _group_header(t: Translator) -> list[str]:
    keys = ("group_no", "status", "opened_by", "members", "paid", "opened_at", "deadline",
            "finished_at", "reason")  # fmt: skip
    return [t(f"group_buys.group.{k}") for k in keys]


def _group_row(row: Json, t: Translator) -> list[str]:
    return [
        row["group_no"],
        t(f"group_buys.group_status.{row['status']}"),
        str(row["opened_by"]),
        f"{row['members']}/{row['group_size']}",
        str(row["paid"]),
        format_time(row["opened_at"]),
        format_time(row["deadline"]),
        format_time(row["finished_at"]),
        t.label("group_buys.reason", row["reason"]) if row["reason"] else "",
    ]


@router.get("/group-buys/{offer_id}/export.{kind}")
async def group_export(request: Request, offer_id: str, kind: str, viewer: SignedIn) -> Response:
    viewer.require("promotions.read")
    filters = Filters.read(request.query_params, GROUP_FILTERS, default_sort="-opened_at")
    params = {**filters.api_params(), "offer_id": path_id(offer_id)}
    rows = from_list("/v1/group-buys", params, _group_row)
    header = _group_header(translator(request))
    return await export(request, viewer.api, kind, "groups", header, rows)


@router.post("/group-buys/{offer_id}/stop", response_class=HTMLResponse)
async def offer_stop(request: Request, offer_id: str, viewer: SignedIn) -> Response:
    async def again(refusal: str, status: int) -> Response:
        context = await _with_sku(viewer, await _offer_context(request, viewer, path_id(offer_id)))
        return OFFERS.detail_page(request, viewer, context, refusal, status, done="")

    return await OFFERS.act(
        request,
        viewer,
        offer_id,
        "stop",
        permission="promotions.write",
        done="stopped",
        again=again,
        need_reason="group_buys.need_reason",
        parse=path_id,
    )


# --- one group ------------------------------------------------------------------------------


@router.get("/group-buys/groups/{group_no}", response_class=HTMLResponse)
async def group_detail(request: Request, group_no: str, viewer: SignedIn) -> Response:
    viewer.require("promotions.read")
    if not a_number(group_no):
        raise NotFound
    group = await viewer.api.get(f"/v1/group-buys/{group_no}")
    return render(
        request,
        "group_buys/group.html",
        viewer=viewer,
        group=group,
        can_see_orders=viewer.can("orders.read"),
        polling=group["status"] == "forming",
        poll_seconds=POLL_SECONDS,
    )
