"""Carrier manifests (交接单): packages of one carrier and one warehouse are scanned onto an
open manifest at the pack station, then handed over together. A scan takes the package number or
the tracking number on the label and is kept by the device-made scan id, so a resend answers
what the first one did. Which scan is refused, and why, is decided here; the hand-over itself
goes through each package's shipment (the route sends the updates), and this module only books
what they answered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from models.db import Carrier, Manifest, ManifestPackage, Package, Warehouse

LIVE = ("scanned", "handed_over")  # a package is live on at most one manifest
NOT_LABELLED = frozenset({"released", "picked", "packed", "weight_hold"})


class ManifestRefused(Exception):
    """A scan, removal or hand-over the manifest's rules refuse; `code` names the rule (the
    handheld shows its words), `status` the HTTP status it is answered with."""

    def __init__(self, code: str, message: str, *, status: int = 409, **extra: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.extra = extra


@dataclass(frozen=True)
class Scanned:
    line: ManifestPackage
    replayed: bool


@dataclass(frozen=True)
class Line:
    """A manifest line with what the printed manifest and the screens show of its package."""

    line: ManifestPackage
    tracking_no: str | None
    order_no: str
    weight_g: int
    package_status: str


async def open_manifest(
    session: AsyncSession,
    *,
    warehouse_id: int,
    carrier_code: str,
    note: str | None,
    actor: str,
    today: date,
    request_id: str | None = None,
) -> Manifest:
    """A new open manifest (`MF<day><sequence>`) for an active carrier, in the caller's
    transaction; the one this request id opened already when it is a resend."""
    if request_id is not None:
        known = await session.scalar(select(Manifest).where(Manifest.request_id == request_id))
        if known is not None:
            if (known.warehouse_id, known.carrier_code) != (warehouse_id, carrier_code):
                raise ManifestRefused(
                    "request_id_reused",
                    f"request id {request_id} opened another manifest",
                    field="request_id",
                )
            return known
    if await session.get(Warehouse, warehouse_id) is None:
        raise ManifestRefused("unknown_warehouse", f"no such warehouse: {warehouse_id}", status=422)
    carrier = await session.scalar(select(Carrier).where(Carrier.code == carrier_code))
    if carrier is None or not carrier.active:
        raise ManifestRefused(
            "unknown_carrier", f"no active carrier with code {carrier_code}", status=422
        )
    seq = int(await session.scalar(select(func.nextval("manifest_no_seq"))) or 0)
    manifest = Manifest(
        manifest_no=f"MF{today:%Y%m%d}{seq:06d}",
        warehouse_id=warehouse_id,
        carrier_code=carrier_code,
        status="open",
        note=note,
        request_id=request_id,
        created_by=actor,
    )
    try:
        async with session.begin_nested():
            session.add(manifest)
            await session.flush()
    except IntegrityError:  # the same request, sent twice at once: the first one opened it
        known = await session.scalar(select(Manifest).where(Manifest.request_id == request_id))
        if known is None:
            raise
        return known
    return manifest


async def _open(session: AsyncSession, manifest_no: str) -> Manifest:
    """The manifest, locked, refused unless scans may still change it."""
    manifest = await session.get(Manifest, manifest_no, with_for_update=True)
    if manifest is None:
        raise ManifestRefused("unknown_manifest", f"no such manifest: {manifest_no}", status=404)
    if manifest.status != "open":
        raise ManifestRefused(
            "manifest_closed", f"manifest {manifest_no} is {manifest.status.replace('_', ' ')}"
        )
    if manifest.handover_started_at is not None:
        raise ManifestRefused("manifest_closed", f"manifest {manifest_no} is being handed over")
    return manifest


async def _by_code(session: AsyncSession, code: str) -> Package | None:
    """The package a scan names: its number, else the tracking number on its label."""
    return await session.get(Package, code) or await session.scalar(
        select(Package).where(Package.tracking_no == code)
    )


async def _replay(
    session: AsyncSession, manifest_no: str, code: str, scan_id: str
) -> Scanned | None:
    line = await session.scalar(select(ManifestPackage).where(ManifestPackage.scan_id == scan_id))
    if line is None:
        return None
    package = await session.get(Package, line.package_no)
    same = package is not None and code in (package.package_no, package.tracking_no)
    if line.manifest_no != manifest_no or not same:
        raise ManifestRefused(
            "scan_id_reused", f"scan id {scan_id} was used for another scan", field="scan_id"
        )
    return Scanned(line, replayed=True)


def _check(manifest: Manifest, package: Package) -> None:
    no = package.package_no
    if package.warehouse_id != manifest.warehouse_id:
        raise ManifestRefused("other_warehouse", f"package {no} ships from another warehouse")
    if package.carrier_code != manifest.carrier_code:
        raise ManifestRefused(
            "other_carrier", f"package {no} goes with {package.carrier_code}, not this carrier"
        )
    if package.status == "cancelled":
        raise ManifestRefused("cancelled", f"package {no} is cancelled: do not ship it")
    if package.status in NOT_LABELLED:
        raise ManifestRefused(
            "not_labelled", f"package {no} has no label yet (it is {package.status})"
        )
    if package.status != "waybill_created":
        raise ManifestRefused(
            "already_handed_over", f"package {no} was handed over already ({package.status})"
        )


async def _live_line(session: AsyncSession, package_no: str) -> ManifestPackage | None:
    return await session.scalar(
        select(ManifestPackage).where(
            ManifestPackage.package_no == package_no, ManifestPackage.status.in_(LIVE)
        )
    )


async def scan_package(
    session: AsyncSession, manifest_no: str, code: str, scan_id: str, actor: str
) -> Scanned:
    """Put the package the code names on the open manifest, in the caller's transaction."""
    if (done := await _replay(session, manifest_no, code, scan_id)) is not None:
        return done
    manifest = await _open(session, manifest_no)
    package = await _by_code(session, code)
    if package is None:
        raise ManifestRefused("unknown_package", f"no package or tracking number {code}")
    on = await _live_line(session, package.package_no)
    if on is not None:
        raise ManifestRefused(
            "on_manifest",
            f"package {package.package_no} is on manifest {on.manifest_no} already",
            manifest_no=on.manifest_no,
        )
    _check(manifest, package)
    line = ManifestPackage(
        manifest_no=manifest_no,
        package_no=package.package_no,
        scan_id=scan_id,
        status="scanned",
        scanned_by=actor,
    )
    try:
        async with session.begin_nested():
            session.add(line)
            await session.flush()
    except IntegrityError:
        # A concurrent scan committed first: the same scan id answers as it; the package on
        # another manifest is refused as above.
        if (done := await _replay(session, manifest_no, code, scan_id)) is not None:
            return done
        raise ManifestRefused(
            "on_manifest", f"package {package.package_no} is on a manifest already"
        ) from None
    return Scanned(line, replayed=False)


