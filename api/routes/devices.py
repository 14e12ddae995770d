"""Handheld devices (DESIGN §3a): the warehouse manager creates a device and is shown a one-time
pairing code (and its QR); the handheld exchanges the code, once and before it expires, for its
own API key, which it keeps in its session and nobody types or sees. A worker signs in on the
device with their badge: from then on the device's audit rows and timeline steps name the
worker too. Revoking a device deactivates its key at once."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.deps import Principal, Session, Writer, audit_entry, in_scope, require, writer
from api.errors import Problem, conflict, not_found
from api.routing import Routes
from api.schemas.types import Id, IdParam, ShortName, Text
from core.security import hash_api_key, new_api_key
from core.totp import qr_png
from models.db import ApiKey, Device, StaffBadge, User, UserWarehouse, Warehouse

router = Routes(tags=["devices"])
PAIRING_TTL: Final = timedelta(minutes=10)
_ALPHABET: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a screen
CODE_PATTERN: Final = r"^[A-Za-z0-9-]{8,9}$"
Manager = Annotated[Writer, Depends(writer("warehouse.write"))]
Handheld = Annotated[Writer, Depends(writer("devices.self"))]
PairingCode = Annotated[Text, Field(min_length=8, max_length=9, pattern=CODE_PATTERN)]
BadgeCode = Annotated[Text, Field(min_length=4, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
QR: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {}}, "description": "the pairing code as a QR code"}
}


class DeviceIn(BaseModel):
    name: ShortName


class DeviceView(BaseModel):
    id: int
    name: str
    warehouse_id: int
    status: str  # pending (not paired yet) / paired / revoked
    created_by: str
    created_at: datetime
    paired_at: datetime | None
    revoked_at: datetime | None
    worker: str | None = None


class DeviceCreated(DeviceView):
    pairing_code: str = Field(description="shown once: the handheld scans or types it")
    pairing_expires_at: datetime
    qr_png_url: str


class PairIn(BaseModel):
    code: PairingCode


class Paired(BaseModel):
    device_id: int
    name: str
    warehouse_id: int
    api_key: str = Field(description="the device's own key, given once: kept by the handheld")


class BadgeIn(BaseModel):
    user_id: Id
    badge_code: BadgeCode


class BadgeView(BaseModel):
    badge_code: str
    user_id: int
    username: str
    display_name: str
    warehouse_id: int


class SignInIn(BaseModel):
    badge_code: BadgeCode


class DeviceMe(BaseModel):
    device_id: int | None
    name: str
    warehouse_id: int
    warehouse_name: str
    worker: str | None
    worker_name: str | None


def _now() -> datetime:
    return datetime.now(UTC)


def _code_hash(code: str) -> str:
    return hashlib.sha256(normal_code(code).encode()).hexdigest()


def normal_code(code: str) -> str:
    """As printed (K7QX-3M9P) or typed in lower case: the same code."""
    return code.replace("-", "").upper()


def _new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def _status(device: Device) -> str:
    if device.revoked_at is not None:
        return "revoked"
    return "paired" if device.paired_at is not None else "pending"


def _view(device: Device, worker: str | None = None) -> DeviceView:
    return DeviceView(
        id=device.id,
        name=device.name,
        warehouse_id=device.warehouse_id,
        status=_status(device),
        created_by=device.created_by,
        created_at=device.created_at,
        paired_at=device.paired_at,
        revoked_at=device.revoked_at,
        worker=worker,
    )


async def _warehouse(session: Session, who: Principal, warehouse_id: int) -> Warehouse:
    warehouse = await session.get(Warehouse, warehouse_id)
    if warehouse is None:
        raise not_found("warehouse", warehouse_id)
    if not who.can_see_warehouse(warehouse_id):
        raise Problem(403, f"warehouse {warehouse_id} is outside your data scope")
    return warehouse


# --- the manager's side --------------------------------------------------------------------


@router.post("/v1/warehouses/{warehouse_id}/devices", status_code=201)
async def create_device(warehouse_id: IdParam, body: DeviceIn, w: Manager) -> DeviceCreated:
    """A new handheld of the warehouse and its one-time pairing code (good for 10 minutes)."""
    await _warehouse(w.session, w.principal, warehouse_id)
    code = _new_code()
    device = Device(
        name=body.name,
        warehouse_id=warehouse_id,
        pairing_code_hash=_code_hash(code),
        pairing_expires_at=_now() + PAIRING_TTL,
        created_by=w.actor,
    )
    w.session.add(device)
    await w.session.flush()
    await w.session.refresh(device)
    view = _view(device)
    await w.commit("device.create", "device", device.id, {"name": body.name})
    return DeviceCreated(
        **view.model_dump(),
        pairing_code=code,
        pairing_expires_at=device.pairing_expires_at or _now(),
        qr_png_url=f"/v1/devices/{device.id}/pairing-qr.png",
    )


@router.get("/v1/devices")
async def list_devices(
    session: Session,
    who: Annotated[Principal, Depends(require("warehouse.write"))],
    warehouse_id: Annotated[IdParam | None, Query()] = None,
) -> dict[str, Any]:
    listed: Any = select(Device, User.username).outerjoin(User, User.id == Device.worker_user_id)
    query = in_scope(who, listed, Device.warehouse_id, warehouse_id).order_by(Device.id)
    rows = (await session.execute(query)).all()
    data = [_view(device, worker).model_dump(mode="json") for device, worker in rows]
    return {"data": data, "count": len(data)}


@router.get("/v1/devices/{device_id}/pairing-qr.png", response_class=Response, responses=QR)
async def pairing_qr(
    device_id: IdParam,
    code: Annotated[PairingCode, Query()],
    session: Session,
    who: Annotated[Principal, Depends(require("warehouse.write"))],
) -> Response:
    """The pending pairing code as a QR code, for the console to show next to it (the code is
    given by the caller: only its hash is kept)."""
    device = await session.get(Device, device_id)
    if device is None or not who.can_see_warehouse(device.warehouse_id):
        raise not_found("device", device_id)
    if device.pairing_code_hash != _code_hash(code) or _status(device) != "pending":
        raise not_found("pairing code of device", device_id)
    return Response(
        qr_png(normal_code(code)), media_type="image/png", headers={"Cache-Control": "no-store"}
    )


@router.post("/v1/devices/{device_id}/revoke")
async def revoke_device(device_id: IdParam, w: Manager) -> DeviceView:
    """The device can do nothing more: its key is deactivated, its worker signed out."""
    device = await w.session.get(Device, device_id, with_for_update=True)
    if device is None or not w.principal.can_see_warehouse(device.warehouse_id):
        raise not_found("device", device_id)
    if device.revoked_at is None:
        device.revoked_at = _now()
        device.pairing_code_hash = device.pairing_expires_at = None
        device.worker_user_id = device.worker_signed_in_at = None
        if device.api_key_id is not None:
            key = await w.session.get(ApiKey, device.api_key_id)
            if key is not None:
                key.active = False
    view = _view(device)
    await w.commit("device.revoke", "device", device_id)
    return view


@router.post("/v1/warehouses/{warehouse_id}/badges", status_code=201)
async def give_badge(warehouse_id: IdParam, body: BadgeIn, w: Manager) -> BadgeView:
    """A staff member's badge in this warehouse (a new one replaces their old one)."""
    warehouse = await _warehouse(w.session, w.principal, warehouse_id)
    user = await w.session.get(User, body.user_id)
    if user is None or not user.active:
        raise not_found("user", body.user_id)
    scope = set(
        await w.session.scalars(
            select(UserWarehouse.warehouse_id).where(UserWarehouse.user_id == user.id)
        )
    )
    if scope and warehouse_id not in scope:
        raise conflict(
            f"user {user.username} does not work in warehouse {warehouse_id}",
            reason="not_in_warehouse",
            user=user.display_name or user.username,
            warehouse=warehouse.name,
        )
    taken = await w.session.get(StaffBadge, body.badge_code)
    if taken is not None and taken.user_id != user.id:
        raise conflict(
            f"badge {body.badge_code} belongs to someone else",
            field="badge_code",
            reason="badge_taken",
            badge=body.badge_code,
        )
    old = await w.session.scalar(
        select(StaffBadge).where(
            StaffBadge.user_id == user.id, StaffBadge.warehouse_id == warehouse_id
        )
    )
    if old is not None and old.badge_code != body.badge_code:
        await w.session.delete(old)
        await w.session.flush()
    if taken is None or taken.warehouse_id != warehouse_id:
        if taken is not None:
            await w.session.delete(taken)
            await w.session.flush()
        w.session.add(
            StaffBadge(badge_code=body.badge_code, user_id=user.id, warehouse_id=warehouse_id)
        )
    view = BadgeView(
        badge_code=body.badge_code,
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        warehouse_id=warehouse_id,
    )
    await w.commit("badge.give", "user", user.id, {"warehouse_id": warehouse_id})
    return view


