"""When a sign-in is refused before the password is even looked at (DESIGN §9): too many
failures for one account, or from one address, within a window lock it for a while."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class LoginPolicy:
    """The login rules, from `Settings.auth` (see core/settings.py for each one's meaning)."""

    account_failures: int = 5
    address_failures: int = 20
    failure_window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)
    totp_roles: frozenset[str] = field(default_factory=lambda: frozenset({"admin", "finance"}))
    totp_issuer: str = "houtai"
    enrolment_token_ttl: timedelta = timedelta(minutes=10)


def locked_until(
    failures: list[datetime], limit: int, window: timedelta, lockout: timedelta, now: datetime
) -> datetime | None:
    """The end of the lock the recent failures (newest first) put in place, or None when
    sign-ins are open: `limit` failures within `window` lock for `lockout` from the last of
    them. (While locked nothing more is counted, so the newest failure is the one that locked.)"""
    if limit < 1 or len(failures) < limit:
        return None
    newest, oldest = failures[0], failures[limit - 1]
    if newest - oldest > window:
        return None
    until = newest + lockout
    return until if until > now else None


def needs_totp(roles: frozenset[str], policy: LoginPolicy) -> bool:
    return bool(roles & policy.totp_roles)
