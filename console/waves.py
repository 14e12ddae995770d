"""Waves and outbound (mirrors api/routes/waves.py, packages.py, printing.py): the waves with
their progress and escalations, "plan now", one wave's progress per task (an htmx fragment the
page polls while the wave picks), reprinting a task's pick list; the outbound orders waiting for
waves with the planner's flags; packages held for their weight or lost/refused, with their
decisions."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from console.client import Json, Refused
from console.i18n import Translator, format_time
from console.lists import (
    Filters,
    a_flag,
    an_id,
    back_to,
    export,
    fetch_page,
    fragment_url,
    from_list,
    one_of,
    page_number,
    warehouse_names,
    yes_no,
)
from console.pages import (
    SignedIn,
    Viewer,
    console_state,
    is_fragment_request,
    render,
    translator,
)
from console.security import CSRF_FIELD, check_csrf

router = APIRouter()
WAVE_STATUSES: Final = ("picking", "done", "cancelled")
OUTBOUND_STATUSES: Final = ("waiting", "planned", "picked", "short", "cancelled")
PACKAGE_STATUSES: Final = (
    "weight_hold",
    "exception",
    "released",
    "picked",
    "packed",
    "waybill_created",
    "shipped",
    "delivered",
    "reshipping",
    "refund_requested",
    "cancelled",
)
WAVE_FILTERS: Final = {
    "warehouse_id": an_id,
    "status": one_of(*WAVE_STATUSES),
    "escalated": a_flag,
}
OUTBOUND_FILTERS: Final = {
    "warehouse_id": an_id,
    "status": one_of(*OUTBOUND_STATUSES),
    "flagged": a_flag,
}
PACKAGE_FILTERS: Final = {"warehouse_id": an_id, "status": one_of(*PACKAGE_STATUSES)}
POLL_SECONDS: Final = 2
Csrf = Annotated[str, Form(alias=CSRF_FIELD)]


# --- waves ------------------------------------------------------------------------------------


@router.get("/waves", response_class=HTMLResponse)
async def wave_list(request: Request, viewer: SignedIn) -> Response:
    viewer.require("waves.read")
    filters = Filters.read(request.query_params, WAVE_FILTERS)
    page = page_number(request.query_params)
    listing = await fetch_page(viewer.api, "/v1/waves", filters.api_params(), page)
    warehouses = await warehouse_names(viewer.api)
    context: dict[str, Any] = {**listing, "filters": filters, "warehouses": warehouses}
    if is_fragment_request(request):
        fragment = render(request, "waves/_rows.html", viewer=viewer, **context)
        fragment.headers["HX-Push-Url"] = fragment_url(request, "/waves", filters, page)
        return fragment
    planned = request.query_params.get("planned", "")
    return render(
        request,
        "waves/list.html",
        viewer=viewer,
        statuses=WAVE_STATUSES,
        can_plan=viewer.can("waves.plan"),
        planned=[n for n in planned.split(",") if n and an_wave_no(n)],
        plan_done="planned" in request.query_params,
        **context,
    )


def an_wave_no(value: str) -> bool:
    return value.startswith("WV") and value[2:].isalnum() and len(value) <= 40


def _wave_header(t: Translator) -> list[str]:
    keys = ("wave_no", "warehouse", "carrier", "cutoff", "profile", "status", "orders", "units")
    return [t(f"waves.col.{k}") for k in (*keys, "tasks_done", "tasks_open", "picked", "escalated")]


def _wave_row(row: Json, t: Translator) -> list[str]:
    progress = row["progress"]
    status = f"wave.status.{row['status']}"
    return [
        row["wave_no"],
        str(row["warehouse_id"]),
        row["carrier_code"],
        format_time(row["cutoff_at"]),
        row["profile"],
        t(status) if t.has(status) else row["status"],
        str(row["orders"]),
        str(row["units"]),
        str(progress["tasks_done"]),
        str(progress["tasks_open"]),
        f"{progress['units_picked']}/{progress['units_allocated']}",
        yes_no(t, row["escalated"]),
    ]


@router.get("/waves/export.{kind}")
async def wave_export(request: Request, kind: str, viewer: SignedIn) -> Response:
    viewer.require("waves.read")
    filters = Filters.read(request.query_params, WAVE_FILTERS)
    rows = from_list("/v1/waves", filters.api_params(), _wave_row)
    return await export(request, viewer.api, kind, "waves", _wave_header(translator(request)), rows)


@router.post("/waves/plan", response_class=HTMLResponse)
async def plan_now(
    request: Request,
    viewer: SignedIn,
    warehouse_id: Annotated[str, Form()] = "",
    csrf: Csrf = "",
) -> Response:
    """Plan the warehouse's waiting outbound orders now; back to its waves, naming the new
    ones."""
    check_csrf(request, csrf)
    viewer.require("waves.plan")
    if not an_id(warehouse_id):
        return back_to(request, "/waves", planned="")
    planned = await viewer.api.post(f"/v1/warehouses/{warehouse_id}/waves/plan")
    made = ",".join(w["wave_no"] for w in planned["waves"])
    return back_to(request, "/waves", warehouse_id=warehouse_id, planned=made or "none")


async def _wave_context(viewer: Viewer, wave_no: str) -> dict[str, Any]:
    wave = await viewer.api.get(f"/v1/waves/{wave_no}")
    progress = wave["progress"]
    allocated = progress["units_allocated"]
    return {
        "wave": wave,
        "percent": (100 * progress["units_picked"] // allocated) if allocated else 0,
        "polling": wave["status"] == "picking",
        "poll_seconds": POLL_SECONDS,
    }


@router.get("/waves/{wave_no}", response_class=HTMLResponse)
async def wave_detail(request: Request, wave_no: str, viewer: SignedIn) -> Response:
    viewer.require("waves.read")
    context = await _wave_context(viewer, wave_no)
    config = console_state(request).config
    return render(
        request,
        "waves/detail.html",
        viewer=viewer,
        warehouse=(await warehouse_names(viewer.api)).get(context["wave"]["warehouse_id"], ""),
        workflow_url=config.workflow_url(f"wave-{wave_no}"),
        **context,
    )


@router.get("/waves/{wave_no}/progress", response_class=HTMLResponse)
async def wave_progress(request: Request, wave_no: str, viewer: SignedIn) -> Response:
    """The progress fragment the wave page polls (it stops polling once the wave is over)."""
    viewer.require("waves.read")
    return render(
        request, "waves/_progress.html", viewer=viewer, **await _wave_context(viewer, wave_no)
    )


@router.get("/waves/{wave_no}/tasks/{task_no}/pick-list.pdf")
async def pick_list(request: Request, wave_no: str, task_no: str, viewer: SignedIn) -> Response:
    """The task's pick list again (the same stored document), as the API prints it."""
    viewer.require("waves.read")
    body, media = await viewer.api.get_bytes(f"/v1/pick-tasks/{task_no}/pick-list.pdf")
    headers = {"Content-Disposition": f'inline; filename="{task_no}.pdf"'}
    return Response(body, media_type=media or "application/pdf", headers=headers)


