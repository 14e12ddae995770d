"""Admin actions on sign-in (DESIGN §9): unlock an account or an address locked by failed
sign-ins, end a user's sessions, reset a lost second factor. Each one is audited."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import Depends

from api import logins
from api.crud import get_or_404
from api.deps import Writer, writer
from api.errors import invalid
from api.routing import Routes
from api.schemas.auth import LoginUnlocked
from api.schemas.types import IdParam, TextParam
from models.db import User

router = Routes(prefix="/v1/admin", tags=["admin"])
Manage = Annotated[Writer, Depends(writer("users.manage"))]


@router.post("/users/{user_id}/unlock")
async def unlock_user(user_id: IdParam, w: Manage) -> LoginUnlocked:
    """Forget the user's failed sign-ins: the account lock ends at once."""
    user = await get_or_404(w.session, User, user_id, "user")
    cleared = await logins.clear_failures(w.session, name=user.username)
    await w.commit("user.unlock", "user", user.id, {"failures_cleared": cleared})
    return LoginUnlocked(subject=user.username, failures_cleared=cleared)


@router.post("/login-addresses/{address}/unlock")
async def unlock_address(address: TextParam, w: Manage) -> LoginUnlocked:
    """Forget the failed sign-ins from one client address (e.g. an office behind one NAT)."""
    try:
        ip = str(ipaddress.ip_address(address))
    except ValueError:
        raise invalid("address", "not an IP address", "not_an_ip_address") from None
    cleared = await logins.clear_failures(w.session, ip=ip)
    await w.commit("login_address.unlock", "login_address", ip, {"failures_cleared": cleared})
    return LoginUnlocked(subject=ip, failures_cleared=cleared)


@router.post("/users/{user_id}/revoke-sessions", status_code=204)
async def revoke_sessions(user_id: IdParam, w: Manage) -> None:
    """Every token the user holds stops working at its next request."""
    user = await _someone_else(w, user_id)
    user.token_version += 1
    await w.commit("user.revoke_sessions", "user", user.id)


@router.delete("/users/{user_id}/totp", status_code=204)
async def reset_totp(user_id: IdParam, w: Manage) -> None:
    """A lost phone: the second factor is removed and the user's sessions end; a user whose
    roles require one enrols again at the next sign-in."""
    user = await _someone_else(w, user_id)
    user.totp_secret = user.totp_enabled_at = user.totp_last_step = None
    user.token_version += 1
    await w.commit("user.totp_reset", "user", user.id)


async def _someone_else(w: Writer, user_id: int) -> User:
    """The user acted on, never the admin acting (who would lock themself out mid-session; one's
    own sessions end with a password change, POST /v1/auth/password)."""
    user = await get_or_404(w.session, User, user_id, "user")
    if user.id == w.principal.id:
        raise invalid("user_id", "not on yourself: ask another administrator", "not_on_yourself")
    return user
