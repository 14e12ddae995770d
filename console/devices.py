"""Warehouse handhelds (mirrors api/routes/devices.py): the manager creates a device and is
shown its one-time pairing code and QR for the handheld to scan at /pda, sees the devices and
who is signed in on each, revokes one, and gives staff the badges they sign in with."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.client import Json, Refused
from console.pages import MenuItem, SignedIn, Viewer, render
from console.security import CSRF_FIELD, check_csrf

router = APIRouter()
MENU = (MenuItem("nav.devices", "/devices", "warehouse.write"),)
Csrf = Annotated[str, Form(alias=CSRF_FIELD)]


async def _warehouses(viewer: Viewer) -> list[Json]:
    listed: list[Json] = (await viewer.api.get("/v1/warehouses"))["data"]
    return listed


def _chosen(warehouses: list[Json], warehouse_id: str | int | None) -> Json | None:
    wanted = str(warehouse_id or "")
    return next((w for w in warehouses if str(w["id"]) == wanted), None) or (
        warehouses[0] if warehouses else None
    )


async def _page(
    request: Request,
    viewer: Viewer,
    warehouse_id: str | int | None,
    status: int = 200,
    **extra: Any,
) -> Response:
    viewer.require("warehouse.write")
    warehouses = await _warehouses(viewer)
    warehouse = _chosen(warehouses, warehouse_id)
    devices: list[Json] = []
    badges: list[Json] = []
    if warehouse is not None:
        devices = (await viewer.api.get("/v1/devices", {"warehouse_id": warehouse["id"]}))["data"]
        badges = (await viewer.api.get(f"/v1/warehouses/{warehouse['id']}/badges"))["data"]
    extra.setdefault("created", None)
    extra.setdefault("message", None)
    return render(
        request,
        "devices/list.html",
        viewer=viewer,
        status=status,
        warehouses=warehouses,
        warehouse=warehouse,
        devices=devices,
        badges=badges,
        **extra,
    )


@router.get("/devices", response_class=HTMLResponse)
async def list_page(request: Request, viewer: SignedIn, warehouse_id: str = "") -> Response:
    return await _page(request, viewer, warehouse_id)


@router.post("/devices", response_class=HTMLResponse)
async def create(
    request: Request,
    viewer: SignedIn,
    csrf: Csrf = "",
    warehouse_id: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
) -> Response:
    """A new device: the page shows its one-time code and QR (only now: the API keeps a hash)."""
    check_csrf(request, csrf)
    if not warehouse_id.isdigit():
        return await _page(request, viewer, None, status=422, message="devices.refused")
    try:
        created = await viewer.api.post(f"/v1/warehouses/{warehouse_id}/devices", {"name": name})
    except Refused as refusal:
        return await _page(
            request, viewer, warehouse_id, status=refusal.status, message=refusal.detail
        )
    return await _page(request, viewer, warehouse_id, status=201, created=created)


@router.get("/devices/{device_id}/pairing-qr.png")
async def pairing_qr(device_id: int, code: str, viewer: SignedIn) -> Response:
    content, kind = await viewer.api.get_bytes(
        f"/v1/devices/{device_id}/pairing-qr.png?{urlencode({'code': code})}"
    )
    return Response(content, media_type=kind, headers={"Cache-Control": "no-store"})


@router.post("/devices/{device_id}/revoke")
async def revoke(
    request: Request,
    device_id: int,
    viewer: SignedIn,
    csrf: Csrf = "",
    warehouse_id: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    await viewer.api.post(f"/v1/devices/{device_id}/revoke")
    root = str(request.scope.get("root_path", ""))
    return RedirectResponse(f"{root}/devices?{urlencode({'warehouse_id': warehouse_id})}", 303)


@router.post("/devices/badges", response_class=HTMLResponse)
async def give_badge(
    request: Request,
    viewer: SignedIn,
    csrf: Csrf = "",
    warehouse_id: Annotated[str, Form()] = "",
    user_id: Annotated[str, Form()] = "",
    badge_code: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    if not warehouse_id.isdigit() or not user_id.strip().isdigit():
        return await _page(request, viewer, warehouse_id, status=422, message="devices.refused")
    body = {"user_id": int(user_id.strip()), "badge_code": badge_code.strip()}
    try:
        await viewer.api.post(f"/v1/warehouses/{warehouse_id}/badges", body)
    except Refused as refusal:
        return await _page(
            request, viewer, warehouse_id, status=refusal.status, message=refusal.detail
        )
    root = str(request.scope.get("root_path", ""))
    return RedirectResponse(f"{root}/devices?{urlencode({'warehouse_id': warehouse_id})}", 303)
