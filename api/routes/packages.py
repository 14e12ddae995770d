"""Package routes: devices pack and hand over in their own warehouse; managers override
weight holds; staff decide lost/refused packages."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy import select, text
from temporalio.service import RPCError

from api.deps import (
    AppDeps,
    Deps,
    Principal,
    Session,
    Writer,
    actor_of,
    in_scope,
    require,
    session_engine,
    writer,
)
from api.errors import Problem, conflict, not_found
from api.pagination import Page, Paging, fetch_page
from api.routing import Routes
from api.schemas.orders import ExceptionDecisionIn, OverrideIn, PackIn, ShipmentPublic
from api.schemas.types import IdParam, NoParam, TextParam
from api.watching import WATCHABLE, watched
from api.workflow_calls import PACKAGE, update
from core.db import Alone
from models.contracts import messages
from models.contracts.shipment import (
    ExceptionDecision,
    HandoverRequest,
    PackRequest,
    ShipmentStatus,
    ShipmentView,
    WeightOverride,
)
from models.db import Package
from services.pack_checks import units_missing
from services.wave_progress import picked_on_floor
from workflows.shipment import ShipmentWorkflow

log = logging.getLogger(__name__)
router = Routes(prefix="/v1/packages", tags=["packages"])


async def _package(session: Session, who: Principal, package_no: str) -> Package:
    package = await session.get(Package, package_no)
    if package is None:
        raise not_found("package", package_no)
    if not who.can_see_warehouse(package.warehouse_id):
        raise Problem(403, "devices act only in their own warehouse", type_="/problems/forbidden")
    await session.commit()  # never hold a connection while waiting for the workflow
    return package


# The package as ShipmentPublic's JSON, and its warehouse: one statement run alone (no BEGIN
# and COMMIT, no ORM row; a device's long poll reads it at every change). Times in UTC with
# microseconds and Z, as the API writes datetimes.
PACKAGE_VIEW = Alone(
    text("""SELECT p.warehouse_id, json_build_object(
  'package_no', p.package_no, 'order_no', p.order_no, 'status', p.status,
  'expected_weight_g', p.expected_weight_g, 'measured_weight_g', p.measured_weight_g,
  'waybill_no', p.waybill_no, 'tracking_no', p.tracking_no, 'hold_reason', p.hold_reason,
  'tracking_events', p.tracking_events,
  'waybill_cancelled_at', to_char(p.waybill_cancelled_at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
)::text AS view
FROM packages p WHERE p.package_no = :package_no""")
)


async def _package_view(session: Session, who: Principal, package_no: str) -> ShipmentPublic:
    """The package as `GET` shows it: 404 when there is none, 403 outside the caller's
    warehouses (as `_package`)."""
    await session.commit()  # nothing held while the request waits or reads
    try:
        row = await PACKAGE_VIEW.one(session_engine(session), {"package_no": package_no})
    except LookupError:
        raise not_found("package", package_no) from None
    if not who.can_see_warehouse(row["warehouse_id"]):
        raise Problem(403, "devices act only in their own warehouse", type_="/problems/forbidden")
    return ShipmentPublic.model_validate_json(row["view"])


def _public(view: ShipmentView) -> ShipmentPublic:
    return ShipmentPublic.model_validate(view.model_dump())


class PackageRow(ShipmentPublic):
    warehouse_id: int
    carrier_code: str
    updated_at: datetime


@router.get("")
async def list_packages(
    session: Session,
    paging: Paging,
    who: Annotated[Principal, Depends(require("packages.read"))],
    warehouse_id: IdParam | None = None,
    status: ShipmentStatus | None = None,
    tracking_no: TextParam | None = None,
) -> Page[PackageRow]:
    """Packages, oldest change first, of the caller's warehouses (a warehouse and a status
    when asked: the weight holds and the lost/refused ones waiting for a decision; a tracking
    number: the package the carrier knows by it)."""
    query = in_scope(who, select(Package), Package.warehouse_id, warehouse_id)
    if status is not None:
        query = query.where(Package.status == status)
    if tracking_no is not None:
        query = query.where(Package.tracking_no == tracking_no)
    query = query.order_by(Package.updated_at, Package.package_no)
    rows, count = await fetch_page(session, query, paging)
    return Page(data=[PackageRow.model_validate(r) for r in rows], count=count)


@router.get("/{package_no}", response_model=ShipmentPublic, responses=WATCHABLE)
async def get_package(
    package_no: NoParam,
    request: Request,
    response: Response,
    session: Session,
    deps: Deps,
    who: Annotated[Principal, Depends(require("packages.read"))],
) -> ShipmentPublic | Response:
    """From the projection the shipment writes at every step (read-your-writes: each update
    answers only after its step is recorded), not a workflow query. A device may wait for the
    package to change: `If-None-Match` (its last ETag) with `Prefer: wait=N`."""

    async def read() -> ShipmentPublic:
        return await _package_view(session, who, package_no)

    return await watched(request, response, session, deps.changes, package_no, read)


@router.post("/{package_no}/pack")
async def pack(
    package_no: NoParam,
    body: PackIn,
    deps: Deps,
    w: Annotated[Writer, Depends(writer("packages.pack"))],
) -> ShipmentPublic:
    """A package its wave picked on the floor packs at once, even while the wave is still
    telling the package (the device was told `next: pack`): the wave is reminded, and the
    package takes the pack once it has heard."""
    shown = await _package(w.session, w.principal, package_no)
    if w.principal.paired and await units_missing(w.session, shown):  # 复核 first (handhelds)
        raise conflict(
            f"package {package_no}: scan every unit into the box first",
            reason="scan_every_unit_first",
            package_no=package_no,
        )
    await w.session.commit()
    floor = shown.status == "released" and await _remind_wave(w.session, deps, package_no)
    request = PackRequest(
        actor=actor_of(w.principal),
        measured_weight_g=body.measured_weight_g,
        picked_on_floor=floor,
    )
    view = await update(deps, PACKAGE, package_no, ShipmentWorkflow.pack, request)
    await w.commit("package.pack", "package", package_no, body.model_dump())
    return _public(view)


async def _remind_wave(session: Session, deps: AppDeps, package_no: str) -> bool:
    """True when the floor picked the package; its wave hears of it once more (a scan's
    milestone signal may have been lost: the wave would only find it on its slow refresh)."""
    wave_no = await picked_on_floor(session, package_no)
    await session.commit()  # never hold a connection while waiting for the workflow
    if wave_no is None:
        return False
    if deps.temporal is None:
        log.warning("could not remind wave %s of %s: no Temporal", wave_no, package_no)
        return True
    try:
        wave = deps.temporal.get_workflow_handle(f"wave-{wave_no}")
        await wave.signal(messages.PACKAGE_SORTED, package_no)
    except RPCError:  # a finished wave has told the package already; Temporal unreachable
        log.warning("could not remind wave %s of %s", wave_no, package_no, exc_info=True)
    return True


@router.post("/{package_no}/override-weight")
async def override_weight(
    package_no: NoParam,
    body: OverrideIn,
    deps: Deps,
    w: Annotated[Writer, Depends(writer("packages.override"))],
) -> ShipmentPublic:
    await _package(w.session, w.principal, package_no)
    view = await update(
        deps,
        PACKAGE,
        package_no,
        ShipmentWorkflow.override_weight,
        WeightOverride(actor=actor_of(w.principal), reason=body.reason),
    )
    await w.commit("package.override_weight", "package", package_no, body.model_dump())
    return _public(view)


@router.post("/{package_no}/handover")
async def hand_over(
    package_no: NoParam, deps: Deps, w: Annotated[Writer, Depends(writer("packages.pack"))]
) -> ShipmentPublic:
    await _package(w.session, w.principal, package_no)
    view = await update(
        deps,
        PACKAGE,
        package_no,
        ShipmentWorkflow.hand_over,
        HandoverRequest(actor=actor_of(w.principal)),
    )
    await w.commit("package.handover", "package", package_no)
    return _public(view)


@router.post("/{package_no}/exception-decision")
async def decide_exception(
    package_no: NoParam,
    body: ExceptionDecisionIn,
    deps: Deps,
    w: Annotated[Writer, Depends(writer("packages.decide"))],
) -> ShipmentPublic:
    await _package(w.session, w.principal, package_no)
    view = await update(
        deps,
        PACKAGE,
        package_no,
        ShipmentWorkflow.decide_exception,
        ExceptionDecision(actor=actor_of(w.principal), decision=body.decision, reason=body.reason),
    )
    await w.commit("package.exception_decision", "package", package_no, body.model_dump())
    return _public(view)
