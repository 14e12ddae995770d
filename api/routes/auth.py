"""Staff sign-in, "who am I", one's own password and TOTP second factor.

Sign-in (DESIGN §9, rules in api/logins.py): the login allow-list, the lockout, the password,
then for users holding admin permissions the admin allow-list, then the second factor. A user
whose roles require TOTP (Settings.auth.totp_required_roles) and who has none yet gets a token
good only for enrolling one (scope `totp_enrol`); confirming the enrolment answers a full token.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from sqlalchemy import select

from api import logins
from api.deps import (
    AppDeps,
    Deps,
    Principal,
    Session,
    Writer,
    _ip_allowed,
    audit_entry,
    client_ip,
    require,
    writer,
)
from api.errors import Problem, conflict, invalid, not_found
from api.passwords import password_refused
from api.routing import Routes
from api.schemas.auth import (
    LoginRequest,
    MePublic,
    PasswordChange,
    TokenPublic,
    TotpConfirm,
    TotpEnrolment,
)
from core.security import hash_password, verify_password
from core.totp import matching_step, new_totp_secret, otpauth_uri, qr_png
from models.db import User, UserRole
from models.domain.access import ADMIN_PERMISSIONS, allowed
from models.domain.logins import needs_totp

router = Routes(prefix="/v1/auth", tags=["auth"])
# Verifying against a dummy hash when the user is unknown keeps timing the same either way.
_DUMMY_HASH = hash_password("not-a-real-password")
Security = Annotated[Writer, Depends(writer("self.security"))]
SIGN_IN: dict[int | str, dict[str, Any]] = {
    401: {"description": "wrong username, password or one-time code, or the code is missing"},
    403: {"description": "sign-in (or, for administrators, admin sign-in) is not open here"},
    429: {"description": "too many failed sign-ins: locked until `locked_until` (Retry-After)"},
}
QR: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}},
    404: {"description": "no TOTP enrolment in progress"},
}


@router.post("/login", responses=SIGN_IN)
async def login(body: LoginRequest, request: Request, session: Session, deps: Deps) -> TokenPublic:
    ip, name, now = client_ip(request), logins.login_name(body.username), datetime.now(UTC)
    request.state.audit_detail = {"username": body.username[:64]}
    if deps.login_ip_allowlist and not _ip_allowed(ip, deps.login_ip_allowlist):
        raise Problem(403, "sign-in is not open to this address", type_="/problems/forbidden")
    policy = deps.login_policy
    await logins.hold(session, name)
    await logins.refuse_if_locked(session, policy, name, ip, now)
    user = await session.scalar(select(User).where(User.username == name))
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, body.password)
    if user is None or not ok or not user.active:
        refusal = logins.wrong_credentials()
        raise await logins.failed(
            session, policy, name=name, ip=ip, reason="password", now=now, refusal=refusal
        )
    roles = sorted(await session.scalars(select(UserRole.role).where(UserRole.user_id == user.id)))
    await _second_step(session, deps, user, frozenset(roles), body.totp_code, ip, now)
    enrol = needs_totp(frozenset(roles), policy) and user.totp_enabled_at is None
    answer = logins.token_for(deps, user, roles, now, scope="totp_enrol" if enrol else "full")
    await logins.clear_failures(session, name=name)
    user.last_login_at = now
    principal = Principal("user", user.id, user.username, frozenset(roles))
    detail = {"scope": answer.scope} if enrol else {}
    session.add(
        audit_entry(request, principal, action="auth.login", status_code=200,
                    object_type="user", object_id=str(user.id), detail=detail)
    )  # fmt: skip
    await session.commit()
    request.state.audited = True
    return answer


async def _second_step(
    session: Session,
    deps: AppDeps,
    user: User,
    roles: frozenset[str],
    code: str | None,
    ip: str,
    now: datetime,
) -> None:
    """After the password: administrators only from the admin allow-list, then the TOTP code."""
    admin = any(allowed(roles, p) for p in ADMIN_PERMISSIONS)
    if admin and deps.admin_ip_allowlist and not _ip_allowed(ip, deps.admin_ip_allowlist):
        raise Problem(
            403, "administrators sign in only from allowed addresses", type_="/problems/forbidden"
        )
    if user.totp_enabled_at is None:
        return
    if code is None:
        raise Problem(
            401, "this account also needs the 6-digit code from its authenticator app (totp_code)",
            type_="/problems/totp-required", headers=logins.UNAUTHENTICATED,
        )  # fmt: skip
    if not await logins.use_totp_code(session, user, code, now):
        refusal = Problem(
            401, "wrong or already used one-time code; wait for the next one",
            type_="/problems/totp-invalid", headers=logins.UNAUTHENTICATED,
        )  # fmt: skip
        name = user.username
        raise await logins.failed(
            session, deps.login_policy, name=name, ip=ip, reason="totp", now=now, refusal=refusal
        )


@router.get("/me")
async def me(who: Annotated[Principal, Depends(require("self.read"))]) -> MePublic:
    return MePublic(
        kind=who.kind,
        id=who.id,
        name=who.name,
        roles=sorted(who.roles),
        warehouse_id=who.warehouse_id,
    )


@router.post("/password")
async def change_password(body: PasswordChange, w: Security, deps: Deps) -> TokenPublic:
    """Change one's own password: every other session ends; the answer is a fresh token."""
    user = await w.session.get_one(User, w.principal.id)
    if not verify_password(user.password_hash, body.current_password):
        raise invalid(
            "current_password", "this is not your current password", "wrong_current_password"
        )
    if (refused := password_refused("new_password", body.new_password, user.username)) is not None:
        raise refused
    user.password_hash = hash_password(body.new_password)
    user.token_version += 1
    await w.session.flush()
    answer = logins.token_for(deps, user, sorted(w.principal.roles), datetime.now(UTC),
                              scope=w.principal.scope)  # fmt: skip
    await w.commit("user.password_change", "user", user.id)
    return answer


