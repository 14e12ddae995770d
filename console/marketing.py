"""Marketing and delivery set-up: freight templates and the platform policy with a quote tester
("this cart to this region costs ¥…", POST /v1/freight-quote), promotions and coupons (list,
create, activate/deactivate), carriers and their daily cutoffs per warehouse (mirrors
api/routes/freight.py, promotions.py, carriers.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.catalog_forms import Form, fetch_list, form_of, query_string
from console.client import ApiClient, Json, NotFound, Refused
from console.i18n import Translator
from console.money import AmountError, format_fen, parse_fen
from console.pages import MenuItem, SignedIn, Viewer, render, translator

router = APIRouter()
MENU = (
    MenuItem("nav.promotions", "/marketing/promotions", "promotions.read"),
    MenuItem("nav.freight", "/marketing/freight", "freight.read"),
    MenuItem("nav.carriers", "/marketing/carriers", "carrier.read"),
)
PROMOTION_KINDS: Final = ("item_discount", "spend_tier", "gift")
QUOTE_LINES: Final = 3  # rows of the quote tester's cart
_REGION = re.compile(r"^\d{6}$")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", ""))


def _flag(query: Mapping[str, str], name: str) -> str:
    value = query.get(name, "")
    return value if value in ("true", "false") else ""


# --- freight --------------------------------------------------------------------------------


async def _sku_by_code_or_id(api: ApiClient, text: str) -> Json | None:
    """A SKU the tester names by its code, barcode or id."""
    text = text.strip()
    found = (await api.get("/v1/skus", {"barcode": text[:64], "limit": 1}))["data"]
    if found:
        return dict(found[0])
    if text.isdigit() and int(text) < 2**31:
        try:
            return await api.get(f"/v1/skus/{text}")
        except NotFound:
            return None
    for row in (await api.get("/v1/skus", {"q": text[:100], "limit": 50}))["data"]:
        if row["code"] == text:
            return dict(row)
    return None


@router.get("/marketing/freight", response_class=HTMLResponse)
async def freight(request: Request, viewer: SignedIn) -> Response:
    """The templates with their rules, the platform policy, and the quote tester (a GET form:
    it changes nothing, and its answer is a link one can share)."""
    viewer.require("freight.read")
    t = translator(request)
    query = request.query_params
    form = Form(values={k: query.get(k, "") for k in ("region", *_line_fields())}, name="quote")
    quote: Json | None = None
    if query.get("region") is not None:
        quote = await _quote(viewer, form, t)
    templates = (await viewer.api.get("/v1/freight-templates", {"limit": 500}))["data"]
    return render(
        request,
        "marketing/freight.html",
        viewer=viewer,
        status=422 if form.errors or form.refusal else 200,
        templates=templates,
        policy=await viewer.api.get("/v1/freight-policy"),
        form=form,
        quote=quote,
        lines=range(QUOTE_LINES),
        can_write=viewer.can("freight.write"),
        rules_of=rules_text,
        done=query.get("done"),
    )


def _line_fields() -> list[str]:
    return [f"{kind}{i}" for i in range(QUOTE_LINES) for kind in ("sku", "qty")]


async def _quote(viewer: Viewer, form: Form, t: Translator) -> Json | None:
    region = form.get("region").strip()
    if not _REGION.match(region):
        form.errors["region"] = t("marketing.quote.region_invalid")
    lines: list[Json] = []
    for i in range(QUOTE_LINES):
        sku_text, qty_text = form.get(f"sku{i}").strip(), form.get(f"qty{i}").strip() or "1"
        if not sku_text:
            continue
        sku = await _sku_by_code_or_id(viewer.api, sku_text)
        if sku is None:
            form.errors[f"sku{i}"] = t("marketing.quote.unknown_sku", text=sku_text)
            continue
        quantity = form.integer(f"qty{i}", t) if qty_text != "1" else 1
        if quantity is not None:
            lines.append({"sku_id": sku["id"], "quantity": quantity})
    if not lines and not form.errors:
        form.errors["sku0"] = t("marketing.quote.need_line")
    if form.errors:
        return None
    try:
        return await viewer.api.post("/v1/freight-quote", {"region_code": region, "lines": lines})
    except Refused as refusal:
        form.refused(refusal, {"region_code": "region", "lines": "sku0"})
        return None


def rules_text(template: Json) -> str:
    """A template's rules as the form edits them, one a line:
    `regions; first units; first price; additional units; additional price` (no regions: the
    default rule)."""
    lines = []
    for rule in template["rules"]:
        regions = " ".join(rule["regions"]) if not rule["is_default"] else "*"
        first, additional = rule["first_price_fen"], rule["additional_price_fen"]
        lines.append(
            f"{regions}; {rule['first_units']}; {format_fen(first)[1:]}; "
            f"{rule['additional_units']}; {format_fen(additional)[1:]}"
        )
    return "\n".join(lines)


def parse_rules(form: Form, t: Translator) -> list[Json] | None:
    """The rules typed in the form (amounts exact to the fen); None and an error next to the
    field naming the first bad line."""
    rules: list[Json] = []
    for number, line in enumerate(form.get("rules").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.replace("；", ";").split(";")]
        try:
            if len(parts) != 5 or not parts[1].isdigit() or not parts[3].isdigit():
                raise AmountError(line)
            regions = [] if parts[0] in ("", "*") else parts[0].replace(",", " ").split()
            rules.append(
                {
                    "regions": regions,
                    "is_default": not regions,
                    "first_units": int(parts[1]),
                    "first_price_fen": parse_fen(parts[2]),
                    "additional_units": int(parts[3]),
                    "additional_price_fen": parse_fen(parts[4]),
                }
            )
        except AmountError:
            form.errors["rules"] = t("marketing.freight.rule_invalid", line=number, text=line)
            return None
    return rules


def _template_body(form: Form, t: Translator) -> Json:
    return {
        "name": form.get("name").strip(),
        "charge_by": form.get("charge_by"),
        "free_over_fen": form.amount("free_over", t, optional=True),
        "rules": parse_rules(form, t),
        "unserviceable_regions": form.get("unserviceable").replace(",", " ").split(),
    }


_TEMPLATE_FIELDS: Final = {"free_over_fen": "free_over", "unserviceable_regions": "unserviceable"}


async def _freight_page(request: Request, viewer: Viewer, form: Form, status: int) -> Response:
    templates = (await viewer.api.get("/v1/freight-templates", {"limit": 500}))["data"]
    return render(
        request,
        "marketing/freight.html",
        viewer=viewer,
        status=status,
        templates=templates,
        policy=await viewer.api.get("/v1/freight-policy"),
        form=form,
        quote=None,
        lines=range(QUOTE_LINES),
        can_write=viewer.can("freight.write"),
        rules_of=rules_text,
        done=request.query_params.get("done") if status == 200 else None,
    )


async def _freight_action(
    request: Request, viewer: Viewer, form: Form, call: tuple[str, str, Json], done: str
) -> Response:
    method, path, body = call
    if not form.errors:
        try:
            await viewer.api.send(method, path, body)
        except Refused as refusal:
            form.refused(refusal, _TEMPLATE_FIELDS)
        else:
            return RedirectResponse(f"{_root(request)}/marketing/freight?done={done}", 303)
    return await _freight_page(request, viewer, form, 422)


@router.post("/marketing/freight/templates", response_class=HTMLResponse)
async def create_template(request: Request, viewer: SignedIn) -> Response:
    form = await form_of(request, "template")
    viewer.require("freight.write")
    t = translator(request)
    body = {"code": form.get("code").strip(), **_template_body(form, t)}
    return await _freight_action(
        request, viewer, form, ("POST", "/v1/freight-templates", body), "template"
    )


@router.post("/marketing/freight/templates/{template_id:int}", response_class=HTMLResponse)
async def replace_template(request: Request, template_id: int, viewer: SignedIn) -> Response:
    form = await form_of(request, f"template:{template_id}")
    viewer.require("freight.write")
    call = (
        "PUT",
        f"/v1/freight-templates/{template_id}",
        _template_body(form, translator(request)),
    )
    return await _freight_action(request, viewer, form, call, "template")


@router.post("/marketing/freight/policy", response_class=HTMLResponse)
async def set_policy(request: Request, viewer: SignedIn) -> Response:
    form = await form_of(request, "policy")
    viewer.require("freight.write")
    t = translator(request)
    body = {
        "mode": form.get("mode"),
        "fixed_fee_fen": form.amount("fixed_fee", t, optional=True) or 0,
        "free_over_fen": form.amount("policy_free_over", t, optional=True),
        "combine": form.get("combine"),
    }
    fields = {"fixed_fee_fen": "fixed_fee", "free_over_fen": "policy_free_over"}
    if not form.errors:
        try:
            await viewer.api.send("PUT", "/v1/freight-policy", body)
        except Refused as refusal:
            form.refused(refusal, fields)
        else:
            return RedirectResponse(f"{_root(request)}/marketing/freight?done=policy", 303)
    return await _freight_page(request, viewer, form, 422)


# --- promotions -----------------------------------------------------------------------------


@router.get("/marketing/promotions", response_class=HTMLResponse)
async def promotions(request: Request, viewer: SignedIn) -> Response:
    viewer.require("promotions.read")
    return await promotions_page(request, viewer)


async def promotions_page(
    request: Request, viewer: Viewer, *, form: Form | None = None, status: int = 200
) -> Response:
    query = request.query_params
    kind = query.get("kind", "")
    filters = {"kind": kind if kind in PROMOTION_KINDS else "", "active": _flag(query, "active")}
    params = {k: v for k, v in filters.items() if v}
    listing = await fetch_list(viewer.api, "/v1/promotions", params, query)
    coupon_filters = {"coupon_active": _flag(query, "coupon_active")}
    coupon_active = coupon_filters["coupon_active"]
    coupon_params = {"active": coupon_active} if coupon_active else {}
    coupon_page = {"page": query.get("coupon_page", "1")}
    coupons = await fetch_list(viewer.api, "/v1/coupons", coupon_params, coupon_page)
    kept = {**filters, **coupon_filters}

    def coupon_query(page: int = 1) -> str:
        """Links to a page of coupons (the promotions' page stays where it is)."""
        return query_string(kept, page=listing.page, coupon_page=page)

    return render(
        request,
        "marketing/promotions.html",
        viewer=viewer,
        status=status,
        listing=listing,
        filters=filters,
        coupon_filters=coupon_filters,
        query=lambda **extra: query_string(kept, **extra),
        coupon_query=coupon_query,
        kinds=PROMOTION_KINDS,
        coupons=coupons,
        form=form or Form(values={"kind": "fixed"}),
        done=query.get("done") if status == 200 else None,
        can_write=viewer.can("promotions.write"),
    )


async def _marketing_action(
    request: Request,
    viewer: Viewer,
    form: Form,
    call: tuple[str, str, Json],
    done: str,
    fields: Mapping[str, str] | None = None,
) -> Response:
    method, path, body = call
    if not form.errors:
        try:
            await viewer.api.send(method, path, body)
        except Refused as refusal:
            form.refused(refusal, fields)
        else:
            return RedirectResponse(f"{_root(request)}/marketing/promotions?done={done}", 303)
    return await promotions_page(request, viewer, form=form, status=422)


@router.post("/marketing/promotions", response_class=HTMLResponse)
async def create_spend_tier(request: Request, viewer: SignedIn) -> Response:
    """A 满减 promotion on every item: spend the threshold, get the amount off."""
    form = await form_of(request, "promotion")
    viewer.require("promotions.write")
    t = translator(request)
    threshold, off = form.amount("threshold", t), form.amount("off", t)
    body = {
        "kind": "spend_tier",
        "name": form.get("name").strip(),
        "rule": {
            "scope": {"all_items": True},
            "tiers": [{"threshold_fen": threshold, "off_fen": off}],
            "repeat": form.get("repeat") == "true",
        },
    }
    fields = {"rule.tiers.0.threshold_fen": "threshold", "rule.tiers.0.off_fen": "off"}
    call = ("POST", "/v1/promotions", body)
    return await _marketing_action(request, viewer, form, call, "promotion", fields)


@router.post("/marketing/promotions/{promotion_id:int}/active", response_class=HTMLResponse)
async def promotion_active(request: Request, promotion_id: int, viewer: SignedIn) -> Response:
    form = await form_of(request, f"promotion:{promotion_id}")
    viewer.require("promotions.write")
    active = form.get("active") == "true"
    call = ("PATCH", f"/v1/promotions/{promotion_id}", {"active": active})
    done = "activated" if active else "deactivated"
    return await _marketing_action(request, viewer, form, call, done)


@router.post("/marketing/coupons", response_class=HTMLResponse)
async def create_coupon(request: Request, viewer: SignedIn) -> Response:
    form = await form_of(request, "coupon")
    viewer.require("promotions.write")
    t = translator(request)
    kind = form.get("kind") if form.get("kind") in ("fixed", "percent") else "fixed"
    rule: Json = {"kind": kind, "min_spend_fen": form.amount("min_spend", t, optional=True) or 0}
    if kind == "fixed":
        rule["amount_off_fen"] = form.amount("amount_off", t)
    else:
        rule["percent_off"] = form.integer("percent_off", t)
    limit = form.integer("per_customer_limit", t, optional=True)
    if limit is not None:
        rule["per_customer_limit"] = limit
    body = {"code": form.get("code").strip(), "rule": rule}
    fields = {
        "rule.amount_off_fen": "amount_off",
        "rule.percent_off": "percent_off",
        "rule.min_spend_fen": "min_spend",
        "rule.per_customer_limit": "per_customer_limit",
    }
    call = ("POST", "/v1/coupons", body)
    return await _marketing_action(request, viewer, form, call, "coupon", fields)


@router.post("/marketing/coupons/{code}/active", response_class=HTMLResponse)
async def coupon_active(request: Request, code: str, viewer: SignedIn) -> Response:
    form = await form_of(request, f"coupon:{code}")
    viewer.require("promotions.write")
    active = form.get("active") == "true"
    call = ("PATCH", f"/v1/coupons/{code}", {"active": active})
    done = "activated" if active else "deactivated"
    return await _marketing_action(request, viewer, form, call, done)


# --- carriers -------------------------------------------------------------------------------


def cutoffs_text(carrier: Json, warehouse_id: int) -> str:
    """A carrier's cutoffs at one warehouse as the form shows them: `16:00, 18:30`."""
    times = [c["cutoff_local"][:5] for c in carrier["cutoffs"] if c["warehouse_id"] == warehouse_id]
    return ", ".join(times)


async def carriers_page(
    request: Request, viewer: Viewer, *, form: Form | None = None, status: int = 200
) -> Response:
    carriers = (await viewer.api.get("/v1/carriers", {"limit": 500}))["data"]
    warehouses = (await viewer.api.get("/v1/warehouses", {"limit": 500}))["data"]
    return render(
        request,
        "marketing/carriers.html",
        viewer=viewer,
        status=status,
        carriers=carriers,
        warehouses=warehouses,
        names={w["id"]: f"{w['name']} ({w['code']})" for w in warehouses},
        cutoffs_of=cutoffs_text,
        form=form or Form(),
        done=request.query_params.get("done") if status == 200 else None,
        can_write=viewer.can("carrier.write"),
    )


@router.get("/marketing/carriers", response_class=HTMLResponse)
async def carriers(request: Request, viewer: SignedIn) -> Response:
    viewer.require("carrier.read")
    return await carriers_page(request, viewer)


@router.post("/marketing/carriers/{carrier_id:int}/cutoffs", response_class=HTMLResponse)
async def set_cutoffs(request: Request, carrier_id: int, viewer: SignedIn) -> Response:
    """The carrier's cutoffs, one field per warehouse: times as HH:MM, comma separated."""
    form = await form_of(request, f"carrier:{carrier_id}")
    viewer.require("carrier.write")
    t = translator(request)
    cutoffs: list[Json] = []
    for name, text in form.values.items():
        if not name.startswith("cutoff_") or not name[7:].isdigit():
            continue
        for part in (p.strip() for p in text.replace("，", ",").split(",")):
            if not part:
                continue
            if not _TIME.match(part):
                form.errors[name] = t("marketing.carrier.time_invalid", text=part)
                continue
            cutoffs.append({"warehouse_id": int(name[7:]), "cutoff_local": f"{part}:00"})
    if not form.errors:
        try:
            await viewer.api.send("PATCH", f"/v1/carriers/{carrier_id}", {"cutoffs": cutoffs})
        except Refused as refusal:
            form.refused(refusal)
        else:
            return RedirectResponse(f"{_root(request)}/marketing/carriers?done=cutoffs", 303)
    return await carriers_page(request, viewer, form=form, status=422)