@router.get("/v1/warehouses/{warehouse_id}/badges")
async def list_badges(
    warehouse_id: IdParam,
    session: Session,
    who: Annotated[Principal, Depends(require("warehouse.write"))],
) -> dict[str, Any]:
    await _warehouse(session, who, warehouse_id)
    rows = await session.execute(
        select(StaffBadge, User)
        .join(User, User.id == StaffBadge.user_id)
        .where(StaffBadge.warehouse_id == warehouse_id)
        .order_by(User.username)
    )
    data = [
        BadgeView(
            badge_code=badge.badge_code,
            user_id=user.id,
            username=user.username,
            display_name=user.display_name,
            warehouse_id=warehouse_id,
        ).model_dump()
        for badge, user in rows
    ]
    return {"data": data, "count": len(data)}


# --- the handheld's side -------------------------------------------------------------------


@router.post("/v1/devices/pair", responses={404: {"description": "no such pending code"}})
async def pair(body: PairIn, request: Request, session: Session) -> Paired:
    """The one-time code for the device's own key: a code works once, and only until it
    expires or the device is revoked."""
    device = await session.scalar(
        select(Device).where(Device.pairing_code_hash == _code_hash(body.code)).with_for_update()
    )
    if (
        device is None
        or _status(device) != "pending"
        or device.pairing_expires_at is None
        or device.pairing_expires_at <= _now()
    ):
        await session.rollback()
        raise Problem(404, "no such pairing code, or it has expired", type_="/problems/not-found")
    key, prefix = new_api_key()
    row = ApiKey(
        name=device.name,
        prefix=prefix,
        key_hash=hash_api_key(key),
        role="device",
        warehouse_id=device.warehouse_id,
    )
    session.add(row)
    await session.flush()
    device.api_key_id, device.paired_at = row.id, _now()
    device.pairing_code_hash = device.pairing_expires_at = None
    paired = Paired(
        device_id=device.id, name=device.name, warehouse_id=device.warehouse_id, api_key=key
    )
    session.add(
        audit_entry(
            request,
            None,
            action="device.pair",
            status_code=200,
            object_type="device",
            object_id=str(device.id),
            detail={"name": device.name, "warehouse_id": device.warehouse_id},
        )
    )
    await session.commit()
    request.state.audited = True
    return paired


