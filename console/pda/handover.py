"""Handing over to the carrier by manifest (交接单): choose or open a manifest for a carrier,
scan each labelled package onto it (package or tracking number), hand them over together,
print the manifest the driver signs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from console.client import ApiClient, Forbidden, NotFound, Refused
from console.pda.common import Csrf, DeviceApi, ScanIdField, back, page, whoami
from console.security import check_csrf

router = APIRouter()
WAITING_LIMIT = 200  # labelled packages looked at to offer their carriers


async def _carriers_waiting(api: ApiClient, warehouse_id: int) -> list[tuple[str, int]]:
    """The carriers labelled packages of this warehouse wait for, and how many wait."""
    where = {"warehouse_id": warehouse_id, "status": "waybill_created", "limit": WAITING_LIMIT}
    waiting: dict[str, int] = {}
    for package in (await api.get("/v1/packages", where))["data"]:
        waiting[package["carrier_code"]] = waiting.get(package["carrier_code"], 0) + 1
    return sorted(waiting.items())


@router.get("/handover", response_class=HTMLResponse)
async def handover_start(request: Request, api: DeviceApi, msg: str | None = None) -> Response:
    """The open manifests of this warehouse to go on with, or a new one for a carrier."""
    me = await whoami(api)
    warehouse_id = int(me["warehouse_id"])
    where = {"warehouse_id": warehouse_id, "status": "open", "limit": 20}
    manifests = (await api.get("/v1/manifests", where))["data"]
    return page(
        request,
        "pda/handover_start.html",
        device=me,
        manifests=manifests,
        carriers=await _carriers_waiting(api, warehouse_id),
        msg=msg,
        result="error" if msg else None,
    )


@router.post("/handover")
async def handover_open(
    request: Request,
    api: DeviceApi,
    scan_id: ScanIdField,
    csrf: Csrf = "",
    carrier: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    """A new manifest for the carrier chosen (or scanned); the screen's id makes a resend the
    same manifest."""
    check_csrf(request, csrf)
    me = await whoami(api)
    code = carrier.strip().upper()
    if not code:
        return back(request, "/handover", msg="carrier")
    body: dict[str, Any] = {
        "warehouse_id": int(me["warehouse_id"]),
        "carrier_code": code,
        "request_id": scan_id,
    }
    if note.strip():
        body["note"] = note.strip()[:200]
    try:
        opened = await api.post("/v1/manifests", body)
    except Refused:
        return back(request, "/handover", msg="carrier")
    return back(request, f"/handover/{opened['manifest_no']}")


@router.get("/handover/{manifest_no}", response_class=HTMLResponse)
async def handover_page(
    request: Request,
    manifest_no: str,
    api: DeviceApi,
    msg: str | None = None,
    ok: bool | None = None,
    last: str | None = None,
) -> Response:
    """The manifest so far: the count, the last package scanned, the scan input; hand over
    and print."""
    me = await whoami(api)
    try:
        manifest = await api.get(f"/v1/manifests/{manifest_no}")
    except (NotFound, Forbidden):
        return back(request, "/handover", msg="no_manifest")
    on = [p for p in manifest["packages"] if p["status"] in ("scanned", "handed_over")]
    failed = [p for p in manifest["packages"] if p["failure"]]
    return page(
        request,
        "pda/handover.html",
        device=me,
        manifest=manifest,
        on=list(reversed(on)),
        failed=failed,
        last=last,
        msg=msg,
        result=None if ok is None else ("ok" if ok else "error"),
    )


@router.post("/handover/{manifest_no}/scan")
async def handover_scan(
    request: Request,
    manifest_no: str,
    api: DeviceApi,
    scan_id: ScanIdField,
    csrf: Csrf = "",
    code: Annotated[str, Form()] = "",
) -> Response:
    """One package onto the manifest, by the screen's id: sent twice, it is on it once."""
    check_csrf(request, csrf)
    scanned = code.strip()
    if not scanned or not scanned.isascii() or len(scanned) > 64:
        return back(request, f"/handover/{manifest_no}", ok=False, msg="unknown_package")
    try:
        answer = await api.post(
            f"/v1/manifests/{manifest_no}/packages", {"scan_id": scan_id, "code": scanned}
        )
    except Refused as refusal:
        error = str(refusal.problem.get("error") or "refused")
        return back(request, f"/handover/{manifest_no}", ok=False, msg=error, last=scanned)
    path = f"/handover/{manifest_no}"
    return back(request, path, ok=True, msg="scanned", last=answer["package_no"])


@router.post("/handover/{manifest_no}/remove")
async def handover_remove(
    request: Request,
    manifest_no: str,
    api: DeviceApi,
    csrf: Csrf = "",
    package_no: Annotated[str, Form()] = "",
) -> Response:
    """Take a package off the open manifest (put it aside; it may go on another one)."""
    check_csrf(request, csrf)
    number = package_no.strip()
    if not number.isalnum():
        return back(request, f"/handover/{manifest_no}", ok=False, msg="unknown_package")
    try:
        await api.send("DELETE", f"/v1/manifests/{manifest_no}/packages/{number}")
    except NotFound:
        return back(request, f"/handover/{manifest_no}", ok=False, msg="not_on_manifest")
    except Refused as refusal:
        error = str(refusal.problem.get("error") or "refused")
        return back(request, f"/handover/{manifest_no}", ok=False, msg=error)
    return back(request, f"/handover/{manifest_no}", ok=True, msg="removed", last=number)


@router.post("/handover/{manifest_no}/hand-over")
async def handover_go(
    request: Request, manifest_no: str, api: DeviceApi, csrf: Csrf = ""
) -> Response:
    """Every package on the manifest to the carrier; one that cannot go is shown, in red."""
    check_csrf(request, csrf)
    try:
        answer = await api.post(f"/v1/manifests/{manifest_no}/hand-over")
    except Refused as refusal:
        error = str(refusal.problem.get("error") or "refused")
        return back(request, f"/handover/{manifest_no}", ok=False, msg=error)
    if answer["failed"]:
        return back(request, f"/handover/{manifest_no}", ok=False, msg="some_failed")
    return back(request, f"/handover/{manifest_no}", ok=True, msg="handed_over")


@router.get("/handover/{manifest_no}/manifest.pdf")
async def handover_pdf(manifest_no: str, api: DeviceApi) -> Response:
    """The manifest for the driver to sign, for the browser's print."""
    await whoami(api)
    content, kind = await api.get_bytes(f"/v1/manifests/{manifest_no}/manifest.pdf")
    return Response(content, media_type=kind or "application/pdf")
