"""Staff login and "who am I"."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select

from api.deps import AppDeps, Principal, Session, app_deps, audit_entry, require
from api.errors import Problem
from api.schemas.auth import LoginRequest, MePublic, TokenPublic
from core.security import hash_password, issue_token, verify_password
from models.db import User, UserRole

router = APIRouter(prefix="/v1/auth", tags=["auth"])
# Verifying against a dummy hash when the user is unknown keeps timing the same either way.
_DUMMY_HASH = hash_password("not-a-real-password")


@router.post("/login", responses={401: {"description": "wrong username or password"}})
async def login(
    body: LoginRequest,
    request: Request,
    session: Session,
    deps: Annotated[AppDeps, Depends(app_deps)],
) -> TokenPublic:
    user = await session.scalar(select(User).where(User.username == body.username))
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, body.password)
    if user is None or not ok or not user.active:
        request.state.audit_detail = {"username": body.username[:64]}
        raise Problem(401, "wrong username or password", headers={"WWW-Authenticate": "Bearer"})
    roles = sorted(await session.scalars(select(UserRole.role).where(UserRole.user_id == user.id)))
    now = datetime.now(UTC)
    token, expires_at = issue_token(
        secret=deps.token_secret,
        user_id=user.id,
        username=user.username,
        roles=roles,
        ttl=deps.token_ttl,
        now=now,
    )
    user.last_login_at = now
    principal = Principal("user", user.id, user.username, frozenset(roles))
    session.add(
        audit_entry(
            request,
            principal,
            action="auth.login",
            status_code=200,
            object_type="user",
            object_id=str(user.id),
        )
    )
    await session.commit()
    request.state.audited = True
    return TokenPublic(access_token=token, expires_at=expires_at, roles=roles)


@router.get("/me")
async def me(who: Annotated[Principal, Depends(require("self.read"))]) -> MePublic:
    return MePublic(
        kind=who.kind,
        id=who.id,
        name=who.name,
        roles=sorted(who.roles),
        warehouse_id=who.warehouse_id,
    )