async def _my_device(w: Writer) -> Device:
    device = await w.session.scalar(
        select(Device).where(Device.api_key_id == w.principal.id).with_for_update()
    )
    if device is None or w.principal.kind != "api_key":
        raise conflict("this key is not a paired device: pair it from the console")
    return device


async def _me(session: Session, who: Principal) -> DeviceMe:
    if who.warehouse_id is None:
        raise Problem(403, "this key is not bound to a warehouse", type_="/problems/forbidden")
    # One query (a handheld page asks on every screen): the warehouse, the key's device if it is
    # one, and the worker signed in on it.
    found = (
        await session.execute(
            select(Warehouse.name, Device.id, User.username, User.display_name)
            .select_from(Warehouse)
            .outerjoin(Device, Device.api_key_id == who.id)
            .outerjoin(User, User.id == Device.worker_user_id)
            .where(Warehouse.id == who.warehouse_id)
        )
    ).first()
    assert found is not None
    warehouse_name, device_id, username, display_name = found
    return DeviceMe(
        device_id=device_id,
        name=who.name,
        warehouse_id=who.warehouse_id,
        warehouse_name=warehouse_name,
        worker=username,
        worker_name=(display_name or username) if username else None,
    )


@router.get("/v1/devices/me")
async def device_me(
    session: Session, who: Annotated[Principal, Depends(require("devices.self"))]
) -> DeviceMe:
    """The device, its warehouse and the worker signed in on it."""
    return await _me(session, who)


@router.post("/v1/devices/me/sign-in")
async def sign_in(body: SignInIn, w: Handheld) -> DeviceMe:
    """The worker whose badge this is signs in on the device (replacing whoever was)."""
    device = await _my_device(w)
    badge = await w.session.get(StaffBadge, body.badge_code)
    user = await w.session.get(User, badge.user_id) if badge is not None else None
    if badge is None or badge.warehouse_id != device.warehouse_id or user is None:
        raise Problem(404, "no such badge in this warehouse", type_="/problems/not-found")
    if not user.active:
        raise Problem(403, "this worker is disabled", type_="/problems/forbidden")
    device.worker_user_id, device.worker_signed_in_at = user.id, _now()
    await w.session.flush()
    me = await _me(w.session, w.principal)
    await w.commit("device.sign_in", "device", device.id, {"worker": user.username})
    return me


@router.post("/v1/devices/me/sign-out")
async def sign_out(w: Handheld) -> DeviceMe:
    device = await _my_device(w)
    device.worker_user_id = device.worker_signed_in_at = None
    await w.session.flush()
    me = await _me(w.session, w.principal)
    await w.commit("device.sign_out", "device", device.id)
    return me