# --- outbound orders --------------------------------------------------------------------------


async def _chosen(viewer: Viewer, filters: Filters) -> tuple[dict[int, str], int]:
    """The warehouses the person sees and the one the list is of (the first unless chosen)."""
    warehouses = await warehouse_names(viewer.api)
    chosen = int(filters["warehouse_id"]) if filters["warehouse_id"] else min(warehouses, default=0)
    return warehouses, chosen


@router.get("/outbound", response_class=HTMLResponse)
async def outbound_list(request: Request, viewer: SignedIn) -> Response:
    viewer.require("waves.read")
    filters = Filters.read(request.query_params, OUTBOUND_FILTERS)
    warehouses, chosen = await _chosen(viewer, filters)
    page = page_number(request.query_params)
    listing: Json = {"rows": [], "count": 0, "page": 1, "pages": 1}
    if chosen:
        path = f"/v1/warehouses/{chosen}/outbound"
        listing = await fetch_page(viewer.api, path, filters.api_params("warehouse_id"), page)
    context: dict[str, Any] = {**listing, "filters": filters, "chosen": chosen}
    if is_fragment_request(request):
        fragment = render(request, "waves/_outbound_rows.html", viewer=viewer, **context)
        fragment.headers["HX-Push-Url"] = fragment_url(request, "/outbound", filters, page)
        return fragment
    return render(
        request,
        "waves/outbound.html",
        viewer=viewer,
        warehouses=warehouses,
        statuses=OUTBOUND_STATUSES,
        **context,
    )


def _outbound_header(t: Translator) -> list[str]:
    keys = ("package_no", "order_no", "carrier", "status", "wave_no", "released_at", "ship_by")
    return [t(f"outbound.col.{k}") for k in (*keys, "flag")]


def _outbound_row(row: Json, t: Translator) -> list[str]:
    status = f"outbound.status.{row['status']}"
    return [
        row["package_no"],
        row["order_no"],
        row["carrier_code"],
        t(status) if t.has(status) else row["status"],
        row["wave_no"] or "",
        format_time(row["released_at"]),
        format_time(row["ship_by"]),
        row["flag_reason"] or "",
    ]


@router.get("/outbound/export.{kind}")
async def outbound_export(request: Request, kind: str, viewer: SignedIn) -> Response:
    viewer.require("waves.read")
    filters = Filters.read(request.query_params, OUTBOUND_FILTERS)
    _, chosen = await _chosen(viewer, filters)
    path = f"/v1/warehouses/{chosen}/outbound"
    rows = from_list(path, filters.api_params("warehouse_id"), _outbound_row)
    return await export(
        request, viewer.api, kind, "outbound", _outbound_header(translator(request)), rows
    )


