"""Members' levels and points (DESIGN §6.7): the settings page (levels with their thresholds
and benefits, the points rules; managers change them) and a customer's points page (balance,
growth value, level and its history, the ledger with its filter, sort, pages and CSV/XLSX
export of exactly the filtered rows). Mirrors api/routes/loyalty.py; the customer page links
here with /loyalty/customers/{customer_id}/points (the URL the issue names is
/console/customers/{customer_id}/points, served too)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.catalog_forms import Form, fetch_list, form_of, once_key, query_string
from console.client import Json, NotFound, Refused
from console.export import download, listed
from console.i18n import Translator, format_time
from console.pages import MenuItem, SignedIn, Viewer, render, translator

router = APIRouter()
MENU = (MenuItem("nav.loyalty", "/loyalty/settings", "loyalty.read"),)
KINDS: Final = ("earn", "spend", "refund", "expire", "adjust")
SORTS: Final = ("-at", "at")
LEVEL_ROWS: Final = 6  # rows of the levels form (empty ones are left out)
RULE_FIELDS: Final = ("earn_per_yuan", "growth_per_yuan", "fen_per_point", "max_percent")
MAX_CUSTOMER: Final = 2**63


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", ""))


# --- settings -----------------------------------------------------------------------------------


async def settings_page(
    request: Request, viewer: Viewer, *, form: Form | None = None, status: int = 200
) -> Response:
    settings = await viewer.api.get("/v1/loyalty/settings")
    levels = list(settings["levels"])
    return render(
        request,
        "loyalty/settings.html",
        viewer=viewer,
        status=status,
        rules=settings["rules"],
        levels=levels,
        rows=[
            levels[i] if i < len(levels) else None for i in range(max(LEVEL_ROWS, len(levels) + 1))
        ],
        form=form or Form(),
        done=request.query_params.get("done") if status == 200 else None,
        can_write=viewer.can("loyalty.write"),
    )


@router.get("/loyalty/settings", response_class=HTMLResponse)
async def settings(request: Request, viewer: SignedIn) -> Response:
    viewer.require("loyalty.read")
    return await settings_page(request, viewer)


async def _save(
    request: Request, viewer: Viewer, form: Form, path: str, body: Json, done: str,
    fields: Mapping[str, str] | None = None,
) -> Response:  # fmt: skip
    if not form.errors:
        try:
            await viewer.api.send("PUT", path, body)
        except Refused as refusal:
            form.refused(refusal, fields)
        else:
            return RedirectResponse(f"{_root(request)}/loyalty/settings?done={done}", 303)
    return await settings_page(request, viewer, form=form, status=422)


@router.post("/loyalty/settings/rules", response_class=HTMLResponse)
async def save_rules(request: Request, viewer: SignedIn) -> Response:
    form = await form_of(request, "rules")
    viewer.require("loyalty.write")
    t = translator(request)
    body = {name: form.integer(name, t) for name in RULE_FIELDS}
    return await _save(request, viewer, form, "/v1/loyalty/settings/rules", body, "rules")


@router.post("/loyalty/settings/levels", response_class=HTMLResponse)
async def save_levels(request: Request, viewer: SignedIn) -> Response:
    """Every row with a code is a level (kept, changed or new); a row emptied removes it."""
    form = await form_of(request, "levels")
    viewer.require("loyalty.write")
    t = translator(request)
    levels: list[Json] = []
    fields: dict[str, str] = {}
    for i in range(int(form.get("rows", "0")) if form.get("rows", "").isdigit() else 0):
        code = form.get(f"code{i}").strip()
        if not code:
            continue
        for api_name, name in (
            ("code", "code"), ("name", "name"), ("growth_threshold", "threshold"),
            ("discount_percent", "discount"),
        ):  # fmt: skip
            fields[f"levels.{len(levels)}.{api_name}"] = f"{name}{i}"
        levels.append(
            {
                "code": code,
                "name": form.get(f"name{i}").strip() or code,
                "growth_threshold": form.integer(f"threshold{i}", t),
                "discount_percent": form.integer(f"discount{i}", t, optional=True) or 0,
                "free_shipping": form.get(f"free_shipping{i}") == "true",
            }
        )
    body = {"levels": levels}
    return await _save(request, viewer, form, "/v1/loyalty/settings/levels", body, "levels", fields)


# --- a customer's points ------------------------------------------------------------------------


def _filters(query: Mapping[str, str]) -> dict[str, str]:
    kind, sort = query.get("kind", ""), query.get("sort", "")
    return {"kind": kind if kind in KINDS else "", "sort": sort if sort in SORTS else ""}


def _api_params(filters: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in filters.items() if v}


def _may_read_customer(viewer: Viewer) -> None:
    """A customer's points are part of the customer: read by those who may read customers (as
    the customer's page is), not by every staff role that holds loyalty.read."""
    viewer.require("loyalty.read")
    viewer.require("customers.read")


