"""Helpers shared by the API route tests."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx
from argon2 import PasswordHasher
from sqlalchemy import func, select

from api.deps import AppDeps
from api.main import create_app
from core.db import SessionFactory
from models.db import AuditEntry, Base, User, UserRole
from models.domain.logins import LoginPolicy
from tests.support import totp

Headers = dict[str, str]
MakeHeaders = Callable[..., Awaitable[Headers]]

PASSWORD = "correct-horse-battery"
CLIENT_IP = "10.1.2.3"
"""The address the `client` fixture calls from; audit rows record it."""


_LIGHT_ARGON2 = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def light_password_hash(password: str) -> str:
    """An argon2id hash of `password` with the least work argon2 allows, for the users tests
    store. The API verifies it the production way (core.security.verify_password reads the
    work factors from the hash itself), but where a production-strength hash takes 0.1-0.7 s to
    verify on the CI machine (slow on purpose), this one takes about a millisecond: every
    sign-in of a test paid that. The production hashing itself is tested on its own
    (tests/unit/test_security.py, the seed's and the password-changing routes' tests)."""
    return _LIGHT_ARGON2.hash(password)


@functools.cache
def _password_hash() -> str:
    """PASSWORD's hash (light_password_hash), made once per process and stored for every user
    add_user makes: a hash of its own per test user proves nothing the logins do not."""
    return light_password_hash(PASSWORD)


def asgi_client(deps: AppDeps, client: tuple[str, int] = ("127.0.0.1", 123)) -> httpx.AsyncClient:
    """A client for the app create_app builds from deps, calling from the given address."""
    transport = httpx.ASGITransport(app=create_app(deps), client=client)
    return httpx.AsyncClient(transport=transport, base_url="http://houtai.test")


def bearer(token: str) -> Headers:
    return {"Authorization": f"Bearer {token}"}


async def add_user(
    session_factory: SessionFactory,
    username: str,
    *roles: str,
    active: bool = True,
    totp_enrolled: bool | None = None,
) -> int:
    """Store a staff user with PASSWORD and the given roles; return its id. A user whose roles
    require a second factor (unless totp_enrolled=False), or any with totp_enrolled=True, is
    enrolled with totp.TEST_TOTP_SECRET, and login() below sends its codes."""
    if totp_enrolled is None:
        totp_enrolled = bool(set(roles) & LoginPolicy().totp_roles)
    totp_secret = totp.TEST_TOTP_SECRET if totp_enrolled else None
    totp.enrolled(username, totp_secret)
    async with session_factory() as session:
        user = User(
            username=username,
            display_name=username,
            password_hash=_password_hash(),
            active=active,
            totp_secret=totp_secret,
            totp_enabled_at=datetime.now(UTC) if totp_secret else None,
        )
        session.add(user)
        await session.flush()
        session.add_all(UserRole(user_id=user.id, role=r) for r in roles)
        await session.commit()
        return user.id


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    """Sign in; for a user with a second factor, with a fresh code from its secret."""
    body = {"username": username, "password": password}
    code = await totp.code(client, username)
    if code is not None:
        body["totp_code"] = code
    return await client.post("/v1/auth/login", json=body)


async def my_name(client: httpx.AsyncClient, headers: Headers) -> str:
    """The actor name the API records for these credentials."""
    answer = await client.get("/v1/auth/me", headers=headers)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["name"])


def assert_problem(answer: httpx.Response) -> None:
    """The answer is an RFC 9457 problem whose status matches the HTTP status."""
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
    assert answer.json()["status"] == answer.status_code


def problem_fields(answer: httpx.Response) -> list[str]:
    """The fields a problem answer names; every error entry must name one."""
    assert_problem(answer)
    return [e["field"] for e in answer.json().get("errors", [])]


async def row_count(session_factory: SessionFactory, model: type[Base]) -> int:
    """How many rows the model's table holds."""
    async with session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def audit_rows(session_factory: SessionFactory, path: str) -> list[AuditEntry]:
    """The audit rows of requests to path, oldest first."""
    async with session_factory() as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.path == path).order_by(AuditEntry.id)
        )
        return list(rows)


async def assert_audited(
    session_factory: SessionFactory, actor: str, action: str, object_type: str, object_id: object
) -> AuditEntry:
    """The one audit row of action on the object, written for the user actor from CLIENT_IP."""
    async with session_factory() as session:
        rows = (
            await session.scalars(
                select(AuditEntry)
                .where(
                    AuditEntry.action == action,
                    AuditEntry.object_type == object_type,
                    AuditEntry.object_id == str(object_id),
                )
                .order_by(AuditEntry.id)
            )
        ).all()
    assert len(rows) == 1, [(r.action, r.object_id) for r in rows]
    row = rows[0]
    assert (row.actor_type, row.actor_name, row.client_ip) == ("user", actor, CLIENT_IP)
    return row
