"""Roles an admin composes from permissions (DESIGN §9: roles are data)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from api.pagination import Page
from api.schemas.common import Public, Strict

# Any script (roles are named by people: 仓库只读); no commas, they join role lists in actors.
RoleName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[^,\s]+$")
]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
PermissionName = Annotated[str, StringConstraints(min_length=1, max_length=48)]


class RoleCreate(Strict):
    name: RoleName
    description: Description = ""
    permissions: Annotated[list[PermissionName], Field(min_length=1, max_length=100)]


class RoleUpdate(Strict):
    description: Description | None = None
    permissions: Annotated[list[PermissionName], Field(min_length=1, max_length=100)] | None = None


class RolePublic(Public):
    name: str
    description: str
    built_in: bool = Field(description="a preset: its permissions are fixed, it cannot be deleted")
    permissions: list[str]


RolesPublic = Page[RolePublic]


class GrantsPublic(Public):
    """What the caller may do and where: the console's menus follow it."""

    roles: list[str]
    permissions: list[str]
    warehouse_ids: list[int] | None = Field(description="None: every warehouse")


class PermissionsPublic(Public):
    composable: list[str] = Field(description="what a composed role may hold")
    key_only: list[str] = Field(description="held only by storefront or device keys")
