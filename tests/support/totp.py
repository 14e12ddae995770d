"""An authenticator app for tests: the TOTP codes of test and demo users, computed like a phone
computes them, never the same step twice for one user (the API accepts a code once)."""

from __future__ import annotations

import asyncio
import itertools
import time
import weakref
from datetime import UTC, datetime

from core.totp import DRIFT_STEPS, STEP_SECONDS, time_step, totp_code
from workers.seed import DEMO_TOTP_SECRETS

TEST_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
"""The secret tests/support/api.add_user enrols for users whose roles require a second factor."""

_secrets: dict[str, str] = dict(DEMO_TOTP_SECRETS)
_last_step: dict[tuple[int, str], int] = {}
_serials = itertools.count()
_owners: weakref.WeakKeyDictionary[object, int] = weakref.WeakKeyDictionary()
_kept: dict[int, tuple[object, int]] = {}  # owners that take no weak reference, kept alive


def _database(owner: object) -> int:
    """A number of the owner's own for as long as it lives. Not id(owner): CPython hands a
    later test's client the address of an earlier one, whose used steps would then make this
    test wait up to 30 s per sign-in for steps it never used (each test has its own database,
    in which no step was used yet)."""
    try:
        found = _owners.get(owner)
        if found is None:
            found = _owners[owner] = next(_serials)
        return found
    except TypeError:  # no weak reference to it: keep it, so its id is never handed on
        kept = _kept.get(id(owner))
        if kept is None or kept[0] is not owner:
            kept = _kept[id(owner)] = (owner, next(_serials))
        return kept[1]


def enrolled(username: str, secret: str | None) -> None:
    """Remember (or, with None, forget) the secret of a user the tests created."""
    if secret is None:
        _secrets.pop(username, None)
    else:
        _secrets[username] = secret
    for key in [k for k in _last_step if k[1] == username]:
        del _last_step[key]


def secret_of(username: str) -> str | None:
    return _secrets.get(username)


def _next_step(owner: object, username: str) -> tuple[int, float]:
    """The step to use next and how long to wait before the API accepts it."""
    now = time.time()
    current = int(now) // STEP_SECONDS
    database = _database(owner)
    step = max(current, _last_step.get((database, username), current - 1) + 1)
    _last_step[database, username] = step
    opens_at = (step - DRIFT_STEPS) * STEP_SECONDS
    return step, max(0.0, opens_at - now + 0.05)


async def code(owner: object, username: str) -> str | None:
    """A fresh code for the user (None if the user has no second factor). `owner`, the client
    or page a test signs in with, tells apart users of the same name in different tests (each
    test has its own database)."""
    secret = _secrets.get(username)
    if secret is None:
        return None
    step, wait = _next_step(owner, username)
    await asyncio.sleep(wait)
    return totp_code(secret, step)


def code_now(owner: object, username: str) -> str:
    """code() for synchronous callers (the e2e tests)."""
    secret = _secrets[username]
    step, wait = _next_step(owner, username)
    time.sleep(wait)
    return totp_code(secret, step)


def wrong_code(secret: str) -> str:
    """A well-formed code that no step in the accepted window has."""
    step = time_step(datetime.now(UTC))
    good = {totp_code(secret, step + d) for d in range(-DRIFT_STEPS - 1, DRIFT_STEPS + 2)}
    return next(c for c in ("111111", "222222", "333333", "444444", "555555") if c not in good)