def _customer(customer_id: int) -> None:
    if not 0 < customer_id < MAX_CUSTOMER:
        raise NotFound


async def points_page(
    request: Request, viewer: Viewer, customer_id: int, *, form: Form | None = None,
    status: int = 200,
) -> Response:  # fmt: skip
    _customer(customer_id)
    query = request.query_params
    filters = _filters(query)
    path = f"/v1/customers/{customer_id}/points"
    account = await viewer.api.get(path)
    listing = await fetch_list(viewer.api, f"{path}/ledger", _api_params(filters), query)
    levels = {lv["id"]: lv for lv in (await viewer.api.get("/v1/loyalty/settings"))["levels"]}
    return render(
        request,
        "loyalty/points.html",
        viewer=viewer,
        status=status,
        customer_id=customer_id,
        account=account,
        levels=levels,
        listing=listing,
        filters=filters,
        kinds=KINDS,
        sorts=SORTS,
        query=lambda **extra: query_string(filters, **extra),
        form=form or Form(),
        adjust_key=once_key(form, "adjust", "pa"),
        done=query.get("done") if status == 200 else None,
        can_adjust=viewer.can("loyalty.adjust"),
    )


@router.get("/loyalty/customers/{customer_id:int}/points", response_class=HTMLResponse)
@router.get("/customers/{customer_id:int}/points", response_class=HTMLResponse)
async def customer_points(request: Request, customer_id: int, viewer: SignedIn) -> Response:
    _may_read_customer(viewer)
    return await points_page(request, viewer, customer_id)


@router.post("/customers/{customer_id:int}/points/adjustments", response_class=HTMLResponse)
async def adjust(request: Request, customer_id: int, viewer: SignedIn) -> Response:
    """Points added or taken off by staff with a reason; the form's key books it once."""
    form = await form_of(request, "adjust")
    _may_read_customer(viewer)
    viewer.require("loyalty.adjust")
    _customer(customer_id)
    t = translator(request)
    text = form.get("points").strip()
    sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text.lstrip("+"))
    if not digits.isdigit() or int(digits) == 0 or int(digits) >= 10**9:
        form.errors["points"] = t("loyalty.adjust.points_invalid", text=text)
    body = {
        "key": form.get("key").strip(),
        "points": sign * int(digits) if "points" not in form.errors else 0,
        "reason": form.get("reason").strip(),
    }
    if not form.errors:
        try:
            await viewer.api.post(f"/v1/customers/{customer_id}/points/adjustments", body)
        except Refused as refusal:
            form.refused(refusal)
        else:
            url = f"{_root(request)}/customers/{customer_id}/points?done=adjusted"
            return RedirectResponse(url, 303)
    return await points_page(request, viewer, customer_id, form=form, status=422)


def export_header(t: Translator) -> list[str]:
    keys = ("at", "kind", "points", "growth", "order_no", "key")
    return [t(f"loyalty.ledger.{k}") for k in keys]


def export_row(entry: Json, t: Translator) -> list[str]:
    return [
        format_time(entry["at"]),
        t(f"loyalty.kind.{entry['kind']}"),
        str(entry["points"]),
        str(entry["growth"]),
        entry["order_no"] or "",
        entry["key"],
    ]


@router.get("/customers/{customer_id:int}/points/export.{kind}")
async def export(request: Request, customer_id: int, kind: str, viewer: SignedIn) -> Response:
    _may_read_customer(viewer)
    _customer(customer_id)
    t = translator(request)
    params = _api_params(_filters(request.query_params))
    path = f"/v1/customers/{customer_id}/points/ledger"
    rows = listed(path, params, lambda entry: export_row(entry, t))
    return download(
        request,
        kind=kind,
        name=f"points-{customer_id}",
        sheet=t("loyalty.ledger.sheet"),
        header=export_header(t),
        rows=rows,
    )
