"""Sessions end at the next request when the user is disabled, changes password or has them
revoked by an admin; the password policy; the IP allow-lists applied to sign-in (DESIGN §9)."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
from sqlalchemy import select

from api.deps import AppDeps
from core.db import SessionFactory
from core.security import verify_password
from models.db import LoginFailure, User
from tests.support.api import (
    PASSWORD,
    Headers,
    MakeHeaders,
    add_user,
    asgi_client,
    assert_audited,
    bearer,
    login,
    my_name,
    problem_fields,
)

NEW_PASSWORD = "Spring-2027-rotation"


async def token_of(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> Headers:
    answer = await login(client, username, password)
    assert answer.status_code == 200, answer.text
    return bearer(answer.json()["access_token"])


async def me_status(client: httpx.AsyncClient, headers: Headers) -> int:
    return (await client.get("/v1/auth/me", headers=headers)).status_code


async def test_admin_revokes_every_session_of_a_user(
    client: httpx.AsyncClient, user_headers: MakeHeaders, session_factory: SessionFactory
) -> None:
    admin = await user_headers("admin")
    user_id = await add_user(session_factory, "wang.fang", "ops")
    laptop, phone = await token_of(client, "wang.fang"), await token_of(client, "wang.fang")
    bystander = await user_headers("ops")

    answer = await client.post(f"/v1/admin/users/{user_id}/revoke-sessions", headers=admin)

    assert answer.status_code == 204, answer.text
    assert [await me_status(client, t) for t in (laptop, phone, bystander)] == [401, 401, 200]
    assert await me_status(client, await token_of(client, "wang.fang")) == 200  # may sign in
    await assert_audited(
        session_factory, await my_name(client, admin), "user.revoke_sessions", "user", user_id
    )
    assert (
        await client.post("/v1/admin/users/999999/revoke-sessions", headers=admin)
    ).status_code == 404


async def test_password_set_by_an_admin_ends_the_users_sessions(
    client: httpx.AsyncClient, user_headers: MakeHeaders, session_factory: SessionFactory
) -> None:
    admin = await user_headers("admin")
    user_id = await add_user(session_factory, "wang.fang", "ops")
    token = await token_of(client, "wang.fang")
    renamed = await client.patch(
        f"/v1/admin/users/{user_id}", json={"display_name": "王芳"}, headers=admin
    )
    assert renamed.status_code == 200
    assert await me_status(client, token) == 200  # other changes leave sessions alone

    answer = await client.patch(
        f"/v1/admin/users/{user_id}", json={"password": NEW_PASSWORD}, headers=admin
    )

    assert answer.status_code == 200, answer.text
    assert await me_status(client, token) == 401
    assert await me_status(client, await token_of(client, "wang.fang", NEW_PASSWORD)) == 200


async def test_a_disabled_user_is_out_at_the_next_request(
    client: httpx.AsyncClient, user_headers: MakeHeaders, session_factory: SessionFactory
) -> None:
    admin = await user_headers("admin")
    user_id = await add_user(session_factory, "wang.fang", "ops")
    token = await token_of(client, "wang.fang")
    assert (await client.get("/v1/categories", headers=token)).status_code == 200

    await client.patch(f"/v1/admin/users/{user_id}", json={"active": False}, headers=admin)
    assert (await client.get("/v1/categories", headers=token)).status_code == 401
    await client.patch(f"/v1/admin/users/{user_id}", json={"active": True}, headers=admin)

    # Enabled again, the old session stays ended: the user signs in afresh.
    assert (await client.get("/v1/categories", headers=token)).status_code == 401
    assert await me_status(client, await token_of(client, "wang.fang")) == 200


async def test_a_user_changes_their_own_password(
    client: httpx.AsyncClient, session_factory: SessionFactory
) -> None:
    user_id = await add_user(session_factory, "wang.fang", "ops")
    laptop, phone = await token_of(client, "wang.fang"), await token_of(client, "wang.fang")

    async def change(current: str, new: str) -> httpx.Response:
        body = {"current_password": current, "new_password": new}
        return await client.post("/v1/auth/password", json=body, headers=laptop)

    wrong_current = await change("not-my-password", NEW_PASSWORD)
    assert wrong_current.status_code == 422
    assert problem_fields(wrong_current) == ["current_password"]
    weak = await change(PASSWORD, "Wang.Fang-2027")
    assert weak.status_code == 422
    assert problem_fields(weak) == ["new_password"]
    assert "username" in weak.json()["detail"]

    changed = await change(PASSWORD, NEW_PASSWORD)

    assert changed.status_code == 200, changed.text
    fresh = bearer(changed.json()["access_token"])
    assert [await me_status(client, t) for t in (laptop, phone, fresh)] == [401, 401, 200]
    assert (await login(client, "wang.fang", PASSWORD)).status_code == 401
    async with session_factory() as session:
        assert verify_password((await session.get_one(User, user_id)).password_hash, NEW_PASSWORD)
    await assert_audited(session_factory, "wang.fang", "user.password_change", "user", user_id)


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("Sh0rt-pw", "at least 10"),
        ("Password2026!", "common"),
        ("x.newbie-secret-1", "username"),
        ("onlylowercaseletters", "two of"),
    ],
)
async def test_the_password_policy_applies_when_an_admin_sets_one(
    client: httpx.AsyncClient,
    user_headers: MakeHeaders,
    session_factory: SessionFactory,
    password: str,
    why: str,
) -> None:
    admin = await user_headers("admin")
    body = {"username": "x.newbie", "display_name": "新人", "password": password, "roles": ["cs"]}

    created = await client.post("/v1/admin/users", json=body, headers=admin)

    assert created.status_code == 422, created.text
    assert problem_fields(created) == ["password"]
    assert why in created.json()["detail"]
    user_id = await add_user(session_factory, "x.newbie", "cs")
    changed = await client.patch(
        f"/v1/admin/users/{user_id}", json={"password": password}, headers=admin
    )
    assert changed.status_code == 422, changed.text
    assert problem_fields(changed) == ["password"]
    assert await token_of(client, "x.newbie")  # the old password still works


async def test_sign_in_only_from_the_login_allow_list(
    deps: AppDeps, session_factory: SessionFactory
) -> None:
    await add_user(session_factory, "wang.fang", "ops")
    limited = replace(deps, login_ip_allowlist=["10.8.0.0/16", "192.168.0.0/24"])

    async with asgi_client(limited, ("203.0.113.5", 1)) as outside:
        refused = await login(outside, "wang.fang", PASSWORD)
        assert refused.status_code == 403, refused.text
        assert "access_token" not in refused.json()
        unknown = await login(outside, "nobody", "whatever")
        assert (unknown.status_code, unknown.json()["detail"]) == (403, refused.json()["detail"])
    for inside_ip in ("10.8.3.4", "192.168.0.9"):
        async with asgi_client(limited, (inside_ip, 1)) as inside:
            assert (await login(inside, "wang.fang", PASSWORD)).status_code == 200
    async with session_factory() as session:
        assert (await session.scalars(select(LoginFailure))).all() == []  # refused, not counted


async def test_admins_sign_in_only_from_the_admin_allow_list(
    deps: AppDeps, session_factory: SessionFactory
) -> None:
    await add_user(session_factory, "root.one", "admin")
    await add_user(session_factory, "ops.one", "ops")
    allowlisted = replace(deps, admin_ip_allowlist=["192.168.0.0/24"])

    async with asgi_client(allowlisted, ("10.1.2.3", 1)) as outside:
        refused = await login(outside, "root.one", PASSWORD)
        assert refused.status_code == 403, refused.text
        assert "access_token" not in refused.json()
        assert (await login(outside, "root.one", "wrong-password!")).status_code == 401
        assert (await login(outside, "ops.one", PASSWORD)).status_code == 200
    async with asgi_client(allowlisted, ("192.168.0.7", 1)) as inside:
        answer = await login(inside, "root.one", PASSWORD)
        assert answer.status_code == 200, answer.text
        assert answer.json()["scope"] == "full"
