"""Admin routes for roles (DESIGN §9): the built-in roles are presets, read-only here; an admin
composes further roles from the composable permissions and assigns them through the users API.
A composed role is deleted only once nobody holds it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.crud import get_or_404
from api.deps import Principal, Session, Writer, require, writer
from api.errors import conflict, invalid
from api.routing import Routes
from api.schemas.roles import (
    GrantsPublic,
    PermissionsPublic,
    RoleCreate,
    RolePublic,
    RolesPublic,
    RoleUpdate,
)
from api.schemas.types import NoParam
from models.db import Role, RolePermission, UserRole
from models.domain.access import COMPOSABLE_PERMISSIONS, KEY_ONLY_PERMISSIONS, preset

router = Routes(tags=["admin"])
Manage = Annotated[Writer, Depends(writer("users.manage"))]


def _checked(permissions: list[str]) -> list[str]:
    """The permissions, each once, sorted; 422 naming the first that cannot be composed."""
    for i, permission in enumerate(permissions):
        if permission in KEY_ONLY_PERMISSIONS:
            raise invalid(
                f"permissions.{i}",
                f"{permission} is held only by storefront or device keys",
                "key_only_permission",
                permission=permission,
            )
        if permission not in COMPOSABLE_PERMISSIONS:
            raise invalid(
                f"permissions.{i}",
                f"unknown permission {permission!r}",
                "unknown_permission",
                permission=permission,
            )
    return sorted(set(permissions))


async def _public(session: AsyncSession, role: Role) -> RolePublic:
    if role.built_in:
        permissions = sorted(preset(role.name))
    else:
        query = select(RolePermission.permission).where(RolePermission.role == role.name)
        permissions = sorted(await session.scalars(query))
    return RolePublic(
        name=role.name,
        description=role.description,
        built_in=role.built_in,
        permissions=permissions,
    )


async def _composed(session: AsyncSession, name: str) -> Role:
    role = await get_or_404(session, Role, name, "role")
    if role.built_in:
        raise conflict(
            f"role {name} is built in: a preset cannot be changed; compose a new role",
            reason="role_built_in",
            role=name,
        )
    return role


@router.get("/v1/auth/grants")
async def my_grants(who: Annotated[Principal, Depends(require("self.read"))]) -> GrantsPublic:
    """The caller's roles, every permission they grant (presets and composed), and data scope."""
    scope = who.warehouse_scope
    return GrantsPublic(
        roles=sorted(who.roles),
        permissions=sorted(who.permissions),
        warehouse_ids=sorted(scope) if scope is not None else None,
    )


@router.get("/v1/admin/permissions", dependencies=[Depends(require("users.manage"))])
async def list_permissions() -> PermissionsPublic:
    return PermissionsPublic(
        composable=sorted(COMPOSABLE_PERMISSIONS), key_only=sorted(KEY_ONLY_PERMISSIONS)
    )


@router.get("/v1/admin/roles", dependencies=[Depends(require("users.manage"))])
async def list_roles(session: Session) -> RolesPublic:
    roles = (await session.scalars(select(Role).order_by(Role.built_in.desc(), Role.name))).all()
    return RolesPublic(data=[await _public(session, r) for r in roles], count=len(roles))


@router.get("/v1/admin/roles/{name}", dependencies=[Depends(require("users.manage"))])
async def get_role(name: NoParam, session: Session) -> RolePublic:
    return await _public(session, await get_or_404(session, Role, name, "role"))


@router.post("/v1/admin/roles", status_code=201)
async def create_role(body: RoleCreate, w: Manage) -> RolePublic:
    permissions = _checked(body.permissions)
    if await w.session.get(Role, body.name) is not None:
        raise conflict(
            f"role {body.name} exists", field="name", reason="role_exists", role=body.name
        )
    role = Role(name=body.name, description=body.description, built_in=False)
    w.session.add(role)
    await w.session.flush()
    w.session.add_all(RolePermission(role=role.name, permission=p) for p in permissions)
    await w.session.flush()
    await w.commit("role.create", "role", role.name, {"permissions": permissions})
    return await _public(w.session, role)


@router.patch("/v1/admin/roles/{name}")
async def update_role(name: NoParam, body: RoleUpdate, w: Manage) -> RolePublic:
    role = await _composed(w.session, name)
    detail: dict[str, object] = {}
    if body.description is not None:
        role.description = detail["description"] = body.description
    if body.permissions is not None:
        permissions = _checked(body.permissions)
        await w.session.execute(delete(RolePermission).where(RolePermission.role == name))
        w.session.add_all(RolePermission(role=name, permission=p) for p in permissions)
        detail["permissions"] = permissions
    await w.session.flush()
    await w.commit("role.update", "role", name, detail)
    return await _public(w.session, role)


@router.delete("/v1/admin/roles/{name}", status_code=204)
async def delete_role(name: NoParam, w: Manage) -> None:
    role = await _composed(w.session, name)
    holders = await w.session.scalar(
        select(func.count()).select_from(UserRole).where(UserRole.role == name)
    )
    if holders:
        raise conflict(
            f"role {name} is held by {holders} user(s): take it from them first",
            reason="role_held",
            role=name,
            holders=holders,
        )
    await w.session.delete(role)
    await w.commit("role.delete", "role", name)
