"""通知 (notifications, DESIGN §6.10): the bell in the header (open and unread), the person's
notifications from GET /v1/notifications — filters, sort, pages, CSV/XLSX export of exactly the
filtered rows — read one or all, done by hand for what needs no decision here; and, for admins,
the channels each role subscribes to (企业微信 / 钉钉 robots, e-mail) with their outbox figures."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.client import Json, Refused
from console.export import download, listed
from console.i18n import Translator, format_time
from console.lists import page_number
from console.money import format_fen
from console.pages import MenuItem, SignedIn, Viewer, render, translator
from console.security import CSRF_FIELD, check_csrf

router = APIRouter()
MENU = (
    MenuItem("nav.notifications", "/notifications", "self.read"),
    MenuItem("nav.notification_subscriptions", "/notifications/subscriptions", "users.manage"),
)
PAGE_SIZE: Final = 50
KINDS: Final = (
    "po_approval",
    "risk_review",
    "weight_hold",
    "parcel_exception",
    "after_sale_decision",
    "refund_refused",
    "return_inspection",
    "invoice_mismatch",
    "reconciliation_difference",
    "escalated_wave",
    "late_package",
    "late_payment",
    "low_stock",
    "low_tracking_range",
)
STATUSES: Final = ("open", "done", "all")
SORTS: Final = ("newest", "oldest")
CHANNELS: Final = ("wecom", "dingtalk", "email")


@dataclass(frozen=True)
class Filters:
    status: str = "open"
    kind: str = ""
    unread: bool = False
    sort: str = "newest"

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Filters:
        status, kind, sort = query.get("status", "open"), query.get("kind", ""), query.get("sort")
        return cls(
            status=status if status in STATUSES else "open",
            kind=kind if kind in KINDS else "",
            unread=query.get("unread") == "1",
            sort=sort if sort in SORTS else "newest",
        )

    def api_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"status": self.status, "sort": self.sort}
        if self.kind:
            params["kind"] = self.kind
        if self.unread:
            params["unread"] = "true"
        return params

    def query(self, **extra: object) -> str:
        shown = {"status": self.status, "kind": self.kind, "sort": self.sort}
        shown |= {"unread": "1"} if self.unread else {}
        return urlencode({k: v for k, v in {**shown, **extra}.items() if v not in ("", None)})


def link(note: Json) -> str:
    """The console page where the notification's thing is acted upon."""
    ref, kind = note["ref"], note["kind"]
    pages = {
        "po_approval": f"/purchase-orders/{ref}",
        "after_sale_decision": f"/after-sales/{ref}",
        "refund_refused": f"/after-sales/{ref}",
        "escalated_wave": f"/waves/{ref}",
    }
    if kind in pages:
        return pages[kind]
    if note.get("order_no"):
        return f"/orders/{note['order_no']}"
    return "/inbox"


@router.get("/notifications/bell", response_class=HTMLResponse)
async def bell(request: Request, viewer: SignedIn) -> Response:
    """The header's bell (htmx swaps it in on every page, and again every minute)."""
    answer = await viewer.api.get("/v1/notifications/unread")
    return render(request, "notifications/_bell.html", unread=int(answer["unread"]))


