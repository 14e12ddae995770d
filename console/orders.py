"""Orders: the list (every filter GET /v1/orders has, sort, pages, CSV/XLSX export of exactly
the filtered rows) and the detail page with the cancel action (mirrors api/routes/orders.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Final, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.client import Json, Refused
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
from models.contracts.order import OrderStatus
from models.domain.business_day import BUSINESS_TZ

router = APIRouter()
MENU = (MenuItem("nav.orders", "/orders", "orders.read"),)
PAGE_SIZE: Final = 50
STATUSES: Final = get_args(OrderStatus)  # the filter offers every status an order can have
SORTS: Final = ("-placed_at", "placed_at", "-payable_fen", "payable_fen")
FINAL: Final = frozenset({"rejected", "completed", "closed", "cancelling", "cancelled"})
_ID_FILTERS: Final = ("customer_id", "sku_id", "warehouse_id")
_FLAG_FILTERS: Final = ("escalated", "refund_refused")


@dataclass(frozen=True)
class OrderFilters:
    """The list's filters as the page's query string holds them (all text; empty = no filter)."""

    status: str = ""
    customer_id: str = ""
    sku_id: str = ""
    warehouse_id: str = ""
    escalated: str = ""
    refund_refused: str = ""
    placed_from: str = ""  # a day in Asia/Shanghai, YYYY-MM-DD
    placed_until: str = ""  # inclusive
    sort: str = "-placed_at"

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> tuple[OrderFilters, list[str]]:
        """The filters, and the names of those that were invalid (and so dropped)."""
        given = {f.name: query.get(f.name, "").strip() for f in fields(cls)}
        given["sort"] = given["sort"] or "-placed_at"
        invalid = [name for name, value in given.items() if value and not _valid(name, value)]
        for name in invalid:
            given[name] = "" if name != "sort" else "-placed_at"
        return cls(**given), invalid

    def api_params(self) -> dict[str, str]:
        params = {
            k: v for k, v in asdict(self).items() if v and k not in ("placed_from", "placed_until")
        }
        if self.placed_from:
            params["placed_from"] = _day_start(date.fromisoformat(self.placed_from))
        if self.placed_until:
            next_day = date.fromisoformat(self.placed_until) + timedelta(days=1)
            params["placed_until"] = _day_start(next_day)
        return params

    def query(self, **extra: object) -> str:
        """The query string of these filters (and extras such as the page), for links."""
        pairs = {k: v for k, v in asdict(self).items() if v and (k, v) != ("sort", "-placed_at")}
        pairs.update({k: str(v) for k, v in extra.items()})
        return urlencode(pairs)


def _valid(name: str, value: str) -> bool:
    if name in _ID_FILTERS:
        ceiling = 2**63 if name == "customer_id" else 2**31  # customers are the shop's (bigint)
        return value.isdigit() and 0 < int(value) < ceiling
    if name in _FLAG_FILTERS:
        return value in ("true", "false")
    if name in ("placed_from", "placed_until"):
        try:
            date.fromisoformat(value)
        except ValueError:
            return False
        return True
    if name == "status":
        return value in STATUSES
    return name == "sort" and value in SORTS


def _day_start(day: date) -> str:
    return datetime.combine(day, time(0), tzinfo=BUSINESS_TZ).isoformat()


@router.get("/orders", response_class=HTMLResponse)
async def order_list(request: Request, viewer: SignedIn) -> Response:
    viewer.require("orders.read")
    filters, invalid = OrderFilters.from_query(request.query_params)
    page = page_number(request.query_params)
    params = {**filters.api_params(), "skip": (page - 1) * PAGE_SIZE, "limit": PAGE_SIZE}
    answer = await viewer.api.get("/v1/orders", params)
    count, capped = int(answer["count"]), bool(answer.get("count_capped"))
    if capped:  # the API stopped counting: there is a next page while this one is full
        pages = page + (1 if len(answer["data"]) == PAGE_SIZE else 0)
    else:
        pages = max(1, -(-count // PAGE_SIZE))
    context: dict[str, Any] = {
        "orders": answer["data"],
        "count": count,
        "capped": capped,
        "page": page,
        "pages": pages,
        "filters": filters,
        "invalid": invalid,
    }
    if is_fragment_request(request):
        fragment = render(request, "orders/_rows.html", viewer=viewer, **context)
        # The address bar shows the canonical, shareable URL of what is on screen.
        query = filters.query(**({"page": page} if page > 1 else {}))
        root = str(request.scope.get("root_path", ""))
        fragment.headers["HX-Push-Url"] = f"{root}/orders" + (f"?{query}" if query else "")
        return fragment
    warehouses = await warehouse_names(viewer.api)
    return render(
        request,
        "orders/list.html",
        viewer=viewer,
        statuses=STATUSES,
        sorts=SORTS,
        warehouses=warehouses,
        **context,
    )


def export_header(t: Translator) -> list[str]:
    keys = ("order_no", "status", "customer_id", "payable", "paid", "refunded")
    flags = ("escalated", "under_review", "placed_at")
    return [t(f"export.{k}") for k in (*keys, *flags)]


def export_row(order: Json, t: Translator) -> list[str]:
    def yuan(fen: int) -> str:
        return f"{fen // 100}.{fen % 100:02d}"

    def yes_no(flag: bool) -> str:
        return t("export.yes") if flag else t("export.no")

    status_key = f"status.{order['status']}"
    return [
        order["order_no"],
        t(status_key) if t.has(status_key) else order["status"],
        str(order["customer_id"]),
        yuan(order["payable_fen"]),
        yuan(order["paid_fen"]),
        yuan(order["refunded_fen"]),
        yes_no(order["escalated"]),
        yes_no(order["under_review"]),
        format_time(order["placed_at"]),
    ]


@router.get("/orders/export.{kind}")
async def export(request: Request, kind: str, viewer: SignedIn) -> Response:
    viewer.require("orders.read")
    filters, _ = OrderFilters.from_query(request.query_params)
    t = translator(request)
    rows = listed("/v1/orders", filters.api_params(), lambda order: export_row(order, t))
    return download(
        request,
        kind=kind,
        name="orders",
        sheet=t("export.sheet"),
        header=export_header(t),
        rows=rows,
    )


@dataclass(frozen=True)
class Feedback:
    """What the detail page says next to one of its forms after a post."""

    form: str = ""  # "cancel", "review" or "package:<package_no>"
    message: str | None = None  # a catalogue key
    refusal: str | None = None  # the API's own words
    reason: str | None = None  # what the person typed (None: the catalogue's default)


async def detail_page(
    request: Request,
    viewer: Viewer,
    order_no: str,
    *,
    feedback: Feedback | None = None,
    done: str | None = None,
    status: int = 200,
    contact: Json | None = None,
) -> Response:
    """The order page; `contact` is the full contact when the person has just revealed it."""
    order = await viewer.api.get(f"/v1/orders/{order_no}")
    config = console_state(request).config
    return render(
        request,
        "orders/detail.html",
        viewer=viewer,
        status=status,
        order=order,
        warehouses=await warehouse_names(viewer.api),
        skus=await sku_names(
            viewer.api, {line["sku_id"] for line in order["lines"]}, with_code=False
        ),
        workflow_url=config.workflow_url(f"order-{order['order_no']}"),
        can_cancel=viewer.can("orders.cancel") and order["status"] not in FINAL,
        can_review=viewer.can("orders.review") and order["under_review"],
        can_decide=viewer.can("packages.decide"),
        contact=contact or order["contact"],
        can_reveal=viewer.can("pii.read") and contact is None,
        feedback=feedback or Feedback(),
        done=done if done in DONE else None,
    )


DONE: Final = ("cancelled", "reviewed", "decided")


@router.get("/orders/{order_no}", response_class=HTMLResponse)
async def order_detail(
    request: Request, order_no: str, viewer: SignedIn, done: str | None = None
) -> Response:
    viewer.require("orders.read")
    return await detail_page(request, viewer, order_no, done=done)


async def order_action(
    request: Request,
    viewer: Viewer,
    order_no: str,
    call: tuple[str, Json],
    feedback: Feedback,
    done: str,
) -> Response:
    """POST the API call (path, body) as the person; back to the order saying `done`, or the
    API's refusal next to the form."""
    path, body = call
    try:
        await viewer.api.post(path, body)
    except Refused as refusal:
        feedback = replace(feedback, refusal=refusal.detail)
        return await detail_page(
            request, viewer, order_no, feedback=feedback, status=refusal.status
        )
    root = str(request.scope.get("root_path", ""))
    return RedirectResponse(f"{root}/orders/{order_no}?done={done}", status_code=303)


