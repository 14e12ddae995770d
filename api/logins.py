"""Sign-in rules (DESIGN §9) for the auth routes: lockout counted in PostgreSQL (so it holds
across API processes), the TOTP second factor, and the tokens a sign-in answers.

Lockout answers 429 Too Many Requests with `Retry-After` and `locked_until` (rather than 423
Locked, a WebDAV status clients do not treat as "come back later"). It is keyed on the username
as typed, whether or not such a user exists, so the answer never tells who has an account; a
locked username is refused before its password is checked, even a right one."""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import delete, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from api.deps import AppDeps
from api.errors import Problem
from api.schemas.auth import TokenPublic
from core.security import issue_token
from core.totp import matching_step
from models.db import LoginFailure, User
from models.domain.logins import LoginPolicy, locked_until

UNAUTHENTICATED = {"WWW-Authenticate": "Bearer"}


def login_name(username: str) -> str:
    """The key failures are counted under (usernames are stored in lower case)."""
    return username.strip().lower()[:64]


async def hold(session: AsyncSession, name: str) -> None:
    """Serialise sign-ins of one username until this transaction ends, so parallel guesses
    cannot all slip under the failure limit."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": name})


async def _recent(
    session: AsyncSession,
    column: InstrumentedAttribute[str],
    value: str,
    limit: int,
    since: datetime,
) -> list[datetime]:
    """The newest `limit` failures of a username or an address since `since`, newest first."""
    rows = await session.scalars(
        select(LoginFailure.at)
        .where(column == value, LoginFailure.at > since)
        .order_by(LoginFailure.at.desc())
        .limit(limit)
    )
    return list(rows)


def _horizon(policy: LoginPolicy, now: datetime) -> datetime:
    """Failures older than this can no longer hold a lock."""
    return now - policy.failure_window - policy.lockout


async def refuse_if_locked(
    session: AsyncSession, policy: LoginPolicy, name: str, ip: str, now: datetime
) -> None:
    since = _horizon(policy, now)
    here = await _recent(session, LoginFailure.client_ip, ip, policy.address_failures, since)
    until = locked_until(here, policy.address_failures, policy.failure_window, policy.lockout, now)
    if until is not None:
        raise _locked(
            f"too many failed sign-ins from this address; try again after {until:%H:%M} UTC",
            until,
            now,
        )
    mine = await _recent(session, LoginFailure.username, name, policy.account_failures, since)
    until = locked_until(mine, policy.account_failures, policy.failure_window, policy.lockout, now)
    if until is not None:
        raise _locked(
            f"too many failed sign-ins for this username; it is locked until {until:%H:%M} UTC"
            " (an administrator can unlock it sooner)",
            until,
            now,
        )


def _locked(detail: str, until: datetime, now: datetime) -> Problem:
    seconds = max(1, math.ceil((until - now).total_seconds()))
    return Problem(
        429,
        detail,
        type_="/problems/sign-in-locked",
        headers={"Retry-After": str(seconds)},
        extensions={"locked_until": until.isoformat()},
    )


async def failed(
    session: AsyncSession,
    policy: LoginPolicy,
    *,
    name: str,
    ip: str,
    reason: str,
    now: datetime,
    refusal: Problem,
) -> Problem:
    """Record a failed sign-in and answer the refusal — or the lock this failure just set."""
    await session.execute(delete(LoginFailure).where(LoginFailure.at < _horizon(policy, now)))
    session.add(LoginFailure(at=now, username=name, client_ip=ip, reason=reason))
    await session.flush()
    try:
        await refuse_if_locked(session, policy, name, ip, now)
    except Problem as locked:
        await session.commit()
        return locked
    await session.commit()
    return refusal


def wrong_credentials() -> Problem:
    return Problem(401, "wrong username or password", headers=UNAUTHENTICATED)


async def use_totp_code(session: AsyncSession, user: User, code: str, now: datetime) -> bool:
    """Whether `code` is the user's current code and was not used before; marks it used. The
    conditional update makes two sign-ins racing with one code accept it once."""
    assert user.totp_secret is not None
    step = matching_step(user.totp_secret, code, now=now, after=user.totp_last_step)
    if step is None:
        return False
    used = await session.execute(
        update(User)
        .where(User.id == user.id)
        .where(or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(used, "rowcount", 0))


async def clear_failures(
    session: AsyncSession, *, name: str | None = None, ip: str | None = None
) -> int:
    """Forget the failures of a username or of an address (a successful sign-in, an unlock)."""
    where = LoginFailure.username == name if name is not None else LoginFailure.client_ip == ip
    result = await session.execute(delete(LoginFailure).where(where))
    return int(getattr(result, "rowcount", 0))


def token_for(
    deps: AppDeps, user: User, roles: list[str], now: datetime, *, scope: str = "full"
) -> TokenPublic:
    ttl = (
        deps.token_ttl
        if scope == "full"
        else min(deps.token_ttl, deps.login_policy.enrolment_token_ttl)
    )
    token, expires_at = issue_token(
        secret=deps.token_secret,
        user_id=user.id,
        username=user.username,
        roles=roles,
        ttl=ttl,
        now=now,
        version=user.token_version,
        scope=scope,
    )
    return TokenPublic(access_token=token, expires_at=expires_at, roles=roles, scope=scope)
