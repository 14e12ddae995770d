"""Admin routes: staff users and roles, API keys, the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.crud import check_refs, get_or_404
from api.deps import Session, Writer, require, writer
from api.errors import invalid
from api.pagination import Paging, fetch_page
from api.passwords import password_refused
from api.routing import Routes
from api.schemas.auth import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    ApiKeysPublic,
    AuditEntryPublic,
    AuditLogPublic,
    UserCreate,
    UserPublic,
    UsersPublic,
    UserUpdate,
)
from api.schemas.types import IdParam, Instant, TextParam
from core.security import hash_api_key, hash_password, new_api_key
from models.db import ApiKey, AuditEntry, Role, User, UserRole, UserWarehouse, Warehouse
from models.domain.access import KEY_ROLES

router = Routes(prefix="/v1/admin", tags=["admin"])
Manage = Annotated[Writer, Depends(writer("users.manage"))]


async def _user_public(session: AsyncSession, user: User) -> UserPublic:
    roles = await session.scalars(select(UserRole.role).where(UserRole.user_id == user.id))
    scope = select(UserWarehouse.warehouse_id).where(UserWarehouse.user_id == user.id)
    return UserPublic(
        warehouse_ids=sorted(await session.scalars(scope)),
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        active=user.active,
        roles=sorted(roles),
        last_login_at=user.last_login_at,
        totp_enabled=user.totp_enabled_at is not None,
    )


async def _check_grants(session: AsyncSession, roles: list[str], warehouse_ids: list[int]) -> None:
    """422 naming the first role that is not a staff role (built in or composed) or warehouse
    that does not exist."""
    known = set(await session.scalars(select(Role.name).where(Role.name.in_(roles))))
    for i, role in enumerate(roles):
        if role not in known or role in KEY_ROLES:
            raise invalid(f"roles.{i}", f"no staff role {role!r}", "unknown_role", role=role)
    found = set(await session.scalars(select(Warehouse.id).where(Warehouse.id.in_(warehouse_ids))))
    for i, ident in enumerate(warehouse_ids):
        if ident not in found:
            raise invalid(
                f"warehouse_ids.{i}",
                f"no such warehouse: {ident}",
                "unknown_warehouse",
                warehouse_id=ident,
            )


@router.get("/users", dependencies=[Depends(require("users.manage"))])
async def list_users(session: Session, paging: Paging) -> UsersPublic:
    rows, count = await fetch_page(session, select(User).order_by(User.id), paging)
    return UsersPublic(data=[await _user_public(session, u) for u in rows], count=count)


@router.post("/users", status_code=201)
async def create_user(body: UserCreate, w: Manage) -> UserPublic:
    _check_password(body.password, body.username)
    await _check_grants(w.session, body.roles, body.warehouse_ids)
    user = User(
        username=body.username,
        display_name=body.display_name,
        password_hash=hash_password(body.password),
    )
    w.session.add(user)
    await w.session.flush()
    w.session.add_all(UserRole(user_id=user.id, role=r) for r in set(body.roles))
    w.session.add_all(
        UserWarehouse(user_id=user.id, warehouse_id=i) for i in set(body.warehouse_ids)
    )
    await w.session.flush()
    await w.commit("user.create", "user", user.id, {"roles": sorted(set(body.roles))})
    return await _user_public(w.session, user)


@router.patch("/users/{user_id}")
async def update_user(user_id: IdParam, body: UserUpdate, w: Manage) -> UserPublic:
    user = await get_or_404(w.session, User, user_id, "user")
    await _check_grants(w.session, body.roles or [], body.warehouse_ids or [])
    if user.id == w.principal.id and body.active is False:
        raise invalid("active", "you cannot deactivate yourself", "not_on_yourself")
    if body.display_name is not None:
        user.display_name = body.display_name
    if body.active is not None:
        user.active = body.active
    if body.password is not None:
        _check_password(body.password, user.username)
        user.password_hash = hash_password(body.password)
    if body.password is not None or body.active is False:
        user.token_version += 1  # the user's sessions end at their next request
    if body.roles is not None:
        await w.session.execute(delete(UserRole).where(UserRole.user_id == user.id))
        w.session.add_all(UserRole(user_id=user.id, role=r) for r in set(body.roles))
    if body.warehouse_ids is not None:
        await w.session.execute(delete(UserWarehouse).where(UserWarehouse.user_id == user.id))
        w.session.add_all(
            UserWarehouse(user_id=user.id, warehouse_id=i) for i in set(body.warehouse_ids)
        )
    await w.session.flush()
    changed = sorted(body.model_dump(exclude_unset=True, exclude={"password"}))
    detail = {"fields": changed + (["password"] if body.password is not None else [])}
    await w.commit("user.update", "user", user.id, detail)
    return await _user_public(w.session, user)


def _check_password(password: str, username: str) -> None:
    if (refused := password_refused("password", password, username)) is not None:
        raise refused


@router.get("/api-keys", dependencies=[Depends(require("users.manage"))])
async def list_api_keys(session: Session, paging: Paging) -> ApiKeysPublic:
    rows, count = await fetch_page(session, select(ApiKey).order_by(ApiKey.id), paging)
    return ApiKeysPublic(data=[ApiKeyPublic.model_validate(k) for k in rows], count=count)


@router.post("/api-keys", status_code=201)
async def create_api_key(body: ApiKeyCreate, w: Manage) -> ApiKeyCreated:
    if body.role == "device" and body.warehouse_id is None:
        raise invalid(
            "warehouse_id", "a device key is bound to one warehouse", "device_key_needs_warehouse"
        )
    if body.role == "storefront" and body.warehouse_id is not None:
        raise invalid(
            "warehouse_id",
            "a storefront key is not bound to a warehouse",
            "storefront_key_has_warehouse",
        )
    await check_refs(w.session, {"warehouse_id": (Warehouse, body.warehouse_id)})
    key, prefix = new_api_key()
    row = ApiKey(
        name=body.name,
        prefix=prefix,
        key_hash=hash_api_key(key),
        role=body.role,
        warehouse_id=body.warehouse_id,
    )
    w.session.add(row)
    await w.session.flush()
    await w.commit("api_key.create", "api_key", row.id, {"role": body.role})
    return ApiKeyCreated(**ApiKeyPublic.model_validate(row).model_dump(), key=key)


@router.delete("/api-keys/{key_id}")
async def revoke_api_key(key_id: IdParam, w: Manage) -> ApiKeyPublic:
    row = await get_or_404(w.session, ApiKey, key_id, "api key")
    row.active = False
    await w.commit("api_key.revoke", "api_key", row.id)
    return ApiKeyPublic.model_validate(row)


@router.get("/audit-log", dependencies=[Depends(require("audit.read"))])
async def audit_log(
    session: Session,
    paging: Paging,
    actor_name: TextParam | None = None,
    action: TextParam | None = None,
    object_type: TextParam | None = None,
    object_id: TextParam | None = None,
    since: Instant | None = None,
    until: Instant | None = None,
    client_ip: TextParam | None = None,
) -> AuditLogPublic:
    query = select(AuditEntry).order_by(AuditEntry.id.desc())
    for column, value in (
        (AuditEntry.actor_name, actor_name),
        (AuditEntry.action, action),
        (AuditEntry.object_type, object_type),
        (AuditEntry.object_id, object_id),
        (AuditEntry.client_ip, client_ip),
    ):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    rows, count = await fetch_page(session, query, paging)
    return AuditLogPublic(data=[AuditEntryPublic.model_validate(r) for r in rows], count=count)