async def list_page(
    request: Request, viewer: Viewer, *, message: str | None = None, status: int = 200
) -> Response:
    query = request.query_params
    filters = Filters.from_query(query)
    page = page_number(query)
    params = {**filters.api_params(), "skip": (page - 1) * PAGE_SIZE, "limit": PAGE_SIZE}
    answer = await viewer.api.get("/v1/notifications", params)
    count = int(answer["count"])
    return render(
        request,
        "notifications/list.html",
        viewer=viewer,
        status=status,
        rows=[{**n, "link": link(n)} for n in answer["data"]],
        count=count,
        unread=int(answer["unread"]),
        filters=filters,
        kinds=KINDS,
        statuses=STATUSES,
        sorts=SORTS,
        page=page,
        pages=max(1, -(-count // PAGE_SIZE)),
        message=message,
    )


@router.get("/notifications", response_class=HTMLResponse)
async def notifications(request: Request, viewer: SignedIn) -> Response:
    viewer.require("self.read")
    return await list_page(request, viewer)


def export_header(t: Translator) -> list[str]:
    keys = ("created_at", "kind", "ref", "order_no", "amount", "detail", "read", "done_at")
    return [t(f"notifications.col.{k}") for k in keys]


def export_row(note: Json, t: Translator) -> list[str]:
    amount = note.get("amount_fen")
    return [
        format_time(note["created_at"]),
        t(f"notifications.kind.{note['kind']}"),
        note["ref"],
        note.get("order_no") or "",
        format_fen(amount) if amount is not None else "",
        note["detail"],
        t("notifications.yes") if note["read"] else t("notifications.no"),
        format_time(note["done_at"]) if note.get("done_at") else "",
    ]


@router.get("/notifications/export.{kind}")
async def export(request: Request, kind: str, viewer: SignedIn) -> Response:
    viewer.require("self.read")
    filters = Filters.from_query(request.query_params)
    t = translator(request)
    return download(
        request,
        kind=kind,
        name="notifications",
        sheet=t("notifications.title"),
        header=export_header(t),
        rows=listed("/v1/notifications", filters.api_params(), lambda n: export_row(n, t)),
    )


def _back(request: Request) -> str:
    root = str(request.scope.get("root_path", ""))
    kept = {k: v for k, v in request.query_params.items() if k in ("status", "kind", "sort",
                                                                     "unread", "page")}  # fmt: skip
    return f"{root}/notifications?{urlencode(kept)}"


@router.post("/notifications/read-all", response_class=HTMLResponse)
async def read_all(
    request: Request, viewer: SignedIn, csrf: Annotated[str, Form(alias=CSRF_FIELD)] = ""
) -> Response:
    check_csrf(request, csrf)
    await viewer.api.post("/v1/notifications/read-all")
    return RedirectResponse(_back(request), status_code=303)


@router.post("/notifications/{notification_id}/{action}", response_class=HTMLResponse)
async def mark(
    request: Request,
    viewer: SignedIn,
    notification_id: int,
    action: str,
    csrf: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    """Read, or done (the API refuses what the person may not see: the 404 page)."""
    check_csrf(request, csrf)
    if action not in ("read", "done") or not 0 < notification_id < 2**63:
        return await list_page(request, viewer, message="notifications.bad_action", status=422)
    await viewer.api.post(f"/v1/notifications/{notification_id}/{action}")
    return RedirectResponse(_back(request), status_code=303)


# --- subscriptions ----------------------------------------------------------------------------


async def subscriptions_page(
    request: Request,
    viewer: Viewer,
    *,
    refusal: str | None = None,
    form: Mapping[str, str] | None = None,
    status: int = 200,
) -> Response:
    answer = await viewer.api.get("/v1/notification-subscriptions", {"limit": 200})
    roles = await viewer.api.get("/v1/admin/roles")
    return render(
        request,
        "notifications/subscriptions.html",
        viewer=viewer,
        status=status,
        rows=answer["data"],
        count=int(answer["count"]),
        roles=[r["name"] for r in roles["data"]],
        channels=CHANNELS,
        refusal=refusal,
        form=form or {},
    )


@router.get("/notifications/subscriptions", response_class=HTMLResponse)
async def subscriptions(request: Request, viewer: SignedIn) -> Response:
    viewer.require("users.manage")
    return await subscriptions_page(request, viewer)


@router.post("/notifications/subscriptions", response_class=HTMLResponse)
async def subscribe(
    request: Request,
    viewer: SignedIn,
    role: Annotated[str, Form()] = "",
    channel: Annotated[str, Form()] = "",
    target: Annotated[str, Form()] = "",
    secret: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    check_csrf(request, csrf)
    viewer.require("users.manage")
    body: Json = {"role": role, "channel": channel, "target": target.strip()}
    if secret.strip():
        body["secret"] = secret.strip()
    try:
        await viewer.api.post("/v1/notification-subscriptions", body)
    except Refused as refusal:
        form = {"role": role, "channel": channel, "target": target}
        return await subscriptions_page(
            request, viewer, refusal=refusal.detail, form=form, status=refusal.status
        )
    root = str(request.scope.get("root_path", ""))
    return RedirectResponse(f"{root}/notifications/subscriptions", status_code=303)


@router.post("/notifications/subscriptions/{subscription_id}/active", response_class=HTMLResponse)
async def set_active(
    request: Request,
    viewer: SignedIn,
    subscription_id: int,
    active: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    check_csrf(request, csrf)
    viewer.require("users.manage")
    if not 0 < subscription_id < 2**31:
        return await subscriptions_page(request, viewer, status=422)
    await viewer.api.patch(
        f"/v1/notification-subscriptions/{subscription_id}", {"active": active == "yes"}
    )
    root = str(request.scope.get("root_path", ""))
    return RedirectResponse(f"{root}/notifications/subscriptions", status_code=303)
