"""Security primitives: password hashing, bearer tokens, API keys, webhook signatures."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
_TOKEN_ALGORITHM = "HS256"  # noqa: S105 - an algorithm name
API_KEY_PREFIX = "hk_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    username: str
    roles: tuple[str, ...]
    expires_at: datetime
    version: int = 0  # the user's token_version when issued; a bump ends the session
    scope: str = "full"  # or "totp_enrol": good only for enrolling a second factor


def issue_token(
    *,
    secret: str,
    user_id: int,
    username: str,
    roles: list[str],
    ttl: timedelta,
    now: datetime,
    version: int = 0,
    scope: str = "full",
) -> tuple[str, datetime]:
    expires_at = now + ttl
    payload = {
        "sub": str(user_id),
        "name": username,
        "roles": roles,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "typ": "staff",
        "ver": version,
        "scope": scope,
    }
    return jwt.encode(payload, secret, algorithm=_TOKEN_ALGORITHM), expires_at


def read_token(token: str, *, secret: str) -> TokenClaims | None:
    """The token's claims, or None when it is forged, malformed or expired."""
    try:
        payload = jwt.decode(
            token, secret, algorithms=[_TOKEN_ALGORITHM], options={"require": ["exp", "sub"]}
        )
        if payload.get("typ") != "staff":
            return None
        return TokenClaims(
            user_id=int(payload["sub"]),
            username=str(payload["name"]),
            roles=tuple(str(r) for r in payload["roles"]),
            expires_at=datetime.fromtimestamp(int(payload["exp"]), tz=UTC),
            version=int(payload.get("ver", 0)),
            scope=str(payload.get("scope", "full")),
        )
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        return None


def new_api_key() -> tuple[str, str]:
    """A new API key and its lookup prefix. Only the hash of the key is ever stored."""
    prefix = secrets.token_hex(4)
    return f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}", prefix


def api_key_prefix(key: str) -> str | None:
    if not key.startswith(API_KEY_PREFIX):
        return None
    parts = key[len(API_KEY_PREFIX) :].split("_", 1)
    return parts[0] if len(parts) == 2 and len(parts[0]) == 8 else None


def hash_api_key(key: str) -> str:
    # API keys carry 256 bits of randomness, so a fast hash is safe and keeps lookups cheap.
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_matches(key: str, key_hash: str) -> bool:
    return hmac.compare_digest(hash_api_key(key), key_hash)


def sign(secret: bytes, body: bytes, timestamp: str) -> str:
    """HMAC-SHA256 over `timestamp.body`, hex encoded (webhook signatures)."""
    return hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_valid(secret: bytes, body: bytes, timestamp: str, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, body, timestamp), signature)


def new_secret() -> str:
    return secrets.token_urlsafe(48)
