"""Lockout after repeated failed sign-ins, per account and per address (DESIGN §9): a clear
429 with when it ends, the same for names that do not exist, held in PostgreSQL across API
processes, and an admin unlock that is audited."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, update

from api.deps import AppDeps
from core.db import SessionFactory, make_engine, make_session_factory
from core.security import new_secret
from models.db import AuditEntry, LoginFailure
from models.domain.logins import LoginPolicy
from tests.support.api import (
    CLIENT_IP,
    PASSWORD,
    MakeHeaders,
    add_user,
    asgi_client,
    assert_audited,
    assert_problem,
    login,
    my_name,
)

WRONG = "Tr0ub4dor&3-wrong"


def assert_locked(answer: httpx.Response, *, within: timedelta = timedelta(minutes=15)) -> str:
    """A lockout answer: 429 problem, Retry-After, locked_until; returns its detail."""
    assert answer.status_code == 429, answer.text
    assert_problem(answer)
    body = answer.json()
    assert body["type"] == "/problems/sign-in-locked"
    assert "access_token" not in body
    until = datetime.fromisoformat(body["locked_until"])
    assert timedelta(0) < until - datetime.now(UTC) <= within
    assert 0 < int(answer.headers["retry-after"]) <= within.total_seconds() + 1
    return str(body["detail"])


async def test_five_failures_lock_the_account_even_against_the_right_password(
    client: httpx.AsyncClient, session_factory: SessionFactory
) -> None:
    await add_user(session_factory, "li.lei", "ops")

    answers = [await login(client, "li.lei", WRONG) for _ in range(5)]

    assert [a.status_code for a in answers] == [401, 401, 401, 401, 429]
    detail = assert_locked(answers[-1])
    assert "locked until" in detail and "administrator" in detail
    assert_locked(await login(client, "li.lei", PASSWORD))  # the right password waits too
    async with session_factory() as session:
        failures = (await session.scalars(select(LoginFailure))).all()
    assert [(f.username, f.client_ip, f.reason) for f in failures] == [
        ("li.lei", CLIENT_IP, "password")
    ] * 5  # refused while locked: not even counted, the password is never checked
    audits = await _login_audits(session_factory)
    assert audits == [401, 401, 401, 401, 429, 429]


async def test_parallel_guesses_cannot_slip_under_the_limit(
    client: httpx.AsyncClient, session_factory: SessionFactory
) -> None:
    await add_user(session_factory, "li.lei", "ops")

    answers = await asyncio.gather(*(login(client, "li.lei", WRONG) for _ in range(8)))

    assert sorted(a.status_code for a in answers) == [401] * 4 + [429] * 4
    async with session_factory() as session:
        assert len((await session.scalars(select(LoginFailure))).all()) == 5


async def test_unknown_usernames_lock_the_same_way(
    client: httpx.AsyncClient, session_factory: SessionFactory
) -> None:
    await add_user(session_factory, "li.lei", "ops")
    for _ in range(5):
        await login(client, "li.lei", WRONG)
        await login(client, "no.such.person", WRONG)

    real = await login(client, "li.lei", WRONG)
    unknown = await login(client, "no.such.person", WRONG)

    assert assert_locked(real) == assert_locked(unknown)


async def test_a_lock_ends_when_its_time_is_served_and_a_success_clears_the_count(
    client: httpx.AsyncClient, session_factory: SessionFactory
) -> None:
    await add_user(session_factory, "li.lei", "ops")
    for _ in range(5):
        await login(client, "li.lei", WRONG)
    assert_locked(await login(client, "li.lei", PASSWORD))

    async with session_factory() as session:  # sixteen minutes later
        await session.execute(
            update(LoginFailure).values(at=LoginFailure.at - timedelta(minutes=16))
        )
        await session.commit()

    assert (await login(client, "li.lei", PASSWORD)).status_code == 200
    async with session_factory() as session:
        assert (await session.scalars(select(LoginFailure))).all() == []
    for _ in range(4):  # a fresh count: four more failures do not lock
        assert (await login(client, "li.lei", WRONG)).status_code == 401
    assert (await login(client, "li.lei", PASSWORD)).status_code == 200


async def test_admin_unlocks_an_account_and_it_is_audited(
    client: httpx.AsyncClient, user_headers: MakeHeaders, session_factory: SessionFactory
) -> None:
    user_id = await add_user(session_factory, "li.lei", "ops")
    admin = await user_headers("admin")
    for _ in range(5):
        await login(client, "li.lei", WRONG)
    assert_locked(await login(client, "li.lei", PASSWORD))

    ops = await user_headers("ops")
    refused = await client.post(f"/v1/admin/users/{user_id}/unlock", headers=ops)
    assert refused.status_code == 403
    assert_locked(await login(client, "li.lei", PASSWORD))
    unlocked = await client.post(f"/v1/admin/users/{user_id}/unlock", headers=admin)

    assert unlocked.status_code == 200, unlocked.text
    assert unlocked.json() == {"subject": "li.lei", "failures_cleared": 5}
    assert (await login(client, "li.lei", PASSWORD)).status_code == 200
    row = await assert_audited(
        session_factory, await my_name(client, admin), "user.unlock", "user", user_id
    )
    assert row.detail == {"failures_cleared": 5}
    missing = await client.post("/v1/admin/users/999999/unlock", headers=admin)
    assert missing.status_code == 404


async def test_an_address_failing_across_accounts_is_throttled(
    deps: AppDeps, user_headers: MakeHeaders, session_factory: SessionFactory
) -> None:
    strict = replace(deps, login_policy=LoginPolicy(address_failures=4))
    admin = await user_headers("admin")
    await add_user(session_factory, "li.lei", "ops")
    async with (
        asgi_client(strict, ("203.0.113.9", 1000)) as sprayer,
        asgi_client(strict, ("198.51.100.1", 1000)) as office,
    ):
        answers = [await login(sprayer, f"guess{n}", WRONG) for n in range(4)]
        assert [a.status_code for a in answers] == [401, 401, 401, 429]
        detail = assert_locked(await login(sprayer, "li.lei", PASSWORD))
        assert "this address" in detail
        # The account itself is not locked: from another address it signs in.
        assert (await login(office, "li.lei", PASSWORD)).status_code == 200

        bad = await office.post("/v1/admin/login-addresses/not-an-ip/unlock", headers=admin)
        assert bad.status_code == 422
        unlocked = await office.post("/v1/admin/login-addresses/203.0.113.9/unlock", headers=admin)
        assert unlocked.status_code == 200, unlocked.text
        assert unlocked.json() == {"subject": "203.0.113.9", "failures_cleared": 4}
        assert (await login(sprayer, "li.lei", PASSWORD)).status_code == 200
    async with session_factory() as session:
        audit = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "login_address.unlock")
        )
    assert audit is not None
    assert (audit.object_type, audit.object_id) == ("login_address", "203.0.113.9")


async def test_failures_count_across_api_processes(
    deps: AppDeps, session_factory: SessionFactory, database_url: str
) -> None:
    """Two API processes (own apps, own connection pools) on one database share the count."""
    await add_user(session_factory, "li.lei", "ops")
    other_engine = make_engine(database_url, pool_size=2)
    other = AppDeps(
        engine=other_engine,
        session_factory=make_session_factory(other_engine),
        token_secret=new_secret(),
    )
    try:
        async with (
            asgi_client(deps, (CLIENT_IP, 1)) as one,
            asgi_client(other, (CLIENT_IP, 2)) as two,
        ):
            for api in (one, two, one, two):
                assert (await login(api, "li.lei", WRONG)).status_code == 401
            assert_locked(await login(two, "li.lei", WRONG))
            assert_locked(await login(one, "li.lei", PASSWORD))
    finally:
        await other_engine.dispose()


async def _login_audits(session_factory: SessionFactory) -> list[int]:
    async with session_factory() as session:
        rows = await session.scalars(
            select(AuditEntry.status_code)
            .where(AuditEntry.path == "/v1/auth/login")
            .order_by(AuditEntry.id)
        )
        return list(rows)
