"""Reorder rules, low stock and replenishing now (mirrors api/routes/replenishment.py)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.client import ApiClient, Json, NotFound, Refused
from console.export import download
from console.lists import an_id, warehouse_names
from console.lookups import sku_names
from console.pages import (
    SignedIn,
    Viewer,
    render,
    translator,
)
from console.purchase_lists import (
    Feedback,
    form_fields,
    refusal_fields,
)
from console.security import CSRF_FIELD, check_csrf

router = APIRouter()


# --- reorder rules, low stock, replenish now -----------------------------------------------------


async def replenishment_page(
    request: Request,
    viewer: Viewer,
    *,
    feedback: Feedback | None = None,
    errors: dict[str, str] | None = None,
    typed: Mapping[str, str] | None = None,
    drafted: list[str] | None = None,
    status: int = 200,
) -> Response:
    warehouse = request.query_params.get("warehouse_id", "")
    params = {"warehouse_id": warehouse} if an_id(warehouse) else {}
    rules = await viewer.api.get("/v1/reorder-rules", params)
    low = await viewer.api.get("/v1/stock/low", params)
    assert isinstance(rules, list) and isinstance(low, list)
    skus = await sku_names(viewer.api, {r["sku_id"] for r in [*rules, *low]})
    return render(
        request,
        "purchasing/replenishment.html",
        viewer=viewer,
        status=status,
        rules=rules,
        low=low,
        skus=skus,
        warehouses=await warehouse_names(viewer.api),
        warehouse=warehouse if an_id(warehouse) else "",
        can_write=viewer.can("purchase.write"),
        feedback=feedback or Feedback(),
        errors=errors or {},
        typed=typed or {},
        drafted=drafted,
    )


@router.get("/replenishment", response_class=HTMLResponse)
async def replenishment(request: Request, viewer: SignedIn) -> Response:
    viewer.require("purchase.read")
    saved = request.query_params.get("done") == "rule"
    raw = request.query_params.get("drafted", "")
    drafted = [n for n in raw.split(",") if re.fullmatch(r"PO\d{8,20}", n)] if raw else None
    feedback = Feedback(message="replenish.rule_saved" if saved else None)
    return await replenishment_page(request, viewer, feedback=feedback, drafted=drafted)


@router.get("/replenishment/{which}.{kind}")
async def replenishment_export(
    request: Request, which: str, kind: str, viewer: SignedIn
) -> Response:
    """The low-stock list or the reorder rules (of the warehouse filtered on), as CSV or XLSX."""
    viewer.require("purchase.read")
    if which not in ("low", "rules") or kind not in ("csv", "xlsx"):
        raise NotFound
    warehouse = request.query_params.get("warehouse_id", "")
    params = {"warehouse_id": warehouse} if an_id(warehouse) else {}
    path = "/v1/stock/low" if which == "low" else "/v1/reorder-rules"
    t = translator(request)
    figures = ["sellable", "in_transit"] if which == "low" else []
    figures += ["reorder_point", "reorder_level"]
    header = [t("po.line.sku"), t("replenish.sku_name"), t("po.line.warehouse")]
    header += [t(f"replenish.{k.removeprefix('reorder_')}") for k in figures]

    async def rows(api: ApiClient) -> AsyncIterator[list[str]]:
        found: Any = await api.get(path, params)
        names = await sku_names(api, {r["sku_id"] for r in found})
        warehouses = await warehouse_names(api)
        for r in found:
            yield [
                str(r["sku_id"]),
                names.get(r["sku_id"], ""),
                warehouses.get(r["warehouse_id"], str(r["warehouse_id"])),
                *(str(r[k]) for k in figures),
            ]

    sheet = t("replenish.low" if which == "low" else "replenish.rules")
    return download(
        request, kind=kind, name=f"replenishment-{which}", sheet=sheet, header=header, rows=rows
    )


@router.post("/replenishment/rules", response_class=HTMLResponse)
async def set_rule(request: Request, viewer: SignedIn) -> Response:
    form = await form_fields(request)
    check_csrf(request, form.get(CSRF_FIELD))
    viewer.require("purchase.write")
    errors: dict[str, str] = {}
    body: Json = {}
    for name in ("sku_id", "warehouse_id"):
        value = form.get(name, "").strip()
        if an_id(value):
            body[name] = int(value)
        else:
            errors[name] = f"replenish.need_{name}"
    for name in ("reorder_point", "reorder_level"):
        value = form.get(name, "").strip()
        if value.isdigit() and int(value) <= 10**9:
            body[name] = int(value)
        else:
            errors[name] = "replenish.bad_count"
    if not errors:
        try:
            await viewer.api.put("/v1/reorder-rules", body)
        except Refused as refusal:
            errors = refusal_fields(refusal)
    if errors:
        general = errors.pop("", None)
        return await replenishment_page(
            request,
            viewer,
            feedback=Feedback(form="rule", refusal=general),
            errors=errors,
            typed=form,
            status=422,
        )
    root = str(request.scope.get("root_path", ""))
    return RedirectResponse(f"{root}/replenishment?done=rule", status_code=303)


@router.post("/replenishment/run", response_class=HTMLResponse)
async def replenish_now(request: Request, viewer: SignedIn) -> Response:
    form = await form_fields(request)
    check_csrf(request, form.get(CSRF_FIELD))
    viewer.require("purchase.write")
    warehouse = form.get("warehouse_id", "").strip()
    if not an_id(warehouse):
        feedback = Feedback(form="run", message="replenish.need_warehouse_id")
        return await replenishment_page(request, viewer, feedback=feedback, status=422)
    try:
        answer = await viewer.api.post(f"/v1/warehouses/{warehouse}/replenish")
    except Refused as refusal:
        feedback = Feedback(form="run", refusal=refusal.detail)
        return await replenishment_page(request, viewer, feedback=feedback, status=refusal.status)
    root = str(request.scope.get("root_path", ""))
    query = urlencode({"warehouse_id": warehouse, "drafted": ",".join(answer["drafted"]) or "-"})
    return RedirectResponse(f"{root}/replenishment?{query}", status_code=303)
