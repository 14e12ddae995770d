"""The TOTP second factor (DESIGN §9): required for admin and finance, enrolled with an
otpauth URI and its QR code, a code good once; a user who must enrol gets a token good only
for enrolling."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select

from core.db import SessionFactory
from models.db import AuditEntry, User
from tests.support import totp
from tests.support.api import (
    PASSWORD,
    MakeHeaders,
    add_user,
    assert_audited,
    assert_problem,
    bearer,
    login,
    my_name,
)
from tests.unit.test_login_rules import png_size


async def sign_in(client: httpx.AsyncClient, username: str, **extra: Any) -> httpx.Response:
    return await client.post(
        "/v1/auth/login", json={"username": username, "password": PASSWORD, **extra}
    )


async def test_an_admin_without_a_second_factor_can_only_enrol_then_signs_in_with_codes(
    client: httpx.AsyncClient, session_factory: SessionFactory
) -> None:
    user_id = await add_user(session_factory, "new.admin", "admin", totp_enrolled=False)

    first = await sign_in(client, "new.admin")

    assert first.status_code == 200, first.text
    assert first.json()["scope"] == "totp_enrol"
    restricted = bearer(first.json()["access_token"])
    assert (await client.get("/v1/auth/me", headers=restricted)).status_code == 200
    for method, path in (("GET", "/v1/admin/users"), ("GET", "/v1/categories")):
        refused = await client.request(method, path, headers=restricted)
        assert refused.status_code == 403, refused.text
        assert refused.json()["type"] == "/problems/totp-enrolment-required"
    assert (await client.get("/v1/auth/totp/qr.png", headers=restricted)).status_code == 404

    enrolment = await client.post("/v1/auth/totp/enrol", headers=restricted)
    assert enrolment.status_code == 201, enrolment.text
    secret = enrolment.json()["secret"]
    uri = urlsplit(enrolment.json()["otpauth_uri"])
    assert (uri.scheme, uri.path) == ("otpauth", "/houtai:new.admin")
    assert parse_qs(uri.query)["secret"] == [secret]
    qr = await client.get(enrolment.json()["qr_png_url"], headers=restricted)
    assert qr.status_code == 200
    assert qr.headers["content-type"] == "image/png"
    assert qr.headers["cache-control"] == "no-store"
    width, height = png_size(qr.content)
    assert width == height > 100
    async with session_factory() as session:
        pending = await session.get_one(User, user_id)
        assert (pending.totp_secret, pending.totp_enabled_at) == (secret, None)

    wrong = await client.post(
        "/v1/auth/totp/confirm", json={"code": totp.wrong_code(secret)}, headers=restricted
    )
    assert wrong.status_code == 422, wrong.text
    assert [e["field"] for e in wrong.json()["errors"]] == ["code"]
    totp.enrolled("new.admin", secret)
    code = await totp.code(client, "new.admin")
    confirmed = await client.post("/v1/auth/totp/confirm", json={"code": code}, headers=restricted)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["scope"] == "full"
    full = bearer(confirmed.json()["access_token"])
    assert (await client.get("/v1/admin/users", headers=full)).status_code == 200
    assert (await client.get("/v1/auth/me", headers=restricted)).status_code == 401  # ended
    again = await client.post("/v1/auth/totp/enrol", headers=full)
    assert again.status_code == 409
    assert (await client.get("/v1/auth/totp/qr.png", headers=full)).status_code == 404

    without_code = await sign_in(client, "new.admin")
    assert without_code.status_code == 401
    assert_problem(without_code)
    assert without_code.json()["type"] == "/problems/totp-required"
    assert "access_token" not in without_code.json()
    signed_in = await login(client, "new.admin", PASSWORD)
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["scope"] == "full"
    await assert_audited(session_factory, "new.admin", "user.totp_enable", "user", user_id)


async def test_a_code_is_accepted_once(
    client: httpx.AsyncClient, session_factory: SessionFactory
) -> None:
    await add_user(session_factory, "fin.one", "finance")
    code = await totp.code(client, "fin.one")
    assert code is not None

    first = await sign_in(client, "fin.one", totp_code=code)
    replayed = await sign_in(client, "fin.one", totp_code=code)

    assert first.status_code == 200, first.text
    assert replayed.status_code == 401, replayed.text
    assert replayed.json()["type"] == "/problems/totp-invalid"
    racing_code = await totp.code(client, "fin.one")
    racing = await asyncio.gather(
        *(sign_in(client, "fin.one", totp_code=racing_code) for _ in range(3))
    )
    assert sorted(a.status_code for a in racing) == [200, 401, 401]


async def test_wrong_codes_count_towards_the_lockout(
    client: httpx.AsyncClient, session_factory: SessionFactory
) -> None:
    await add_user(session_factory, "fin.two", "finance")
    wrong = totp.wrong_code(totp.TEST_TOTP_SECRET)

    answers = [await sign_in(client, "fin.two", totp_code=wrong) for _ in range(5)]

    assert [a.status_code for a in answers] == [401, 401, 401, 401, 429]
    assert (await login(client, "fin.two", PASSWORD)).status_code == 429


async def test_roles_without_the_requirement_sign_in_with_a_password_only(
    client: httpx.AsyncClient, session_factory: SessionFactory
) -> None:
    await add_user(session_factory, "ops.one", "ops", "cs", "warehouse_manager")

    answer = await sign_in(client, "ops.one")

    assert answer.status_code == 200, answer.text
    assert answer.json()["scope"] == "full"
    headers = bearer(answer.json()["access_token"])
    assert (await client.get("/v1/categories", headers=headers)).status_code == 200


async def test_admin_resets_a_lost_second_factor(
    client: httpx.AsyncClient, user_headers: MakeHeaders, session_factory: SessionFactory
) -> None:
    admin = await user_headers("admin")
    user_id = await add_user(session_factory, "fin.lost", "finance")
    token = bearer((await login(client, "fin.lost", PASSWORD)).json()["access_token"])
    listed = await client.get("/v1/admin/users", headers=admin)
    assert {u["username"]: u["totp_enabled"] for u in listed.json()["data"]}["fin.lost"] is True

    reset = await client.delete(f"/v1/admin/users/{user_id}/totp", headers=admin)

    assert reset.status_code == 204, reset.text
    assert (await client.get("/v1/auth/me", headers=token)).status_code == 401
    again = await sign_in(client, "fin.lost")
    assert (again.status_code, again.json()["scope"]) == (200, "totp_enrol")
    async with session_factory() as session:
        user = await session.get_one(User, user_id)
        assert (user.totp_secret, user.totp_enabled_at, user.totp_last_step) == (None, None, None)
        audit = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "user.totp_reset")
        )
    assert audit is not None
    assert (audit.actor_name, audit.object_id) == (await my_name(client, admin), str(user_id))


async def test_api_keys_have_no_second_factor_to_enrol(
    client: httpx.AsyncClient, key_headers: MakeHeaders
) -> None:
    shop = await key_headers("storefront")
    assert (await client.post("/v1/auth/totp/enrol", headers=shop)).status_code == 403
    assert (await client.get("/v1/auth/totp/qr.png", headers=shop)).status_code == 403