async def remove_package(
    session: AsyncSession, manifest_no: str, package_no: str, actor: str, now: datetime
) -> ManifestPackage:
    """Take a package off the open manifest (it may then go on another one)."""
    await _open(session, manifest_no)
    line = await session.scalar(
        select(ManifestPackage).where(
            ManifestPackage.manifest_no == manifest_no,
            ManifestPackage.package_no == package_no,
            ManifestPackage.status == "scanned",
        )
    )
    if line is None:
        raise ManifestRefused(
            "not_on_manifest", f"package {package_no} is not on manifest {manifest_no}", status=404
        )
    line.status, line.removed_at, line.removed_by = "removed", now, actor
    await session.flush()
    return line


async def cancel_manifest(session: AsyncSession, manifest_no: str) -> Manifest:
    """An open manifest dropped: its packages are free for another one."""
    manifest = await _open(session, manifest_no)
    manifest.status = "cancelled"
    await session.execute(
        update(ManifestPackage)
        .where(ManifestPackage.manifest_no == manifest_no, ManifestPackage.status == "scanned")
        .values(status="cancelled")
    )
    await session.flush()
    return manifest


async def start_handover(session: AsyncSession, manifest_no: str, now: datetime) -> list[str]:
    """The packages to hand over, oldest scan first; from now on the manifest takes no scan. A
    repeat of a hand-over that was cut short continues it (the shipments answer a resent update
    as they did the first time); one already done has nothing left."""
    manifest = await session.get(Manifest, manifest_no, with_for_update=True)
    if manifest is None:
        raise ManifestRefused("unknown_manifest", f"no such manifest: {manifest_no}", status=404)
    if manifest.status == "cancelled":
        raise ManifestRefused("manifest_closed", f"manifest {manifest_no} is cancelled")
    if manifest.status == "handed_over":
        return []
    todo = list(
        await session.scalars(
            select(ManifestPackage.package_no)
            .where(ManifestPackage.manifest_no == manifest_no, ManifestPackage.status == "scanned")
            .order_by(ManifestPackage.id)
        )
    )
    if not todo:
        raise ManifestRefused("manifest_empty", f"manifest {manifest_no} has no package on it")
    manifest.handover_started_at = manifest.handover_started_at or now
    await session.flush()
    return todo


async def finish_handover(
    session: AsyncSession,
    manifest_no: str,
    failures: dict[str, str | None],
    *,
    by: str,
    worker: str | None,
    now: datetime,
) -> Manifest:
    """Book what each shipment answered (`failures`: package → why it was refused, None when it
    went). The packages that went are handed over with the manifest; those refused stay in the
    warehouse, off it. When none went, the manifest stays open with them on it."""
    manifest = await session.get(Manifest, manifest_no, with_for_update=True)
    assert manifest is not None
    if manifest.status != "open":  # a repeat of a hand-over already booked
        return manifest
    went = [no for no, why in failures.items() if why is None]
    lines = await session.scalars(
        select(ManifestPackage).where(
            ManifestPackage.manifest_no == manifest_no,
            ManifestPackage.package_no.in_(list(failures)),
            ManifestPackage.status == "scanned",
        )
    )
    for line in lines:
        why = failures[line.package_no]
        line.failure = why[:500] if why else None
        if went:
            line.status = "handed_over" if why is None else "failed"
    if went:
        manifest.status = "handed_over"
        manifest.handed_over_at, manifest.handed_over_by = now, by
        manifest.handed_over_worker = worker
    else:
        manifest.handover_started_at = None
    await session.flush()
    return manifest


async def manifest_lines(
    session: AsyncSession, manifest_no: str, statuses: tuple[str, ...] | None = None
) -> list[Line]:
    """The manifest's lines in scan order, with their packages' tracking number and weight."""
    query = (
        select(ManifestPackage, Package)
        .join(Package, Package.package_no == ManifestPackage.package_no)
        .where(ManifestPackage.manifest_no == manifest_no)
        .order_by(ManifestPackage.id)
    )
    if statuses is not None:
        query = query.where(ManifestPackage.status.in_(statuses))
    return [
        Line(
            line=line,
            tracking_no=package.tracking_no,
            order_no=package.order_no,
            weight_g=package.measured_weight_g or package.expected_weight_g,
            package_status=package.status,
        )
        for line, package in (await session.execute(query)).all()
    ]


__all__ = [
    "Line",
    "ManifestRefused",
    "Scanned",
    "cancel_manifest",
    "finish_handover",
    "manifest_lines",
    "open_manifest",
    "remove_package",
    "scan_package",
    "start_handover",
]
