"""After-sales (售后): the queue (every filter GET /v1/after-sales has, sort, pages, CSV/XLSX
export of exactly the filtered rows) and the detail page with lines, money, return tracking, the
timeline (the after-sale's steps in its order's timeline) and the actions: approve / reject with
a reason, retry a refused refund, withdraw — each confirmed, the API's refusal shown in the page
(mirrors api/routes/after_sales.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.client import Forbidden, Json, NotFound, Refused
from console.export import download, listed
from console.i18n import Translator, format_time
from console.lists import page_number, warehouse_names
from console.lookups import sku_names
from console.pages import (
    MenuItem,
    SignedIn,
    Viewer,
    console_state,
    is_fragment_request,
    render,
    translator,
)
from console.security import CSRF_FIELD, check_csrf
from models.domain.business_day import BUSINESS_TZ

router = APIRouter()
MENU = (MenuItem("nav.after_sales", "/after-sales", "aftersales.review"),)
PAGE_SIZE: Final = 50
TYPES: Final = ("refund_only", "return_and_refund", "exchange")
STATUSES: Final = (
    "requested",
    "approved",
    "awaiting_return",
    "returning",
    "received",
    "refunding",
    "refunded",
    "exchanging",
    "exchanged",
    "rejected",
    "withdrawn",
    "closed",
)
SORTS: Final = (
    "last_progress_at",
    "-last_progress_at",
    "requested_at",
    "-requested_at",
    "-refund_fen",
    "refund_fen",
)
DEFAULT_SORT: Final = "last_progress_at"  # the longest idle first: the queue's work order
DONE: Final = ("approved", "rejected", "retried", "withdrawn")


@dataclass(frozen=True)
class AfterSaleFilters:
    """The queue's filters as the page's query string holds them (all text; empty = none)."""

    type: str = ""
    status: str = ""
    order_no: str = ""
    stuck_days: str = ""  # open and no progress for this many days
    overdue: str = ""  # undecided past the SLA
    sort: str = DEFAULT_SORT

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> tuple[AfterSaleFilters, list[str]]:
        given = {f.name: query.get(f.name, "").strip() for f in fields(cls)}
        given["sort"] = given["sort"] or DEFAULT_SORT
        invalid = [name for name, value in given.items() if value and not _valid(name, value)]
        for name in invalid:
            given[name] = "" if name != "sort" else DEFAULT_SORT
        return cls(**given), invalid

    def api_params(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v}

    def query(self, **extra: object) -> str:
        pairs = {k: v for k, v in asdict(self).items() if v and (k, v) != ("sort", DEFAULT_SORT)}
        pairs.update({k: str(v) for k, v in extra.items()})
        return urlencode(pairs)


def _valid(name: str, value: str) -> bool:
    if name == "type":
        return value in TYPES
    if name == "status":
        return value in STATUSES
    if name == "order_no":
        return len(value) <= 64 and value.isalnum()
    if name == "stuck_days":
        return value.isdigit() and 0 < int(value) <= 36_500
    if name == "overdue":
        return value in ("true", "false")
    return name == "sort" and value in SORTS


@router.get("/after-sales", response_class=HTMLResponse)
async def after_sale_list(request: Request, viewer: SignedIn) -> Response:
    viewer.require("aftersales.review")
    filters, invalid = AfterSaleFilters.from_query(request.query_params)
    page = page_number(request.query_params)
    params = {**filters.api_params(), "skip": (page - 1) * PAGE_SIZE, "limit": PAGE_SIZE}
    answer = await viewer.api.get("/v1/after-sales", params)
    count = int(answer["count"])
    context: dict[str, Any] = {
        "rows": answer["data"],
        "count": count,
        "page": page,
        "pages": max(1, -(-count // PAGE_SIZE)),
        "filters": filters,
        "invalid": invalid,
        "now": datetime.now(BUSINESS_TZ),
    }
    if is_fragment_request(request):
        fragment = render(request, "after_sales/_rows.html", viewer=viewer, **context)
        query = filters.query(**({"page": page} if page > 1 else {}))
        root = str(request.scope.get("root_path", ""))
        fragment.headers["HX-Push-Url"] = f"{root}/after-sales" + (f"?{query}" if query else "")
        return fragment
    return render(
        request,
        "after_sales/list.html",
        viewer=viewer,
        types=TYPES,
        statuses=STATUSES,
        sorts=SORTS,
        **context,
    )


def export_header(t: Translator) -> list[str]:
    keys = ("as_no", "order_no", "type", "status", "refund", "requested_at", "sla_due_at")
    return [t(f"as.export.{k}") for k in (*keys, "idle_hours", "waiting_for", "reason")]


def export_row(row: Json, t: Translator) -> list[str]:
    def word(prefix: str, value: str) -> str:
        key = f"{prefix}.{value}"
        return t(key) if t.has(key) else value

    fen = int(row["refund_fen"])
    return [
        row["as_no"],
        row["order_no"],
        word("as.type", row["type"]),
        word("as.status", row["status"]),
        f"{fen // 100}.{fen % 100:02d}",
        format_time(row["requested_at"]),
        format_time(row["sla_due_at"]),
        str(row["idle_hours"]),
        word("as.waiting", row["status"]) if row["waiting_for"] else "",
        row["reason"],
    ]


@router.get("/after-sales/export.{kind}")
async def export(request: Request, kind: str, viewer: SignedIn) -> Response:
    viewer.require("aftersales.review")
    filters, _ = AfterSaleFilters.from_query(request.query_params)
    t = translator(request)
    rows = listed("/v1/after-sales", filters.api_params(), lambda row: export_row(row, t))
    sheet = t("as.export.sheet")
    return download(
        request, kind=kind, name="after-sales", sheet=sheet, header=export_header(t), rows=rows
    )


@dataclass(frozen=True)
class Feedback:
    """What the page says next to one of its forms after a post."""

    form: str = ""  # "decision", "retry" or "withdraw"
    message: str | None = None  # a catalogue key
    refusal: str | None = None  # the API's own words
    reason: str = ""  # what the person typed


async def detail_page(
    request: Request,
    viewer: Viewer,
    as_no: str,
    *,
    feedback: Feedback | None = None,
    done: str | None = None,
    status: int = 200,
) -> Response:
    shown = await viewer.api.get(f"/v1/after-sales/{as_no}")
    timeline: list[Json] = []
    if viewer.can("orders.read"):
        try:
            order = await viewer.api.get(f"/v1/orders/{shown['order_no']}")
        except (NotFound, Forbidden):  # an order outside the person's warehouses
            order = {"timeline": []}
        timeline = [
            e for e in order["timeline"] if (e.get("detail") or {}).get("as_no") == shown["as_no"]
        ]
    warehouses = await warehouse_names(viewer.api) if viewer.can("warehouse.read") else {}
    config = console_state(request).config
    return render(
        request,
        "after_sales/detail.html",
        viewer=viewer,
        status=status,
        a=shown,
        timeline=timeline,
        skus=await sku_names(
            viewer.api, {line["sku_id"] for line in shown["lines"]}, with_code=False
        )
        if viewer.can("catalog.read")
        else {},
        warehouses=warehouses,
        workflow_url=config.workflow_url(f"aftersale-{shown['as_no']}"),
        can_decide=viewer.can("aftersales.decide") and shown["status"] == "requested",
        can_retry=viewer.can("aftersales.decide") and shown["status"] == "refunding",
        can_withdraw=viewer.can("aftersales.request") and shown["status"] == "requested",
        feedback=feedback or Feedback(),
        done=done if done in DONE else None,
    )


@router.get("/after-sales/{as_no}", response_class=HTMLResponse)
async def after_sale_detail(
    request: Request, as_no: str, viewer: SignedIn, done: str | None = None
) -> Response:
    viewer.require("aftersales.read")
    return await detail_page(request, viewer, as_no, done=done)


async def _act(
    request: Request,
    viewer: Viewer,
    as_no: str,
    call: tuple[str, Json],
    feedback: Feedback,
    done: str,
) -> Response:
    path, body = call
    try:
        await viewer.api.post(path, body)
    except Refused as refusal:
        feedback = replace(feedback, refusal=refusal.detail)
        return await detail_page(request, viewer, as_no, feedback=feedback, status=refusal.status)
    root = str(request.scope.get("root_path", ""))
    return RedirectResponse(f"{root}/after-sales/{as_no}?done={done}", status_code=303)


async def _unconfirmed(
    request: Request, viewer: Viewer, as_no: str, feedback: Feedback, message: str
) -> Response:
    feedback = replace(feedback, message=message)
    return await detail_page(request, viewer, as_no, feedback=feedback, status=422)


@router.post("/after-sales/{as_no}/decision", response_class=HTMLResponse)
async def decide(
    request: Request,
    as_no: str,
    viewer: SignedIn,
    decision: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    check_csrf(request, csrf)
    viewer.require("aftersales.decide")
    feedback = Feedback(form="decision", reason=reason)
    if decision not in ("approve", "reject"):
        return await _unconfirmed(request, viewer, as_no, feedback, "as.decision.need_choice")
    if confirm != "yes":
        return await _unconfirmed(request, viewer, as_no, feedback, "as.need_confirm")
    body = {"approve": decision == "approve", "reason": reason.strip()}
    done = "approved" if decision == "approve" else "rejected"
    return await _act(
        request, viewer, as_no, (f"/v1/after-sales/{as_no}/decision", body), feedback, done
    )


@router.post("/after-sales/{as_no}/retry-refund", response_class=HTMLResponse)
async def retry_refund(
    request: Request,
    as_no: str,
    viewer: SignedIn,
    reason: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    check_csrf(request, csrf)
    viewer.require("aftersales.decide")
    feedback = Feedback(form="retry", reason=reason)
    if confirm != "yes":
        return await _unconfirmed(request, viewer, as_no, feedback, "as.need_confirm")
    call = (f"/v1/after-sales/{as_no}/retry-refund", {"reason": reason.strip()})
    return await _act(request, viewer, as_no, call, feedback, "retried")


@router.post("/after-sales/{as_no}/withdraw", response_class=HTMLResponse)
async def withdraw(
    request: Request,
    as_no: str,
    viewer: SignedIn,
    confirm: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    check_csrf(request, csrf)
    viewer.require("aftersales.request")
    feedback = Feedback(form="withdraw")
    if confirm != "yes":
        return await _unconfirmed(request, viewer, as_no, feedback, "as.need_confirm")
    call: tuple[str, Json] = (f"/v1/after-sales/{as_no}/withdraw", {})
    return await _act(request, viewer, as_no, call, feedback, "withdrawn")
