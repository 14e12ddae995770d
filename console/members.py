"""Members: customers (search by phone, name or order number; the customer page with orders,
after-sales, points and level with the level history and the latest points bookings, and
coupons, the contact masked until revealed) and segments (rules over orders,
their members, and coupons issued to them by a batch whose progress the page follows). Mirrors
api/routes/customers.py and segments.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.catalog_forms import (
    Form,
    ListPage,
    fetch_list,
    form_of,
    once_key,
    query_string,
    yuan,
)
from console.client import Json, Refused
from console.export import download, listed
from console.i18n import Translator, format_time
from console.money import format_fen
from console.pages import MenuItem, SignedIn, Viewer, is_fragment_request, render, translator
from console.security import check_csrf

router = APIRouter()
MENU = (
    MenuItem("nav.customers", "/members/customers", "customers.read"),
    MenuItem("nav.segments", "/members/segments", "segments.read"),
)
SORTS: Final = ("-created_at", "created_at", "name", "-name")
RULES: Final = ("paid_at_least", "no_order_in", "level_at_least")
MAX_DAYS: Final = 36_500
SHOWN: Final = 50  # rows of each list on a customer's or segment's page
POINTS_SHOWN: Final = 10  # the latest points bookings on a customer's page (all: its points page)


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", ""))


# --- customers --------------------------------------------------------------------------------


def _customer_filters(query: Mapping[str, str]) -> dict[str, str]:
    sort = query.get("sort", "")
    chosen = sort if sort in SORTS and sort != SORTS[0] else ""  # the default stays off links
    return {"q": query.get("q", "").strip()[:200], "sort": chosen}


def _api_params(filters: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in filters.items() if v}


@router.get("/members/customers", response_class=HTMLResponse)
async def customer_list(request: Request, viewer: SignedIn) -> Response:
    viewer.require("customers.read")
    filters = _customer_filters(request.query_params)
    listing = await fetch_list(
        viewer.api, "/v1/customers", _api_params(filters), request.query_params
    )

    def query(**extra: object) -> str:
        return query_string(filters, **extra)

    template = "members/_rows.html" if is_fragment_request(request) else "members/list.html"
    page = render(
        request, template, viewer=viewer, listing=listing, filters=filters, sorts=SORTS,
        query=query,
    )  # fmt: skip
    if is_fragment_request(request):
        shown = query(**({"page": listing.page} if listing.page > 1 else {}))
        page.headers["HX-Push-Url"] = f"{_root(request)}/members/customers" + (
            f"?{shown}" if shown else ""
        )
    return page


def export_header(t: Translator) -> list[str]:
    keys = ("id", "key", "name", "phone", "channel", "created_at")
    return [t(f"members.export.{k}") for k in keys]


def export_row(customer: Json) -> list[str]:
    return [
        str(customer["id"]),
        str(customer["customer_key"]),
        customer["contact"]["name"],
        customer["contact"]["phone"],  # masked, as the list shows it
        customer["channel"],
        format_time(customer["created_at"]),
    ]


@router.get("/members/customers/export.{kind}")
async def export_customers(request: Request, kind: str, viewer: SignedIn) -> Response:
    viewer.require("customers.read")
    t = translator(request)
    filters = _customer_filters(request.query_params)
    return download(
        request,
        kind=kind,
        name="customers",
        sheet=t("members.export.sheet"),
        header=export_header(t),
        rows=listed("/v1/customers", _api_params(filters), export_row),
    )


async def loyalty_of(
    viewer: Viewer, customer_id: int
) -> tuple[Json | None, Json | None, dict[int, Json]]:
    """The customer's points account (balance, growth, level, level history), their latest
    points bookings and the levels by id; nothing without loyalty.read."""
    if not viewer.can("loyalty.read"):
        return None, None, {}
    path = f"/v1/customers/{customer_id}/points"
    account = await viewer.api.get(path)
    ledger = await viewer.api.get(f"{path}/ledger", {"limit": POINTS_SHOWN})
    levels = (await viewer.api.get("/v1/loyalty/settings"))["levels"]
    return account, ledger, {level["id"]: level for level in levels}


async def customer_page(
    request: Request, viewer: Viewer, customer_id: int, *, revealed: Json | None = None
) -> Response:
    """The customer's page; `revealed` is the full contact when the person has just asked."""
    path = f"/v1/customers/{customer_id}"
    customer = await viewer.api.get(path)
    first = {"limit": SHOWN}
    query = request.query_params

    async def page_of(part: str, param: str) -> ListPage:
        """A page of the customer's orders or after-sales (`?orders_page=2`)."""
        return await fetch_list(viewer.api, f"{path}/{part}", {}, {"page": query.get(param, "1")})

    orders = await page_of("orders", "orders_page") if viewer.can("orders.read") else None
    after_sales = (
        await page_of("after-sales", "after_sales_page") if viewer.can("aftersales.read") else None
    )
    account, ledger, levels = await loyalty_of(viewer, customer_id)
    return render(
        request,
        "members/detail.html",
        viewer=viewer,
        customer=customer,
        account=account,
        ledger=ledger,
        levels=levels,
        contact=revealed["contact"] if revealed else customer["contact"],
        addresses=revealed["addresses"] if revealed else customer["addresses"],
        can_reveal=viewer.can("pii.read") and revealed is None,
        orders=orders,
        after_sales=after_sales,
        coupons=await viewer.api.get(f"{path}/coupons", first),
    )


