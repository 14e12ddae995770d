"""Request dependencies: the app's wiring, sessions, the authenticated principal, writers.

What routes declare, defined once here (as FastAPI's template does with `SessionDep` and
`CurrentUser`): `Deps` (the app's wiring), `Session`, `CurrentPrincipal`, `VisibleOrder` (the
path's order, if the caller may see it), and `actor_of` (who acts, as workflows record it). A
route's permission stays next to it: `Annotated[Principal, Depends(require("orders.read"))]`."""

# No `from __future__ import annotations` here: FastAPI must resolve the closures' Annotated
# dependencies (`Depends(guard)`) at definition time.

import ipaddress
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any, Literal, TypeVar, cast

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Integer, Select, String, Table, insert, literal, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from temporalio.client import Client

from api.errors import Problem, not_found
from api.schemas.types import NoParam
from core.changes import ChangeFeed
from core.db import Alone, SessionFactory
from core.security import api_key_matches, api_key_prefix, read_token
from models.contracts.order import Actor, OrderPolicy, OrderTimings
from models.contracts.purchasing import PoPolicy, PoTimings
from models.contracts.waves import WaveRules
from models.db import (
    AuditEntry,
    Order,
    RolePermission,
    User,
    UserRole,
    UserWarehouse,
)
from models.domain.access import ADMIN_PERMISSIONS, WORKER_PERMISSIONS, allowed, preset
from models.domain.logins import LoginPolicy

T = TypeVar("T")


@dataclass
class AppDeps:
    """Everything the API needs, built by a composition root (lifespan or test)."""

    engine: AsyncEngine
    session_factory: SessionFactory
    token_secret: str
    token_ttl: timedelta = timedelta(minutes=30)
    temporal: Client | None = None
    task_queue: str = "houtai"
    admin_ip_allowlist: list[str] = field(default_factory=list)
    login_ip_allowlist: list[str] = field(default_factory=list)
    login_policy: LoginPolicy = field(default_factory=LoginPolicy)
    order_timings: OrderTimings = field(default_factory=OrderTimings)
    order_policy: OrderPolicy = field(default_factory=OrderPolicy)
    po_timings: PoTimings = field(default_factory=PoTimings)
    po_policy: PoPolicy = field(default_factory=PoPolicy)
    wave_rules: WaveRules = field(default_factory=WaveRules)
    payment_webhook_secret: str | None = None
    carrier_webhook_secret: str | None = None
    changes: ChangeFeed | None = None  # long polls of orders and packages (api/watching.py)
    coupon_batch_chunk: int = 500  # customers per chunk of a coupon batch (CouponBatchWorkflow)
    # Who may read /metrics (api/observability.py); empty = nobody (the route answers 404).
    metrics_allowlist: list[str] = field(default_factory=lambda: ["127.0.0.1/32", "::1/128"])
    metrics_token: str | None = None  # or anyone bearing it

    def require_temporal(self) -> Client:
        if self.temporal is None:
            raise Problem(503, "Temporal is not connected")
        return self.temporal


@dataclass(frozen=True)
class Principal:
    kind: Literal["user", "api_key"]
    id: int
    name: str
    roles: frozenset[str]
    warehouse_id: int | None = None  # devices are bound to one warehouse
    scope: str = "full"  # "totp_enrol": signed in, but must enrol a second factor first
    granted: frozenset[str] = frozenset()  # the permissions of the composed roles held
    warehouses: frozenset[int] | None = None  # a staff member limited to these (None: all)
    worker: str | None = None  # a paired device: the worker signed in on it by badge
    paired: bool = False  # a device a manager paired (api/routes/devices.py), not a bare key

    @property
    def warehouse_scope(self) -> frozenset[int] | None:
        """The warehouses this principal sees and acts on; None for all of them."""
        if self.warehouse_id is not None:
            return frozenset({self.warehouse_id})
        return self.warehouses

    def can_see_warehouse(self, warehouse_id: int) -> bool:
        scope = self.warehouse_scope
        return scope is None or warehouse_id in scope

    @property
    def permissions(self) -> frozenset[str]:
        """Every permission held: the built-in roles' presets and the composed roles' grants."""
        return frozenset().union(*(preset(r) for r in self.roles)) | self.granted

    def may(self, permission: str) -> bool:
        """A built-in role's preset or a composed role grants `permission`."""
        return allowed(self.roles, permission) or permission in self.granted