# --- packages and their decisions -------------------------------------------------------------

PACKAGE_DONE: Final = ("released_hold", "decided", "check_overridden")


async def package_page(
    request: Request, viewer: Viewer, *, refusal: tuple[str, str] | None = None, status: int = 200
) -> Response:
    filters = Filters.read(request.query_params, PACKAGE_FILTERS)
    page = page_number(request.query_params)
    listing = await fetch_page(viewer.api, "/v1/packages", filters.api_params(), page)
    context: dict[str, Any] = {
        **listing,
        "filters": filters,
        "warehouses": await warehouse_names(viewer.api),
        "can_override": viewer.can("packages.override"),
        "can_decide": viewer.can("packages.decide"),
        "refusal": refusal,
    }
    if is_fragment_request(request):
        fragment = render(request, "waves/_package_rows.html", viewer=viewer, **context)
        fragment.headers["HX-Push-Url"] = fragment_url(request, "/packages", filters, page)
        return fragment
    done = request.query_params.get("done", "")
    return render(
        request,
        "waves/packages.html",
        viewer=viewer,
        status=status,
        statuses=PACKAGE_STATUSES,
        done=done if done in PACKAGE_DONE else "",
        **context,
    )


@router.get("/packages", response_class=HTMLResponse)
async def package_list(request: Request, viewer: SignedIn) -> Response:
    viewer.require("packages.read")
    return await package_page(request, viewer)


def _package_header(t: Translator) -> list[str]:
    keys = ("package_no", "order_no", "warehouse", "carrier", "status", "expected", "measured")
    return [t(f"packages.col.{k}") for k in (*keys, "tracking", "hold_reason", "updated_at")]


def _package_row(row: Json, t: Translator) -> list[str]:
    status = f"package.{row['status']}"
    return [
        row["package_no"],
        row["order_no"],
        str(row["warehouse_id"]),
        row["carrier_code"],
        t(status) if t.has(status) else row["status"],
        str(row["expected_weight_g"]),
        "" if row["measured_weight_g"] is None else str(row["measured_weight_g"]),
        row["tracking_no"] or "",
        row["hold_reason"] or "",
        format_time(row["updated_at"]),
    ]


@router.get("/packages/export.{kind}")
async def package_export(request: Request, kind: str, viewer: SignedIn) -> Response:
    viewer.require("packages.read")
    filters = Filters.read(request.query_params, PACKAGE_FILTERS)
    rows = from_list("/v1/packages", filters.api_params(), _package_row)
    return await export(
        request, viewer.api, kind, "packages", _package_header(translator(request)), rows
    )


async def _package_action(
    request: Request, viewer: Viewer, package_no: str, call: tuple[str, Json], done: str
) -> Response:
    path, body = call
    back = request.query_params
    try:
        await viewer.api.post(path, body)
    except Refused as refused:
        return await package_page(
            request, viewer, refusal=(package_no, refused.detail), status=refused.status
        )
    return back_to(request, "/packages", **{**dict(back), "done": done})


@router.post("/packages/{package_no}/override-weight", response_class=HTMLResponse)
async def override_weight(
    request: Request,
    package_no: str,
    viewer: SignedIn,
    reason: Annotated[str, Form()] = "",
    csrf: Csrf = "",
) -> Response:
    """A supervisor releases a package held for its weight (the API needs a reason)."""
    check_csrf(request, csrf)
    viewer.require("packages.override")
    call = (f"/v1/packages/{package_no}/override-weight", {"reason": reason})
    return await _package_action(request, viewer, package_no, call, "released_hold")


@router.post("/packages/{package_no}/check-override", response_class=HTMLResponse)
async def override_check(
    request: Request,
    package_no: str,
    viewer: SignedIn,
    reason: Annotated[str, Form()] = "",
    csrf: Csrf = "",
) -> Response:
    """A supervisor takes the units the pack station could not scan as checked (with a reason,
    audited), so the package can be packed."""
    check_csrf(request, csrf)
    viewer.require("packages.override")
    call = (f"/v1/packages/{package_no}/check/override", {"reason": reason})
    return await _package_action(request, viewer, package_no, call, "check_overridden")


@router.post("/packages/{package_no}/decision", response_class=HTMLResponse)
async def decide(
    request: Request,
    package_no: str,
    viewer: SignedIn,
    decision: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    csrf: Csrf = "",
) -> Response:
    """A lost or refused package: ship it again or refund its lines."""
    check_csrf(request, csrf)
    viewer.require("packages.decide")
    if decision not in ("reship", "refund"):
        words = translator(request)("packages.need_decision")
        return await package_page(request, viewer, refusal=(package_no, words), status=422)
    call = (
        f"/v1/packages/{package_no}/exception-decision",
        {"decision": decision, "reason": reason},
    )
    return await _package_action(request, viewer, package_no, call, "decided")