@router.post("/totp/enrol", status_code=201)
async def enrol_totp(w: Security, deps: Deps) -> TotpEnrolment:
    """Start (or restart) enrolling a second factor: a new secret, shown until confirmed."""
    user = await w.session.get_one(User, w.principal.id)
    if user.totp_enabled_at is not None:
        raise conflict(
            "a TOTP second factor is already enabled; an administrator can reset it",
            reason="totp_enabled",
        )
    user.totp_secret = new_totp_secret()
    await w.commit("user.totp_enrol", "user", user.id)
    uri = otpauth_uri(user.totp_secret, account=user.username, issuer=deps.login_policy.totp_issuer)
    return TotpEnrolment(
        secret=user.totp_secret, otpauth_uri=uri, qr_png_url=f"{router.prefix}/totp/qr.png"
    )


@router.get("/totp/qr.png", response_class=Response, responses=QR)
async def totp_qr(
    session: Session, deps: Deps, who: Annotated[Principal, Depends(require("self.security"))]
) -> Response:
    """The pending enrolment's otpauth URI as a QR code, for the console to show."""
    user = await session.get_one(User, who.id)
    if user.totp_secret is None or user.totp_enabled_at is not None:
        raise not_found("TOTP enrolment", "in progress")
    uri = otpauth_uri(user.totp_secret, account=user.username, issuer=deps.login_policy.totp_issuer)
    return Response(qr_png(uri), media_type="image/png", headers={"Cache-Control": "no-store"})


@router.post("/totp/confirm")
async def confirm_totp(body: TotpConfirm, w: Security, deps: Deps) -> TokenPublic:
    """Prove the app holds the secret: the factor is enabled, sessions signed in without it
    end, and the answer is a full token."""
    user = await w.session.get_one(User, w.principal.id)
    if user.totp_secret is None or user.totp_enabled_at is not None:
        raise conflict(
            "no TOTP enrolment in progress (POST /v1/auth/totp/enrol first)",
            reason="no_totp_enrolment",
        )
    now = datetime.now(UTC)
    step = matching_step(user.totp_secret, body.code, now=now, after=None)
    if step is None:
        raise invalid(
            "code", "wrong code; check that the phone's clock is right", "wrong_totp_code"
        )
    user.totp_enabled_at, user.totp_last_step = now, step
    user.token_version += 1
    await w.session.flush()
    answer = logins.token_for(deps, user, sorted(w.principal.roles), now)
    await w.commit("user.totp_enable", "user", user.id)
    return answer