@router.get("/members/customers/{customer_id}", response_class=HTMLResponse)
async def customer_detail(request: Request, customer_id: int, viewer: SignedIn) -> Response:
    viewer.require("customers.read")
    return await customer_page(request, viewer, customer_id)


@router.post("/members/customers/{customer_id}/reveal", response_class=HTMLResponse)
async def reveal_customer(request: Request, customer_id: int, viewer: SignedIn) -> Response:
    """The customer's full contact, once, on this answer only (the API audits every reveal)."""
    form = await request.form()
    token = form.get("csrf")
    check_csrf(request, token if isinstance(token, str) else None)
    viewer.require("pii.read")
    revealed = await viewer.api.post(f"/v1/customers/{customer_id}/reveal")
    return await customer_page(request, viewer, customer_id, revealed=revealed)


# --- segments ---------------------------------------------------------------------------------


def rule_text(rule: Json, t: Translator, levels: Mapping[int, Json] | None = None) -> str:
    """A rule in words: 近 90 天实付 ≥ ¥500.00; 等级 ≥ 金卡 (the level's name when known)."""
    if rule["kind"] == "paid_at_least":
        return t(
            "members.rule.paid_at_least_text", days=rule["days"], amount=format_fen(rule["min_fen"])
        )
    if rule["kind"] == "no_order_in":
        return t("members.rule.no_order_in_text", days=rule["days"])
    if rule["kind"] == "level_at_least":
        level = (levels or {}).get(rule["level_id"])
        name = f"{level['name']} ({level['code']})" if level else f"#{rule['level_id']}"
        return t("members.rule.level_at_least_text", level=name)
    return str(rule["kind"])


async def levels_of(viewer: Viewer) -> dict[int, Json]:
    """The member levels by id, lowest first (none without loyalty.read)."""
    if not viewer.can("loyalty.read"):
        return {}
    found = (await viewer.api.get("/v1/loyalty/settings"))["levels"]
    return {level["id"]: level for level in found}


async def segments_page(
    request: Request, viewer: Viewer, form: Form | None = None, status: int = 200
) -> Response:
    archived = request.query_params.get("archived") == "true"
    shown = {"archived": "true"} if archived else {}
    listing = await fetch_list(viewer.api, "/v1/segments", shown, request.query_params)
    levels = await levels_of(viewer)
    return render(
        request,
        "members/segments.html",
        viewer=viewer,
        status=status,
        listing=listing,
        archived=archived,
        form=form or Form(name="segment"),
        can_write=viewer.can("segments.write") and not archived,
        levels=levels,
        rule_text=lambda rule: rule_text(rule, translator(request), levels),
        query=lambda **extra: query_string(shown, **extra),
    )


