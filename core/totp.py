"""The TOTP second factor (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits), its otpauth:// URI
(the Google Authenticator key-URI format every authenticator app reads) and that URI as a QR PNG.

A code is accepted for one step either side of now (clock drift between the phone and us), and
only for a step later than the last one the user used, so a code overheard or replayed within
its 90 seconds is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import secrets
import struct
from datetime import datetime
from urllib.parse import quote, urlencode

import segno

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1


def new_totp_secret() -> str:
    """160 random bits (RFC 4226's recommended length), base32 without padding."""
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def time_step(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def totp_code(secret: str, step: int) -> str:
    """The code of `step` (RFC 4226 HOTP with the step as counter)."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**DIGITS).zfill(DIGITS)


def matching_step(secret: str, code: str, *, now: datetime, after: int | None) -> int | None:
    """The step `code` belongs to, within the drift window and later than `after` (the last
    step used); None when the code is wrong, out of the window or already used."""
    current = time_step(now)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        # Compare every candidate in constant time; no early exit on a match.
        if hmac.compare_digest(totp_code(secret, step), code) and (after is None or step > after):
            found = step
    return found


def otpauth_uri(secret: str, *, account: str, issuer: str) -> str:
    label = quote(f"{issuer}:{account}", safe=":@")
    query = urlencode(
        {"secret": secret, "issuer": issuer, "algorithm": "SHA1", "digits": DIGITS,
         "period": STEP_SECONDS}
    )  # fmt: skip
    return f"otpauth://totp/{label}?{query}"


def qr_png(text: str) -> bytes:
    """`text` as a QR code PNG (segno writes PNG itself, no imaging library)."""
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="png", scale=6, border=4)
    return out.getvalue()
