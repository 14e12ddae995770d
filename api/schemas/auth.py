"""Login, users, API keys and audit log schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from api.pagination import Page
from api.schemas.common import Public, ShortName, Strict
from api.schemas.types import Id

Username = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9_.\-]{2,64}$")]
Password = Annotated[str, StringConstraints(min_length=8, max_length=200)]
StaffRole = Literal["admin", "ops", "purchasing", "finance", "cs", "warehouse_manager"]


class LoginRequest(Strict):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class TokenPublic(Public):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a token kind, not a secret
    expires_at: datetime
    roles: list[str]


class MePublic(Public):
    kind: str
    id: int
    name: str
    roles: list[str]
    warehouse_id: int | None


class UserCreate(Strict):
    username: Username
    display_name: ShortName
    password: Password
    roles: Annotated[list[StaffRole], Field(min_length=1)]


class UserUpdate(Strict):
    display_name: ShortName | None = None
    password: Password | None = None
    roles: Annotated[list[StaffRole], Field(min_length=1)] | None = None
    active: bool | None = None


class UserPublic(Public):
    id: int
    username: str
    display_name: str
    active: bool
    roles: list[str]
    last_login_at: datetime | None


class ApiKeyCreate(Strict):
    name: ShortName
    role: Literal["storefront", "device"]
    warehouse_id: Id | None = None


class ApiKeyPublic(Public):
    id: int
    name: str
    prefix: str
    role: str
    warehouse_id: int | None
    active: bool
    created_at: datetime


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="Shown once; only its hash is stored")


class AuditEntryPublic(Public):
    id: int
    at: datetime
    actor_type: str
    actor_id: str
    actor_name: str
    roles: list[str]
    action: str
    method: str
    path: str
    object_type: str
    object_id: str
    status_code: int
    client_ip: str
    detail: dict[str, Any]


UsersPublic = Page[UserPublic]
ApiKeysPublic = Page[ApiKeyPublic]
AuditLogPublic = Page[AuditEntryPublic]
