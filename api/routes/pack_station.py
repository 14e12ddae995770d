"""The pack station's unit check (复核, DESIGN §6.9): every unit is scanned into the box, a wrong
or surplus unit is refused at once, and the pack (which prints the label) is refused while a
unit is missing. Each scan and the pack carry the device's scan id: the same id again gets the
stored answer, so a handheld that lost its answer on flaky Wi-Fi retries without harm."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.dialects.postgresql import insert

from api.deps import Deps, Principal, Session, Writer, require, writer
from api.errors import Problem, conflict, not_found
from api.routes import packages
from api.routes.picking import ScanId
from api.routing import Routes
from api.schemas.orders import PackIn, ShipmentPublic
from api.schemas.types import NoParam, Reason, Text
from models.db import DeviceScan, Package, PackCheck
from models.domain.scans import PickRefused
from services.pack_checks import CheckView, check_view
from services.picking import stored
from services.wave_progress import picked_on_floor

router = Routes(prefix="/v1/packages", tags=["packages"])
Station = Annotated[Writer, Depends(writer("packages.pack"))]
CHECKABLE = frozenset({"released", "picked"})  # picked on the floor, not packed yet
STORED: dict[int | str, dict[str, Any]] = {
    200: {"description": "the check so far (a retried scan id: the stored answer)"}
}


class UnitIn(BaseModel):
    scan_id: ScanId
    sku_barcode: Text = Field(min_length=1, max_length=64)


class VerifiedPackIn(PackIn):
    scan_id: ScanId


class CheckOverrideIn(BaseModel):
    reason: Reason = Field(description="why the units were taken as checked (audited)")


async def _package(session: Session, who: Principal, package_no: str, lock: bool) -> Package:
    package = await session.get(Package, package_no, with_for_update=lock)
    if package is None:
        raise not_found("package", package_no)
    if not who.can_see_warehouse(package.warehouse_id):
        raise Problem(403, "devices act only in their own warehouse", type_="/problems/forbidden")
    return package


@router.get("/{package_no}/check", response_model=CheckView)
async def get_check(
    package_no: NoParam,
    session: Session,
    who: Annotated[Principal, Depends(require("packages.read"))],
) -> dict[str, Any]:
    """What the box must hold, and what has been scanned into it."""
    return await check_view(session, await _package(session, who, package_no, lock=False))


def _refused(code: str, detail: str, view: dict[str, Any], **extra: Any) -> tuple[int, Any]:
    return 409, {
        "type": f"/problems/{code.replace('_', '-')}",
        "title": "Conflict",
        "status": 409,
        "detail": detail,
        "accepted": False,
        "error": code,
        "check": view,
        **extra,
    }


async def _stored_answer(w: Writer, scan_id: str, kind: str, ref: str) -> JSONResponse | None:
    try:
        known = await stored(w.session, scan_id, kind, ref)
    except PickRefused as exc:
        await w.session.rollback()
        raise conflict(str(exc), field="scan_id", message=str(exc)) from exc
    if known is None:
        return None
    await w.commit(f"package.{kind}.retry", "scan", scan_id, {"ref": ref})
    return _response(DeviceScan.REFUSED if known.refused else DeviceScan.ANSWERED, known.body)


def _response(status_code: int, body: dict[str, Any]) -> JSONResponse:
    media = "application/problem+json" if status_code >= 400 else "application/json"
    return JSONResponse(status_code=status_code, content=body, media_type=media)


async def _store(
    w: Writer, scan_id: str, kind: str, ref: str, answer: tuple[int, dict[str, Any]]
) -> JSONResponse:
    status_code, body = answer
    kept = await w.session.scalar(
        insert(DeviceScan)
        .values(
            scan_id=scan_id,
            device=w.actor,
            kind=kind,
            ref_no=ref,
            status_code=status_code,
            response=body,
        )
        .on_conflict_do_nothing(index_elements=[DeviceScan.scan_id])
        .returning(DeviceScan.scan_id)
    )
    if kept is None:  # the same action, sent again, was answered first: its answer stands
        known = await _stored_answer(w, scan_id, kind, ref)
        assert known is not None
        return known
    await w.commit(f"package.{kind}.scan", "scan", scan_id, {"ref": ref, "status": status_code})
    return _response(status_code, body)


@router.post("/{package_no}/check/scans", responses=STORED)
async def scan_unit(package_no: NoParam, body: UnitIn, w: Station) -> JSONResponse:
    """One unit into the box: refused (and kept out) when the package holds no such SKU or
    already has every unit of it."""
    package = await _package(w.session, w.principal, package_no, lock=True)
    if (known := await _stored_answer(w, body.scan_id, "verify", package_no)) is not None:
        return known
    if package.status not in CHECKABLE:
        await w.session.rollback()
        raise conflict(
            f"package {package_no} is {package.status}: nothing to check",
            reason="nothing_to_check",
            package_no=package_no,
        )
    if package.status == "released" and await picked_on_floor(w.session, package_no) is None:
        await w.session.rollback()  # not stored: picking it changes the answer
        raise conflict(
            f"package {package_no} is not picked yet", reason="not_picked", package_no=package_no
        )
    view = await check_view(w.session, package)
    line = next((x for x in view["lines"] if x["sku_barcode"] == body.sku_barcode), None)
    if line is None:
        answer = _refused(
            "wrong_unit", f"{body.sku_barcode} does not belong in package {package_no}", view
        )
    elif line["scanned"] >= line["quantity"]:
        answer = _refused(
            "unit_surplus",
            f"package {package_no} already holds all {line['quantity']} of {line['sku_code']}",
            view,
        )
    else:
        check = await w.session.get(PackCheck, (package_no, line["sku_id"]), with_for_update=True)
        if check is None:
            w.session.add(PackCheck(package_no=package_no, sku_id=line["sku_id"], scanned=1))
        else:
            check.scanned += 1
        await w.session.flush()
        view = await check_view(w.session, package)
        answer = 200, {"scan_id": body.scan_id, "accepted": True, "sku_code": line["sku_code"]}
        answer[1]["check"] = view
    return await _store(w, body.scan_id, "verify", package_no, answer)


@router.post("/{package_no}/verified-pack", responses=STORED)
async def verified_pack(
    package_no: NoParam, body: VerifiedPackIn, deps: Deps, w: Station
) -> JSONResponse:
    """Pack with the measured weight once every unit is in the box (the label prints from the
    answer's waybill; outside the weight tolerance the package waits on a manager). A missing
    unit is refused and nothing is packed."""
    package = await _package(w.session, w.principal, package_no, lock=True)
    if (known := await _stored_answer(w, body.scan_id, "pack", package_no)) is not None:
        return known
    view = await check_view(w.session, package)
    if not view["complete"]:
        missing = [
            {"sku_code": x["sku_code"], "missing": x["quantity"] - x["scanned"]}
            for x in view["lines"]
            if x["scanned"] < x["quantity"]
        ]
        answer = _refused(
            "units_missing",
            f"package {package_no} misses {sum(m['missing'] for m in missing)} unit(s)",
            view,
            missing=missing,
        )
        return await _store(w, body.scan_id, "pack", package_no, answer)
    if package.status in CHECKABLE:
        await w.session.commit()  # never hold the package's lock while the workflow packs
        pack = PackIn(measured_weight_g=body.measured_weight_g)
        try:
            shown = await packages.pack(package_no, pack, deps, w)
        except Problem as refusal:
            # The same pack sent again while the first was being packed (its answer was lost
            # on the way): packed meanwhile at this weight, the package as it stands answers.
            again = await _packed_meanwhile(w, package_no, body.measured_weight_g)
            if refusal.status != 409 or again is None:
                raise
            result = again
        else:
            result = shown.model_dump(mode="json")
    else:
        # Packed already (this pack's answer was lost before it was stored): the package as
        # it stands is the answer.
        result = ShipmentPublic.model_validate(package).model_dump(mode="json")
    return await _store(w, body.scan_id, "pack", package_no, (200, result))


async def _packed_meanwhile(w: Writer, package_no: str, weight_g: int) -> dict[str, Any] | None:
    package = await w.session.get(Package, package_no, populate_existing=True)
    packed = ("packed", "waybill_created", "weight_hold")
    if package is None or package.status not in packed or package.measured_weight_g != weight_g:
        return None
    return ShipmentPublic.model_validate(package).model_dump(mode="json")


@router.post("/{package_no}/check/override", response_model=CheckView)
async def override_check(
    package_no: NoParam,
    body: CheckOverrideIn,
    w: Annotated[Writer, Depends(writer("packages.override"))],
) -> dict[str, Any]:
    """A manager takes the units not yet scanned into the box as checked (a label the scanner
    cannot read, say, checked by eye): the pack may go on. Audited with the reason and the
    units it covered; a package whose box is already complete is refused."""
    package = await _package(w.session, w.principal, package_no, lock=True)
    if package.status not in CHECKABLE:
        raise conflict(
            f"package {package_no} is {package.status}: nothing to check",
            reason="nothing_to_check",
            package_no=package_no,
        )
    if package.status == "released" and await picked_on_floor(w.session, package_no) is None:
        raise conflict(
            f"package {package_no} is not picked yet", reason="not_picked", package_no=package_no
        )
    view = await check_view(w.session, package)
    open_lines = [x for x in view["lines"] if x["scanned"] < x["quantity"]]
    if not open_lines:
        raise conflict(
            f"every unit of package {package_no} is in the box already",
            reason="box_complete",
            package_no=package_no,
        )
    for line in open_lines:
        check = await w.session.get(PackCheck, (package_no, line["sku_id"]), with_for_update=True)
        if check is None:
            w.session.add(
                PackCheck(package_no=package_no, sku_id=line["sku_id"], scanned=line["quantity"])
            )
        else:
            check.scanned = line["quantity"]
    await w.session.flush()
    units = {x["sku_code"]: x["quantity"] - x["scanned"] for x in open_lines}
    await w.commit(
        "package.check_override", "package", package_no, {"reason": body.reason, "units": units}
    )
    return await check_view(w.session, package)
