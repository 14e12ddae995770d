"""待办 (my inbox): everything waiting on the signed-in person's roles across the processes, from
GET /v1/inbox — oldest first, with the SLA countdown — each row actionable in place (confirmed,
with a reason where the API needs one), and the lists people decide many at once (PO approvals,
after-sale decisions, weight holds) by a selection of rows and one action: each row is its own
API call, answered on its own (one refusal does not undo the others)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.client import ApiClient, Forbidden, Json, NotFound, Refused
from console.i18n import Translator
from console.lists import page_number
from console.pages import MenuItem, SignedIn, Viewer, render, translator
from console.security import CSRF_FIELD, check_csrf

router = APIRouter()
MENU = (MenuItem("nav.inbox", "/inbox", "self.read"),)
PAGE_SIZE: Final = 50
KINDS: Final = (
    "po_approval",
    "risk_review",
    "weight_hold",
    "parcel_exception",
    "after_sale_decision",
    "refund_retry",
    "invoice_mismatch",
    "reconciliation_difference",
    "escalated_wave",
)
# What a row of each kind offers (the first is the default); a reason is needed where marked.
CHOICES: Final[dict[str, tuple[str, ...]]] = {
    "po_approval": ("approve", "reject"),
    "risk_review": ("approve", "reject"),
    "weight_hold": ("override",),
    "parcel_exception": ("reship", "refund"),
    "after_sale_decision": ("approve", "reject"),
    "refund_retry": ("retry",),
    "invoice_mismatch": ("approve", "reject"),
    "reconciliation_difference": ("rerun",),
    "escalated_wave": (),  # nothing to post: the wave's own page (plan, reprint) is linked
}
BULK: Final[dict[str, tuple[str, ...]]] = {
    "po_approval": ("approve", "reject"),
    "after_sale_decision": ("approve", "reject"),
    "weight_hold": ("override",),
}
_REF: Final = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


@dataclass(frozen=True)
class Target:
    """One row to act on, as a form names it."""

    kind: str
    ref: str
    parent: str = ""  # invoice_mismatch: the PO; reconciliation_difference: the day

    @classmethod
    def parse(cls, kind: str, ref: str, parent: str = "") -> Target | None:
        if kind not in CHOICES or not _REF.match(ref) or (parent and not _REF.match(parent)):
            return None
        return cls(kind, ref, parent)


def api_call(target: Target, choice: str, reason: str) -> tuple[str, Json] | None:
    """The /v1 call that answers the row with `choice` (None: not a choice of its kind)."""
    if choice not in CHOICES[target.kind]:
        return None
    ref, approve = target.ref, choice == "approve"
    decision = {"approve": approve, "reason": reason}
    calls: dict[str, tuple[str, Json]] = {
        "po_approval": (
            (f"/v1/purchase-orders/{ref}/approve", {})
            if approve
            else (f"/v1/purchase-orders/{ref}/reject", {"reason": reason})
        ),
        "risk_review": (f"/v1/orders/{ref}/risk-review", decision),
        "weight_hold": (f"/v1/packages/{ref}/override-weight", {"reason": reason}),
        "parcel_exception": (
            f"/v1/packages/{ref}/exception-decision",
            {"decision": choice, "reason": reason},
        ),
        "after_sale_decision": (f"/v1/after-sales/{ref}/decision", decision),
        "refund_retry": (
            f"/v1/after-sales/{ref}/retry-refund"
            if ref.startswith("AS")
            else f"/v1/orders/{ref}/retry-refund",
            {"reason": reason},
        ),
        "invoice_mismatch": (
            f"/v1/purchase-orders/{target.parent}/invoices/{ref}/decision",
            decision,
        ),
        "reconciliation_difference": ("/v1/finance/reconciliation/run", {"day": target.parent}),
    }
    return calls.get(target.kind)


def sla_left(due: str | None, now: datetime, t: Translator) -> tuple[str, bool]:
    """The countdown to an SLA ("2 h 5 min left" / "overdue by 1 h 3 min") and whether late."""
    if not due:
        return "", False
    seconds = int((datetime.fromisoformat(due) - now).total_seconds())
    hours, minutes = divmod(abs(seconds) // 60, 60)
    if seconds >= 0:
        return t("inbox.sla.left", hours=hours, minutes=minutes), False
    return t("inbox.sla.over", hours=hours, minutes=minutes), True


@dataclass(frozen=True)
class Outcome:
    """One row's answer after an action: done, or the API's refusal."""

    kind: str
    ref: str
    refusal: str | None = None


async def inbox_page(
    request: Request,
    viewer: Viewer,
    *,
    outcomes: list[Outcome] | None = None,
    message: str | None = None,
    status: int = 200,
) -> Response:
    query = request.query_params
    kind = query.get("kind", "")
    kind = kind if kind in KINDS else ""
    page = page_number(query)
    params: dict[str, Any] = {"skip": (page - 1) * PAGE_SIZE, "limit": PAGE_SIZE}
    if kind:
        params["kind"] = kind
    answer = await viewer.api.get("/v1/inbox", params)
    now = datetime.now(UTC)
    t = translator(request)
    rows = []
    for item in answer["data"]:
        left, late = sla_left(item["due_at"], now, t)
        rows.append({**item, "sla": left, "late": late, "choices": CHOICES[item["kind"]]})
    count = int(answer["count"])
    done = query.get("done", "")
    return render(
        request,
        "inbox/list.html",
        viewer=viewer,
        status=status,
        rows=rows,
        count=count,
        counts=answer["counts"],
        kind=kind,
        page=page,
        pages=max(1, -(-count // PAGE_SIZE)),
        query=lambda **extra: urlencode({**({"kind": kind} if kind else {}), **extra}),
        bulk=BULK,
        bulk_here=any(r["kind"] in BULK for r in rows),
        outcomes=outcomes or [],
        message=message,
        done=done if _REF.match(done or "-") and done else "",
    )


@router.get("/inbox", response_class=HTMLResponse)
async def inbox(request: Request, viewer: SignedIn) -> Response:
    viewer.require("self.read")
    return await inbox_page(request, viewer)


async def _answer(
    api: ApiClient, target: Target, choice: str, reason: str, t: Translator
) -> Outcome:
    """The row's own call; a refusal (also a forbidden or vanished object) is its answer."""
    call = api_call(target, choice, reason)
    if call is None:
        return Outcome(target.kind, target.ref, refusal=t("inbox.need_choice"))
    try:
        await api.post(*call)
    except Refused as refusal:
        return Outcome(target.kind, target.ref, refusal=refusal.detail)
    except Forbidden:
        return Outcome(target.kind, target.ref, refusal=t("error.forbidden.title"))
    except NotFound:
        return Outcome(target.kind, target.ref, refusal=t("error.not_found.title"))
    return Outcome(target.kind, target.ref)