@router.get("/members/segments", response_class=HTMLResponse)
async def segment_list(request: Request, viewer: SignedIn) -> Response:
    viewer.require("segments.read")
    return await segments_page(request, viewer)


def _days(form: Form, key: str, t: Translator) -> int | None:
    days = form.integer(key, t)
    if days is not None and not 0 < days <= MAX_DAYS:
        form.errors[key] = t("members.rule.days_invalid", text=form.get(key))
        return None
    return days


def rules_of(form: Form, t: Translator) -> list[Json]:
    """The rules ticked on the form, their figures parsed (amounts exactly to fen)."""
    rules: list[Json] = []
    ticked = form.lists.get("rule", [])
    if "paid_at_least" in ticked:
        amount, days = form.amount("paid_min", t), _days(form, "paid_days", t)
        if amount is not None and days is not None:
            rules.append({"kind": "paid_at_least", "min_fen": amount, "days": days})
    if "no_order_in" in ticked:
        days = _days(form, "idle_days", t)
        if days is not None:
            rules.append({"kind": "no_order_in", "days": days})
    if "level_at_least" in ticked:
        level = form.integer("level_id", t)
        if level is not None:
            rules.append({"kind": "level_at_least", "level_id": level})
    if not ticked:
        form.errors["rule"] = t("members.rule.need_one")
    return rules


@router.post("/members/segments", response_class=HTMLResponse)
async def create_segment(request: Request, viewer: SignedIn) -> Response:
    form = await form_of(request, "segment")
    viewer.require("segments.write")
    t = translator(request)
    rules = rules_of(form, t)
    if form.errors:
        return await segments_page(request, viewer, form, status=422)
    try:
        made = await viewer.api.post("/v1/segments", {"name": form.get("name"), "rules": rules})
    except Refused as refusal:
        form.refused(refusal)
        return await segments_page(request, viewer, form, status=refusal.status)
    return RedirectResponse(f"{_root(request)}/members/segments/{made['id']}?done=created", 303)


def edit_form(segment: Json) -> Form:
    """The edit form filled with the segment as it is (its name and every rule's figures)."""
    values = {"name": str(segment["name"])}
    for rule in segment["rules"]:
        if rule["kind"] == "paid_at_least":
            values |= {"paid_days": str(rule["days"]), "paid_min": yuan(rule["min_fen"])}
        elif rule["kind"] == "no_order_in":
            values["idle_days"] = str(rule["days"])
        elif rule["kind"] == "level_at_least":
            values["level_id"] = str(rule["level_id"])
    ticked = [str(rule["kind"]) for rule in segment["rules"]]
    return Form(values=values, lists={"rule": ticked}, name="edit")


async def batches_of(viewer: Viewer, segment_id: int) -> list[Json]:
    answer = await viewer.api.get("/v1/coupon-batches", {"segment_id": segment_id, "limit": SHOWN})
    return list(answer["data"])


async def segment_page(
    request: Request,
    viewer: Viewer,
    segment_id: int,
    *,
    form: Form | None = None,
    status: int = 200,
) -> Response:
    segment = await viewer.api.get(f"/v1/segments/{segment_id}")
    members = (
        await viewer.api.get(f"/v1/segments/{segment_id}/customers", {"limit": SHOWN})
        if viewer.can("customers.read")
        else None
    )
    in_use = segment.get("archived_at") is None
    can_issue = in_use and viewer.can("segments.write") and viewer.can("promotions.read")
    coupons = (
        (await viewer.api.get("/v1/coupons", {"active": "true", "limit": 500}))["data"]
        if can_issue
        else []
    )
    done = request.query_params.get("done")
    levels = await levels_of(viewer)
    return render(
        request,
        "members/segment.html",
        viewer=viewer,
        status=status,
        segment=segment,
        members=members,
        batches=await batches_of(viewer, segment_id),
        coupons=coupons,
        can_issue=can_issue,
        can_archive=in_use and viewer.can("segments.write"),
        form=form or Form(name="issue"),
        # the edit as posted when it was refused, else the segment as it is
        edit=form if form is not None and form.name == "edit" else edit_form(segment),
        levels=levels,
        issue_key=once_key(form, "issue", "cb"),
        rule_text=lambda rule: rule_text(rule, translator(request), levels),
        done=done if done in ("created", "issued", "archived", "edited") else None,
    )


