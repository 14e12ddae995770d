"""Security primitives: password hashing, bearer tokens, API keys, webhook signatures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from core.security import (
    api_key_matches,
    api_key_prefix,
    hash_api_key,
    hash_password,
    issue_token,
    new_api_key,
    read_token,
    sign,
    signature_valid,
    verify_password,
)

SECRET = "s" * 48
NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def test_password_hash_verifies_only_the_right_password() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2")
    assert "correct horse" not in stored
    assert verify_password(stored, "correct horse")
    assert not verify_password(stored, "correct hors")
    assert not verify_password("not a hash", "correct horse")


def test_token_round_trip_and_expiry() -> None:
    now = datetime.now(UTC)
    token, expires = issue_token(
        secret=SECRET, user_id=7, username="ops", roles=["ops"], ttl=timedelta(minutes=30), now=now
    )
    claims = read_token(token, secret=SECRET)
    assert claims is not None
    assert (claims.user_id, claims.username, claims.roles) == (7, "ops", ("ops",))
    assert claims.expires_at == expires.replace(microsecond=0)
    expired, _ = issue_token(
        secret=SECRET,
        user_id=7,
        username="ops",
        roles=["ops"],
        ttl=timedelta(minutes=30),
        now=now - timedelta(hours=1),
    )
    assert read_token(expired, secret=SECRET) is None


def test_token_from_another_secret_or_tampered_is_refused() -> None:
    token, _ = issue_token(
        secret=SECRET,
        user_id=1,
        username="a",
        roles=["admin"],
        ttl=timedelta(minutes=5),
        now=datetime.now(UTC),
    )
    assert read_token(token, secret="t" * 48) is None
    header, payload, signature = token.split(".")
    assert read_token(f"{header}.{payload}x.{signature}", secret=SECRET) is None
    assert read_token("garbage", secret=SECRET) is None


def test_api_keys_are_unique_prefixed_and_only_their_hash_matches() -> None:
    keys = {new_api_key() for _ in range(50)}
    assert len(keys) == 50
    key, prefix = next(iter(keys))
    assert api_key_prefix(key) == prefix
    assert len(prefix) == 8
    stored = hash_api_key(key)
    assert key not in stored
    assert api_key_matches(key, stored)
    assert not api_key_matches(key + "x", stored)
    assert api_key_prefix("Bearer-token") is None
    assert api_key_prefix("hk_short_x") is None


@given(body=st.binary(max_size=200), timestamp=st.text(min_size=1, max_size=12))
def test_signature_verifies_exactly_the_signed_body(body: bytes, timestamp: str) -> None:
    secret = b"webhook-secret"
    signature = sign(secret, body, timestamp)
    assert signature_valid(secret, body, timestamp, signature)
    assert not signature_valid(secret, body + b"!", timestamp, signature)
    assert not signature_valid(b"other", body, timestamp, signature)
