"""The pure sign-in rules: TOTP (RFC 6238), the password policy, when a lockout holds."""

from __future__ import annotations

import base64
import struct
import zlib
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.config import login_policy
from core.settings import Settings
from core.totp import (
    matching_step,
    new_totp_secret,
    otpauth_uri,
    qr_png,
    time_step,
    totp_code,
)
from models.domain.logins import LoginPolicy, locked_until, needs_totp
from models.domain.passwords import password_problem

# RFC 6238 appendix B: the SHA1 seed "12345678901234567890"; the last 6 of its 8-digit codes.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()


@pytest.mark.parametrize(
    ("unix_time", "code"),
    [(59, "287082"), (1111111109, "081804"), (1111111111, "050471"), (1234567890, "005924"),
     (2000000000, "279037"), (20000000000, "353130")],
)  # fmt: skip
def test_totp_matches_the_rfc_6238_vectors(unix_time: int, code: str) -> None:
    at = datetime.fromtimestamp(unix_time, UTC)
    assert totp_code(RFC_SECRET, time_step(at)) == code
    assert matching_step(RFC_SECRET, code, now=at, after=None) == time_step(at)


def test_a_code_is_good_one_step_either_side_and_only_once() -> None:
    secret = new_totp_secret()
    now = datetime(2026, 12, 6, 8, 0, 15, tzinfo=UTC)
    step = time_step(now)
    for drift in (-1, 0, 1):
        code = totp_code(secret, step + drift)
        assert matching_step(secret, code, now=now, after=None) == step + drift
        assert matching_step(secret, code, now=now, after=step + drift) is None  # used once
    assert matching_step(secret, totp_code(secret, step), now=now, after=step - 1) == step
    for far in (-2, 2, 10):
        assert matching_step(secret, totp_code(secret, step + far), now=now, after=None) is None


def test_new_secrets_are_160_random_bits_in_base32() -> None:
    secrets = {new_totp_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert len(base64.b32decode(secret + "=" * (-len(secret) % 8))) == 20


def test_otpauth_uri_carries_what_authenticator_apps_read() -> None:
    uri = otpauth_uri("JBSWY3DPEHPK3PXP", account="wang.fang", issuer="houtai 后台")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert parts.path == "/houtai%20%E5%90%8E%E5%8F%B0:wang.fang"
    query = parse_qs(parts.query)
    assert query == {
        "secret": ["JBSWY3DPEHPK3PXP"],
        "issuer": ["houtai 后台"],
        "algorithm": ["SHA1"],
        "digits": ["6"],
        "period": ["30"],
    }


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height of a well-formed PNG (signature, IHDR with a valid CRC)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", png[8:16])
    assert (length, kind) == (13, b"IHDR")
    data = png[16:29]
    assert struct.unpack(">I", png[29:33])[0] == zlib.crc32(kind + data)
    width, height = struct.unpack(">II", data[:8])
    return width, height


def test_qr_png_is_a_square_png_that_grows_with_the_text() -> None:
    short = qr_png("otpauth://totp/a?secret=JBSWY3DPEHPK3PXP")
    long = qr_png(otpauth_uri(new_totp_secret(), account="x" * 60, issuer="houtai"))
    w1, h1 = png_size(short)
    w2, h2 = png_size(long)
    assert w1 == h1 and w2 == h2
    assert w2 > w1 >= 21 * 6  # the smallest QR version is 21 modules, scale 6


@pytest.mark.parametrize(
    ("password", "username", "why"),
    [
        ("Ab1!xyz", "li.lei", "at least 10"),
        ("x" * 201, "li.lei", "at most 200"),
        ("aaaaaaaaaaaa", "li.lei", "repeated"),
        ("1234567890", "li.lei", "keyboard run"),
        ("qwertyuiop", "li.lei", "keyboard run"),
        ("Li.Lei-2026-spring", "li.lei", "username"),
        ("Password123!", "li.lei", "common"),
        ("!!woaini1314!!", "li.lei", "common"),
        ("justlowercaseletters", "li.lei", "two of"),
        ("12345098761234", "li.lei", "two of"),
    ],
)
def test_password_policy_refuses_with_a_reason(password: str, username: str, why: str) -> None:
    problem = password_problem(password, username)
    assert problem is not None
    assert why in problem


@pytest.mark.parametrize(
    "password",
    ["correct-horse-battery", "a-much-longer-passphrase", "Tr0ub4dor&3x", "仓库主管的密码2026"],
)
def test_password_policy_lets_passphrases_through(password: str) -> None:
    assert password_problem(password, "li.lei") is None


@given(st.text(min_size=0, max_size=9))
def test_nothing_shorter_than_ten_passes(password: str) -> None:
    assert password_problem(password, "someone") is not None


def test_lock_runs_from_the_failure_that_reached_the_limit() -> None:
    now = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
    window, lock = timedelta(minutes=15), timedelta(minutes=15)

    def ago(*minutes: float) -> list[datetime]:
        return [now - timedelta(minutes=m) for m in minutes]

    assert locked_until(ago(5, 6, 7, 8), 5, window, lock, now) is None
    assert locked_until(ago(5, 6, 7, 8, 9), 5, window, lock, now) == now + timedelta(minutes=10)
    assert locked_until(ago(5, 6, 7, 8, 21), 5, window, lock, now) is None  # not within 15 min
    assert locked_until(ago(15, 16, 17, 18, 19), 5, window, lock, now) is None  # served its time
    assert locked_until([], 1, window, lock, now) is None
    # A lock longer than the window still runs its whole length.
    long_lock = timedelta(hours=1)
    assert locked_until(ago(40, 41, 42), 3, timedelta(minutes=5), long_lock, now) == now + (
        timedelta(minutes=20)
    )


def test_totp_is_required_by_role() -> None:
    policy = LoginPolicy()
    assert needs_totp(frozenset({"ops", "finance"}), policy)
    assert needs_totp(frozenset({"admin"}), policy)
    assert not needs_totp(frozenset({"ops", "cs", "warehouse_manager"}), policy)
    assert needs_totp(frozenset({"cs"}), LoginPolicy(totp_roles=frozenset({"cs"})))


def test_login_policy_comes_from_settings() -> None:
    settings = Settings(
        auth={
            "lockout_account_failures": 3,
            "lockout_address_failures": 50,
            "lockout_window_minutes": 10,
            "lockout_minutes": 60,
            "totp_required_roles": ["admin", "finance", "purchasing_manager"],
            "totp_issuer": "某公司后台",
        }
    )
    assert login_policy(settings) == LoginPolicy(
        account_failures=3,
        address_failures=50,
        failure_window=timedelta(minutes=10),
        lockout=timedelta(hours=1),
        totp_roles=frozenset({"admin", "finance", "purchasing_manager"}),
        totp_issuer="某公司后台",
    )
    assert login_policy(Settings()) == LoginPolicy()