@router.post("/orders/{order_no}/cancel", response_class=HTMLResponse)
async def cancel_order(
    request: Request,
    order_no: str,
    viewer: SignedIn,
    reason: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    check_csrf(request, csrf)
    viewer.require("orders.cancel")
    feedback = Feedback(form="cancel", reason=reason)
    if confirm != "yes":
        feedback = replace(feedback, message="order.cancel.need_confirm")
        return await detail_page(request, viewer, order_no, feedback=feedback, status=422)
    call = (f"/v1/orders/{order_no}/cancel", {"reason": reason})
    return await order_action(request, viewer, order_no, call, feedback, "cancelled")


@router.post("/orders/{order_no}/risk-review", response_class=HTMLResponse)
async def review_order(
    request: Request,
    order_no: str,
    viewer: SignedIn,
    decision: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    check_csrf(request, csrf)
    viewer.require("orders.review")
    feedback = Feedback(form="review", reason=reason)
    if decision not in ("approve", "reject"):
        feedback = replace(feedback, message="order.review.need_decision")
        return await detail_page(request, viewer, order_no, feedback=feedback, status=422)
    call = (
        f"/v1/orders/{order_no}/risk-review",
        {"approve": decision == "approve", "reason": reason},
    )
    return await order_action(request, viewer, order_no, call, feedback, "reviewed")


@router.post("/orders/{order_no}/packages/{package_no}/decision", response_class=HTMLResponse)
async def decide_package(
    request: Request,
    order_no: str,
    package_no: str,
    viewer: SignedIn,
    decision: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    """A package in exception (lost, damaged): ship it again or refund its lines."""
    check_csrf(request, csrf)
    viewer.require("packages.decide")
    feedback = Feedback(form=f"package:{package_no}", reason=reason)
    if decision not in ("reship", "refund"):
        feedback = replace(feedback, message="order.decision.need_choice")
        return await detail_page(request, viewer, order_no, feedback=feedback, status=422)
    call = (
        f"/v1/packages/{package_no}/exception-decision",
        {"decision": decision, "reason": reason},
    )
    return await order_action(request, viewer, order_no, call, feedback, "decided")


@router.post("/orders/{order_no}/reveal", response_class=HTMLResponse)
async def reveal_contact(
    request: Request,
    order_no: str,
    viewer: SignedIn,
    csrf: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    """The order's full contact, once, on this answer only (the API audits every reveal)."""
    check_csrf(request, csrf)
    viewer.require("pii.read")
    contact = await viewer.api.post(f"/v1/orders/{order_no}/reveal")
    return await detail_page(request, viewer, order_no, contact=contact)