def forbid_outside(who: Principal, warehouse_id: int) -> None:
    """403 unless the principal's data scope holds the warehouse (devices: their own one)."""
    if not who.can_see_warehouse(warehouse_id):
        raise Problem(
            403, f"warehouse {warehouse_id} is outside your data scope", type_="/problems/forbidden"
        )


def in_scope(
    who: Principal, query: Select[T], column: InstrumentedAttribute[int], warehouse_id: int | None
) -> Select[T]:
    """A list limited to the principal's warehouses, and to `warehouse_id` when one is asked for
    (403 when it is outside them)."""
    if warehouse_id is not None:
        forbid_outside(who, warehouse_id)
        return query.where(column == warehouse_id)
    scope = who.warehouse_scope
    return query if scope is None else query.where(column.in_(sorted(scope)))


async def app_deps(request: Request) -> AppDeps:
    deps: AppDeps = request.app.state.deps
    return deps


async def get_session(deps: Annotated[AppDeps, Depends(app_deps)]) -> AsyncIterator[AsyncSession]:
    async with deps.session_factory() as session:
        yield session


Session = Annotated[AsyncSession, Depends(get_session)]
Deps = Annotated[AppDeps, Depends(app_deps)]
_bearer = HTTPBearer(auto_error=False, description="Staff token from POST /v1/auth/login")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="Storefront/device key")

_UNAUTHENTICATED = {"WWW-Authenticate": "Bearer"}


# A key's principal, by its prefix: one statement run alone on a pooled connection (no BEGIN
# and COMMIT, no ORM: core/db.py `Alone`), as every storefront and device request runs it
# first. A GET answered by one more such statement (an order, a package) holds no session.
_KEY_BY_PREFIX = Alone(
    text("""SELECT k.id, k.name, k.role, k.warehouse_id, k.active, k.key_hash, u.username,
        d.id AS device_id
    FROM api_keys k LEFT JOIN devices d ON d.api_key_id = k.id
    LEFT JOIN users u ON u.id = d.worker_user_id
    WHERE k.prefix = :prefix""")
)


async def _principal_from_key(session: AsyncSession, key: str) -> Principal | None:
    prefix = api_key_prefix(key)
    if prefix is None or "\x00" in prefix:  # no key has one; PostgreSQL text cannot hold it
        return None
    try:
        row = await _KEY_BY_PREFIX.one(session_engine(session), {"prefix": prefix})
    except LookupError:
        return None
    if not row["active"] or not api_key_matches(key, row["key_hash"]):
        return None
    return Principal(
        "api_key",
        row["id"],
        row["name"],
        frozenset({row["role"]}),
        row["warehouse_id"],
        worker=row["username"],
        paired=row["device_id"] is not None,
    )


def session_engine(session: AsyncSession) -> AsyncEngine:
    """The engine a request's session is bound to (statements run `Alone` take it)."""
    bind = session.bind
    assert isinstance(bind, AsyncEngine), bind
    return bind


async def _principal_from_token(session: AsyncSession, token: str, secret: str) -> Principal | None:
    claims = read_token(token, secret=secret)
    if claims is None:
        return None
    user = await session.get(User, claims.user_id)
    if user is None or not user.active or user.token_version != claims.version:
        return None  # disabled, or sessions ended by a password change or an admin
    roles, granted, warehouses = await staff_grants(session, user.id)
    return Principal(
        "user",
        user.id,
        user.username,
        roles,
        scope=claims.scope,
        granted=granted,
        warehouses=warehouses,
    )


