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
# A built-in staff role or one an admin composed; the route checks it exists (api/routes/admin).
StaffRole = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
WarehouseIds = Annotated[list[Id], Field(max_length=100)]


TotpCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{6}$")]
TokenScope = Literal["full", "totp_enrol"]


class LoginRequest(Strict):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    totp_code: TotpCode | None = Field(
        default=None, description="The authenticator app's code, for users with a second factor"
    )


class TokenPublic(Public):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a token kind, not a secret
    expires_at: datetime
    roles: list[str]
    scope: TokenScope = Field(
        default="full",
        description="totp_enrol: good only for /v1/auth/totp/* until a second factor is enrolled",
    )


class TotpEnrolment(Public):
    secret: str = Field(description="Base32, for typing into an authenticator app by hand")
    otpauth_uri: str
    qr_png_url: str = Field(description="The otpauth URI as a QR code (image/png)")


class TotpConfirm(Strict):
    code: TotpCode


class PasswordChange(Strict):
    current_password: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    new_password: Password


class LoginUnlocked(Public):
    subject: str = Field(description="The username or address unlocked")
    failures_cleared: int


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
    warehouse_ids: WarehouseIds = Field(
        default_factory=list, description="limit the user to these warehouses; empty: all"
    )


class UserUpdate(Strict):
    display_name: ShortName | None = None
    password: Password | None = None
    roles: Annotated[list[StaffRole], Field(min_length=1)] | None = None
    active: bool | None = None
    warehouse_ids: WarehouseIds | None = Field(
        default=None, description="replaces the user's warehouse scope; [] lifts it"
    )


class UserPublic(Public):
    id: int
    username: str
    display_name: str
    active: bool
    roles: list[str]
    last_login_at: datetime | None
    totp_enabled: bool = False
    warehouse_ids: list[int] = Field(default_factory=list, description="empty: all warehouses")


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