def _back(request: Request, **query: str) -> str:
    root = str(request.scope.get("root_path", ""))
    kept = {k: v for k, v in request.query_params.items() if k in ("kind", "page")}
    return f"{root}/inbox?{urlencode({**kept, **query})}"


@router.post("/inbox/act", response_class=HTMLResponse)
async def act(
    request: Request,
    viewer: SignedIn,
    kind: Annotated[str, Form()] = "",
    ref: Annotated[str, Form()] = "",
    parent: Annotated[str, Form()] = "",
    choice: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    """One row answered in place: back to the inbox saying so, or the API's refusal at it."""
    check_csrf(request, csrf)
    target = Target.parse(kind, ref, parent)
    if target is None or choice not in CHOICES[target.kind]:
        return await inbox_page(request, viewer, message="inbox.need_choice", status=422)
    if confirm != "yes":
        return await inbox_page(request, viewer, message="inbox.need_confirm", status=422)
    call = api_call(target, choice, reason.strip())
    assert call is not None  # the choice is one of the kind's
    try:
        await viewer.api.post(*call)  # forbidden: the 403 page; gone: the 404 page
    except Refused as refusal:
        outcome = Outcome(target.kind, target.ref, refusal=refusal.detail)
        return await inbox_page(request, viewer, outcomes=[outcome], status=refusal.status)
    return RedirectResponse(_back(request, done=target.ref), status_code=303)


@router.post("/inbox/bulk", response_class=HTMLResponse)
async def bulk(
    request: Request,
    viewer: SignedIn,
    item: Annotated[list[str] | None, Form()] = None,
    choice: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    """The selected rows, one action: each row its own call, each answered on its own."""
    check_csrf(request, csrf)
    targets = [_selected(x) for x in item or []]
    chosen = [x for x in targets if x is not None and choice in BULK.get(x.kind, ())]
    if not chosen or len(chosen) != len(targets) or len(chosen) > PAGE_SIZE:
        return await inbox_page(request, viewer, message="inbox.bulk.need_rows", status=422)
    if confirm != "yes":
        return await inbox_page(request, viewer, message="inbox.need_confirm", status=422)
    t = translator(request)
    outcomes = [await _answer(viewer.api, x, choice, reason.strip(), t) for x in chosen]
    return await inbox_page(request, viewer, outcomes=outcomes)


def _selected(value: str) -> Target | None:
    kind, _, ref = value.partition(":")
    return Target.parse(kind, ref)