async def staff_grants(
    session: AsyncSession, user_id: int
) -> tuple[frozenset[str], frozenset[str], frozenset[int] | None]:
    """A user's roles, the permissions of the composed ones among them, and their warehouse
    scope (None: unlimited), in one query. Built-in roles have no role_permissions rows."""
    held = (
        select(UserRole.role, RolePermission.permission, literal(None, Integer))
        .outerjoin(RolePermission, RolePermission.role == UserRole.role)
        .where(UserRole.user_id == user_id)
    )
    scoped = select(literal(None, String), literal(None, String), UserWarehouse.warehouse_id).where(
        UserWarehouse.user_id == user_id
    )
    rows = (await session.execute(union_all(held, scoped))).all()
    warehouses = frozenset(w for _, _, w in rows if w is not None)
    return (
        frozenset(r for r, _, _ in rows if r is not None),
        frozenset(p for _, p, _ in rows if p is not None),
        warehouses or None,
    )


async def authenticate(
    request: Request,
    session: Session,
    deps: Annotated[AppDeps, Depends(app_deps)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    principal: Principal | None = None
    if api_key:
        principal = await _principal_from_key(session, api_key)
    elif bearer is not None:
        credential = bearer.credentials
        if api_key_prefix(credential) is not None:
            principal = await _principal_from_key(session, credential)
        else:
            principal = await _principal_from_token(session, credential, deps.token_secret)
    else:
        raise Problem(401, "credentials required", headers=_UNAUTHENTICATED)
    if principal is None:
        raise Problem(401, "invalid or expired credentials", headers=_UNAUTHENTICATED)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def actor_of(who: Principal) -> Actor:
    """The principal as a workflow records who acted: staff, a device or a storefront."""
    kind = "user" if who.kind == "user" else ("device" if "device" in who.roles else "storefront")
    name = f"{who.name} / {who.worker}"[:100] if who.worker else who.name  # device and worker
    return Actor(kind=kind, name=name, role=",".join(sorted(who.roles)))


async def visible_order(session: AsyncSession, who: Principal, order_no: str) -> Order:
    """Storefronts see only the orders they placed; staff see all. Others' are 404."""
    order = await session.get(Order, order_no)
    if order is None or ("storefront" in who.roles and order.api_key_id != who.id):
        raise not_found("order", order_no)
    await session.commit()  # never hold a connection while waiting for the workflow
    return order


async def _visible_order(order_no: NoParam, session: Session, who: CurrentPrincipal) -> Order:
    return await visible_order(session, who, order_no)


# The path's `order_no`, 404 unless the caller may see it. Declare it after the route's
# permission (`Reader`, a writer): dependencies run in order, so a 403 comes before a 404.
# Dependencies also run before the body is validated: a route with a body calls
# `visible_order(...)` itself, so an invalid body still answers 422 rather than 404.
VisibleOrder = Annotated[Order, Depends(_visible_order)]


def _ip_allowed(ip: str, allowlist: list[str]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in allowlist)


# What a token issued for second-factor enrolment only may do.
ENROLMENT_PERMISSIONS = frozenset({"self.read", "self.security"})


def require(permission: str) -> Callable[..., Awaitable[Principal]]:
    """Dependency declaring the permission a route needs: 401 without credentials, 403 without
    a role that grants it (or, for admin permissions, from outside the allow-list)."""

    async def check(
        request: Request,
        principal: Annotated[Principal, Depends(authenticate)],
        deps: Annotated[AppDeps, Depends(app_deps)],
    ) -> Principal:
        if principal.scope != "full" and permission not in ENROLMENT_PERMISSIONS:
            raise Problem(
                403,
                "enrol a TOTP second factor first (POST /v1/auth/totp/enrol)",
                type_="/problems/totp-enrolment-required",
            )
        if not principal.may(permission):
            raise Problem(403, f"permission {permission} is required", type_="/problems/forbidden")
        if principal.paired and principal.worker is None and permission in WORKER_PERMISSIONS:
            raise Problem(
                403,
                "a worker signs in on this device first (POST /v1/devices/me/sign-in)",
                type_="/problems/worker-sign-in-required",
            )
        if permission in ADMIN_PERMISSIONS and deps.admin_ip_allowlist:
            ip = request.client.host if request.client else ""
            if not _ip_allowed(ip, deps.admin_ip_allowlist):
                raise Problem(403, "admin routes are not open to this address")
        return principal

    check.permission = permission  # type: ignore[attr-defined]  # read by route introspection
    return check


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


class Writer:
    """A state-changing request's unit of work: the change and its audit row commit together."""

    def __init__(self, request: Request, session: AsyncSession, principal: Principal) -> None:
        self.request = request
        self.session = session
        self.principal = principal

    @property
    def actor(self) -> str:
        return f"{self.principal.kind}:{self.principal.name}"

    async def commit(
        self, action: str, object_type: str, object_id: object, detail: dict[str, Any] | None = None
    ) -> None:
        route_status = getattr(self.request.scope.get("route"), "status_code", None)
        row = audit_values(
            self.request,
            self.principal,
            action=action,
            status_code=route_status or 200,
            object_type=object_type,
            object_id=str(object_id),
            detail=detail or {},
        )
        # A Core INSERT (no ORM object to flush and read its id back): a write's audit row is
        # written on every state-changing request.
        await self.session.execute(_AUDIT_INSERT, row)
        await self.session.commit()
        self.request.state.audited = True

    def refusal_row(self, status_code: int, detail: dict[str, Any] | None = None) -> dict[str, Any]:
        """The audit row of a refusal decided in this request's own statement (the flash sale's
        look writes it only when it refuses): its columns, `roles` a list, `detail` JSON text.
        After that statement wrote it, `committed_refusal` ends the transaction."""
        route = self.request.scope.get("route")
        values = audit_values(
            self.request,
            self.principal,
            action=f"{self.request.method} {getattr(route, 'path', self.request.url.path)}",
            status_code=status_code,
            detail=detail,
        )
        return values | {"detail": json.dumps(values["detail"], ensure_ascii=False)}

    async def committed_refusal(self, problem: Problem) -> Problem:
        """Commit the refusal's audit row written by the request's statement (`refusal_row`):
        the audit middleware writes none. Returns the problem to raise."""
        await self.session.commit()
        self.request.state.audited = True
        return problem


_AUDIT_INSERT = insert(cast(Table, AuditEntry.__table__))


def audit_entry(request: Request, principal: Principal | None, **fields: Any) -> AuditEntry:
    """The audit row `audit_values` describes (action, status_code, object, detail)."""
    return AuditEntry(**audit_values(request, principal, **fields))


def audit_values(
    request: Request,
    principal: Principal | None,
    *,
    action: str,
    status_code: int,
    object_type: str = "",
    object_id: str = "",
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An audit row's columns for this request (`at` is the database's clock)."""
    return dict(
        actor_type=principal.kind if principal else "anonymous",
        actor_id=str(principal.id) if principal else "",
        actor_name=principal.name if principal else "",
        roles=sorted(principal.roles) if principal else [],
        action=action,
        method=request.method,
        path=request.url.path,
        object_type=object_type,
        object_id=object_id,
        status_code=status_code,
        client_ip=client_ip(request),
        # A paired device's rows name the worker signed in on it as well as the device.
        detail=({"worker": principal.worker} if principal and principal.worker else {})
        | (detail or {}),
    )


def writer(permission: str) -> Callable[..., Awaitable[Writer]]:
    guard = require(permission)

    async def build(
        request: Request, session: Session, principal: Annotated[Principal, Depends(guard)]
    ) -> Writer:
        return Writer(request, session, principal)

    build.permission = permission  # type: ignore[attr-defined]
    return build