@router.get("/members/segments/{segment_id}", response_class=HTMLResponse)
async def segment_detail(request: Request, segment_id: int, viewer: SignedIn) -> Response:
    viewer.require("segments.read")
    return await segment_page(request, viewer, segment_id)


@router.get("/members/segments/{segment_id}/batches", response_class=HTMLResponse)
async def segment_batches(request: Request, segment_id: int, viewer: SignedIn) -> Response:
    """The batches' progress, the fragment the segment page polls while one is running."""
    viewer.require("segments.read")
    levels = await levels_of(viewer)
    return render(
        request,
        "members/_batches.html",
        viewer=viewer,
        segment={"id": segment_id},
        batches=await batches_of(viewer, segment_id),
        rule_text=lambda rule: rule_text(rule, translator(request), levels),
    )


@router.post("/members/segments/{segment_id}/coupon-batches", response_class=HTMLResponse)
async def issue_coupons(request: Request, segment_id: int, viewer: SignedIn) -> Response:
    form = await form_of(request, "issue")
    viewer.require("segments.write")
    coupon = form.integer("coupon_id", translator(request))
    if coupon is None:
        return await segment_page(request, viewer, segment_id, form=form, status=422)
    key = form.get("key").strip()[:100]
    try:
        await viewer.api.post(
            f"/v1/segments/{segment_id}/coupon-batches",
            {"coupon_id": coupon},
            headers={"Idempotency-Key": key} if key else None,
        )
    except Refused as refusal:
        form.refused(refusal)
        return await segment_page(request, viewer, segment_id, form=form, status=refusal.status)
    return RedirectResponse(f"{_root(request)}/members/segments/{segment_id}?done=issued", 303)


@router.post("/members/segments/{segment_id}/edit", response_class=HTMLResponse)
async def edit_segment(request: Request, segment_id: int, viewer: SignedIn) -> Response:
    """Rename the segment or change its rules (PUT /v1/segments/{id}); its batches keep the
    rules they were started with."""
    form = await form_of(request, "edit")
    viewer.require("segments.write")
    rules = rules_of(form, translator(request))
    if form.errors:
        return await segment_page(request, viewer, segment_id, form=form, status=422)
    body = {"name": form.get("name"), "rules": rules}
    try:
        await viewer.api.put(f"/v1/segments/{segment_id}", body)
    except Refused as refusal:
        form.refused(refusal)
        return await segment_page(request, viewer, segment_id, form=form, status=refusal.status)
    return RedirectResponse(f"{_root(request)}/members/segments/{segment_id}?done=edited", 303)


@router.post("/members/segments/{segment_id}/archive", response_class=HTMLResponse)
async def archive_segment(request: Request, segment_id: int, viewer: SignedIn) -> Response:
    """Archive the segment (POST /v1/segments/{id}/archive): refused while a batch of it runs."""
    form = await form_of(request, "archive")
    viewer.require("segments.write")
    if form.get("confirm") != "yes":
        form.errors["confirm"] = translator(request)("members.archive.confirm_needed")
        return await segment_page(request, viewer, segment_id, form=form, status=422)
    try:
        await viewer.api.post(f"/v1/segments/{segment_id}/archive")
    except Refused as refusal:
        form.refused(refusal)
        return await segment_page(request, viewer, segment_id, form=form, status=refusal.status)
    return RedirectResponse(f"{_root(request)}/members/segments/{segment_id}?done=archived", 303)
