"""Carrier manifests (交接单): devices open a manifest for a carrier, scan labelled packages onto
it and hand them over together — each package through its shipment's `hand_over` update, the
same path as a single handover. Staff read manifests and print them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Response
from sqlalchemy import Select, func, or_, select

from api.deps import (
    AppDeps,
    Deps,
    Principal,
    Session,
    Writer,
    actor_of,
    forbid_outside,
    in_scope,
    require,
    writer,
)
from api.errors import Problem, not_found
from api.pagination import Page, Paging, fetch_page
from api.routes.printing import PDF, PdfResponse
from api.routes.printing import _pdf as pdf_answer
from api.routing import Routes
from api.schemas.manifests import (
    HandoverAnswer,
    HandoverFailure,
    ManifestCreate,
    ManifestLinePublic,
    ManifestPublic,
    ManifestRow,
    ManifestScan,
    ManifestStatus,
    ScanAnswer,
)
from api.schemas.types import IdParam, NoParam, TextParam
from api.workflow_calls import PACKAGE, update
from models.contracts.order import Actor
from models.contracts.shipment import HandoverRequest
from models.db import Carrier, Manifest, ManifestPackage, Package, Warehouse
from models.documents import ManifestDocument, ManifestEntry, manifest_pdf
from models.domain.business_day import BUSINESS_TZ
from services.manifests import (
    LIVE,
    Line,
    ManifestRefused,
    cancel_manifest,
    finish_handover,
    manifest_lines,
    open_manifest,
    remove_package,
    scan_package,
    start_handover,
)
from workflows.shipment import ShipmentWorkflow

router = Routes(prefix="/v1/manifests", tags=["manifests"])
HANDOVERS_AT_ONCE = 8  # shipments asked side by side during a manifest's hand-over
Reader = Annotated[Principal, Depends(require("packages.read"))]
DeviceWriter = Annotated[Writer, Depends(writer("packages.pack"))]


def _refused(exc: ManifestRefused) -> Problem:
    """A refusal the handheld can name: `error` is the rule (its words are the screen's)."""
    return Problem(
        exc.status,
        str(exc),
        type_=f"/problems/{exc.code.replace('_', '-')}",
        extensions={"error": exc.code, **exc.extra},
    )


async def _manifest(session: Session, who: Principal, manifest_no: str) -> Manifest:
    manifest = await session.get(Manifest, manifest_no)
    if manifest is None:
        raise not_found("manifest", manifest_no)
    forbid_outside(who, manifest.warehouse_id)
    return manifest


def _line(line: Line) -> ManifestLinePublic:
    row = line.line
    return ManifestLinePublic(
        package_no=row.package_no,
        order_no=line.order_no,
        tracking_no=line.tracking_no,
        weight_g=line.weight_g,
        package_status=line.package_status,
        status=row.status,
        scan_id=row.scan_id,
        scanned_at=row.scanned_at,
        scanned_by=row.scanned_by,
        removed_at=row.removed_at,
        removed_by=row.removed_by,
        failure=row.failure,
    )


async def _public(session: Session, manifest: Manifest) -> dict[str, Any]:
    lines = await manifest_lines(session, manifest.manifest_no)
    on = [line for line in lines if line.line.status in LIVE]
    row = ManifestRow.model_validate({**_columns(manifest), "count": len(on)})
    return {
        **row.model_dump(),
        "weight_g": sum(line.weight_g for line in on),
        "packages": [_line(line) for line in lines],
    }


def _columns(manifest: Manifest) -> dict[str, Any]:
    return {c: getattr(manifest, c) for c in ManifestRow.model_fields if c != "count"}


async def _counts(session: Session, numbers: list[str]) -> dict[str, int]:
    """How many packages are on each of these manifests."""
    rows = await session.execute(
        select(ManifestPackage.manifest_no, func.count())
        .where(ManifestPackage.manifest_no.in_(numbers), ManifestPackage.status.in_(LIVE))
        .group_by(ManifestPackage.manifest_no)
    )
    return {no: int(n) for no, n in rows.all()}


def _filtered(
    who: Principal,
    warehouse_id: int | None,
    carrier_code: str | None,
    status: str | None,
    package_no: str | None,
) -> Select[Any]:
    query = in_scope(who, select(Manifest), Manifest.warehouse_id, warehouse_id)
    if carrier_code:
        query = query.where(Manifest.carrier_code == carrier_code)
    if status:
        query = query.where(Manifest.status == status)
    if package_no:  # the manifest a package (by its number or tracking number) is on
        named = select(Package.package_no).where(
            or_(Package.package_no == package_no, Package.tracking_no == package_no)
        )
        query = query.where(
            Manifest.manifest_no.in_(
                select(ManifestPackage.manifest_no).where(
                    ManifestPackage.package_no.in_(named), ManifestPackage.status.in_(LIVE)
                )
            )
        )
    return query


@router.post("", status_code=201)
async def create_manifest(body: ManifestCreate, w: DeviceWriter) -> ManifestPublic:
    """An open manifest for one carrier of the device's warehouse."""
    forbid_outside(w.principal, body.warehouse_id)
    try:
        manifest = await open_manifest(
            w.session,
            warehouse_id=body.warehouse_id,
            carrier_code=body.carrier_code,
            note=body.note,
            actor=actor_of(w.principal).name,
            today=datetime.now(BUSINESS_TZ).date(),
            request_id=body.request_id,
        )
    except ManifestRefused as exc:
        raise _refused(exc) from exc
    shown = await _public(w.session, manifest)
    await w.commit("manifest.create", "manifest", manifest.manifest_no, body.model_dump())
    return ManifestPublic.model_validate(shown)


@router.get("")
async def list_manifests(
    session: Session,
    paging: Paging,
    who: Reader,
    warehouse_id: IdParam | None = None,
    carrier_code: TextParam | None = None,
    status: ManifestStatus | None = None,
    package_no: TextParam | None = None,
    sort: TextParam | None = None,
) -> Page[ManifestRow]:
    """Manifests of the caller's warehouses, newest first (`sort=created_at` oldest first);
    `package_no` (or a tracking number): the manifest that package is on."""
    query = _filtered(who, warehouse_id, carrier_code, status, package_no)
    if sort == "created_at":
        query = query.order_by(Manifest.created_at, Manifest.manifest_no)
    else:
        query = query.order_by(Manifest.created_at.desc(), Manifest.manifest_no.desc())
    rows, count = await fetch_page(session, query, paging)
    counts = await _counts(session, [m.manifest_no for m in rows])
    data = [
        ManifestRow.model_validate({**_columns(m), "count": counts.get(m.manifest_no, 0)})
        for m in rows
    ]
    return Page(data=data, count=count)


@router.get("/{manifest_no}")
async def get_manifest(manifest_no: NoParam, session: Session, who: Reader) -> ManifestPublic:
    manifest = await _manifest(session, who, manifest_no)
    return ManifestPublic.model_validate(await _public(session, manifest))


@router.post("/{manifest_no}/packages", responses={404: {}, 409: {}})
async def scan_onto_manifest(
    manifest_no: NoParam, body: ManifestScan, w: DeviceWriter
) -> ScanAnswer:
    """A scan of the package number or the tracking number on the label. Refused (409, `error`
    names why): no label yet, another carrier or warehouse, on a manifest already, cancelled,
    handed over already, the manifest closed. The same `scan_id` again answers the same."""
    await _manifest(w.session, w.principal, manifest_no)
    try:
        done = await scan_package(
            w.session, manifest_no, body.code, body.scan_id, actor_of(w.principal).name
        )
    except ManifestRefused as exc:
        await w.session.rollback()
        raise _refused(exc) from exc
    manifest = await _manifest(w.session, w.principal, manifest_no)
    shown = await _public(w.session, manifest)
    detail = body.model_dump() | {"package_no": done.line.package_no, "replayed": done.replayed}
    await w.commit("manifest.scan", "manifest", manifest_no, detail)
    return ScanAnswer.model_validate(
        {
            **shown,
            "scan_id": body.scan_id,
            "package_no": done.line.package_no,
            "replayed": done.replayed,
        }
    )


@router.delete("/{manifest_no}/packages/{package_no}", responses={404: {}, 409: {}})
async def take_off_manifest(
    manifest_no: NoParam, package_no: NoParam, w: DeviceWriter
) -> ManifestPublic:
    """Take a package off an open manifest."""
    await _manifest(w.session, w.principal, manifest_no)
    try:
        await remove_package(
            w.session, manifest_no, package_no, actor_of(w.principal).name, datetime.now(UTC)
        )
    except ManifestRefused as exc:
        await w.session.rollback()
        raise _refused(exc) from exc
    shown = await _public(w.session, await _manifest(w.session, w.principal, manifest_no))
    await w.commit("manifest.remove", "manifest", manifest_no, {"package_no": package_no})
    return ManifestPublic.model_validate(shown)


@router.post("/{manifest_no}/cancel", responses={409: {}})
async def cancel(manifest_no: NoParam, w: DeviceWriter) -> ManifestPublic:
    """Drop an open manifest: its packages are free for another one."""
    await _manifest(w.session, w.principal, manifest_no)
    try:
        manifest = await cancel_manifest(w.session, manifest_no)
    except ManifestRefused as exc:
        await w.session.rollback()
        raise _refused(exc) from exc
    shown = await _public(w.session, manifest)
    await w.commit("manifest.cancel", "manifest", manifest_no)
    return ManifestPublic.model_validate(shown)


@router.post("/{manifest_no}/hand-over", responses={409: {}})
async def hand_over(manifest_no: NoParam, deps: Deps, w: DeviceWriter) -> HandoverAnswer:
    """Every package on the manifest goes to the carrier through its shipment, as a single
    handover does. One its shipment refuses is reported in `failed` and stays in the warehouse
    (off the manifest); the rest go and the manifest is handed over. When none can go the
    manifest stays open. Sent again, the answer is the same (the shipments answer a resent
    update as they did)."""
    await _manifest(w.session, w.principal, manifest_no)
    try:
        todo = await start_handover(w.session, manifest_no, datetime.now(UTC))
    except ManifestRefused as exc:
        await w.session.rollback()
        raise _refused(exc) from exc
    await w.session.commit()  # never hold a connection while waiting for the workflows
    actor = actor_of(w.principal)
    failures = await _hand_over_each(deps, manifest_no, todo, actor)
    manifest = await finish_handover(
        w.session,
        manifest_no,
        failures,
        by=w.principal.name,
        worker=w.principal.worker,
        now=datetime.now(UTC),
    )
    shown = await _public(w.session, manifest)
    lines = shown["packages"]
    went = [line.package_no for line in lines if line.status == "handed_over"]
    failed = [
        HandoverFailure(package_no=line.package_no, detail=line.failure or "")
        for line in lines
        if line.failure and line.status in ("failed", "scanned")
    ]
    detail = {"handed_over": went, "failed": {f.package_no: f.detail for f in failed}}
    await w.commit("manifest.hand_over", "manifest", manifest_no, detail)
    return HandoverAnswer.model_validate({**shown, "handed_over": went, "failed": failed})


async def _hand_over_each(
    deps: AppDeps, manifest_no: str, todo: list[str], actor: Actor
) -> dict[str, str | None]:
    """Each package's `hand_over` answer: None when it went, else why not. A busy back office
    (503) fails the whole call: nothing is lost, the same hand-over is sent again."""
    gate = asyncio.Semaphore(HANDOVERS_AT_ONCE)

    async def one(package_no: str) -> str | None:
        async with gate:
            try:
                view = await update(
                    deps,
                    PACKAGE,
                    package_no,
                    ShipmentWorkflow.hand_over,
                    HandoverRequest(actor=actor),
                    update_id=f"manifest-{manifest_no}-{package_no}",
                )
            except Problem as exc:
                if exc.status >= 500:
                    raise
                return exc.detail
        if view.status in ("waybill_created", "exception", "cancelled"):
            return f"package {package_no} is {view.status}: {view.hold_reason or ''}".strip(": ")
        return None

    answers = await asyncio.gather(*(one(no) for no in todo))
    return dict(zip(todo, answers, strict=True))


@router.get("/{manifest_no}/manifest.pdf", responses=PDF, response_class=PdfResponse)
async def manifest_document(manifest_no: NoParam, session: Session, who: Reader) -> Response:
    """The printed manifest: carrier, warehouse, count and weight, each package with its
    tracking number as Code 128, and the lines the driver signs."""
    manifest = await _manifest(session, who, manifest_no)
    lines = await manifest_lines(session, manifest_no, LIVE)
    if not lines:
        raise Problem(
            409, f"manifest {manifest_no} has no package on it", type_="/problems/conflict"
        )
    carrier = await session.scalar(select(Carrier).where(Carrier.code == manifest.carrier_code))
    warehouse = await session.get(Warehouse, manifest.warehouse_id)
    assert warehouse is not None
    document = ManifestDocument(
        manifest_no=manifest.manifest_no,
        carrier_code=manifest.carrier_code,
        carrier_name=carrier.name if carrier else manifest.carrier_code,
        warehouse_code=warehouse.code,
        warehouse_name=warehouse.name,
        status=manifest.status,
        created_at=manifest.created_at,
        handed_over_at=manifest.handed_over_at,
        handed_over_by=manifest.handed_over_worker or manifest.handed_over_by,
        note=manifest.note,
        entries=tuple(
            ManifestEntry(
                package_no=line.line.package_no,
                tracking_no=line.tracking_no or line.line.package_no,
                order_no=line.order_no,
                weight_g=line.weight_g,
            )
            for line in lines
        ),
    )
    return pdf_answer(manifest_pdf(document), manifest_no)
