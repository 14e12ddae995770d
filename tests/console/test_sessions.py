"""Signing in and out of the console, its cookies, CSRF, headers, language, and /docs offline."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

from api.deps import AppDeps
from console.auth import login_body
from console.security import CONTENT_SECURITY_POLICY
from core.security import issue_token
from models.db import User
from tests.support.console import browser, csrf_of, sign_in, signed_in, text_of
from tests.support.stack import TOKEN_SECRET, Stack

VENDOR = Path(__file__).parents[2] / "console" / "static" / "vendor"


async def test_signing_in_goes_back_to_the_page_asked_for_with_a_strict_cookie(
    web: httpx.AsyncClient,
) -> None:
    asked = await web.get("/console/orders?status=paid")
    assert asked.status_code == 303
    assert asked.headers["location"] == "/console/login?next=%2Fconsole%2Forders%3Fstatus%3Dpaid"

    answer = await sign_in(web, "ops", next_="/console/orders?status=paid")

    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/console/orders?status=paid"
    cookie = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith("houtai_session=")
    )
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/console"} <= flags
    assert "secure" not in flags  # plain http (tests); https below
    page = await web.get("/console/orders?status=paid")
    assert page.status_code == 200
    assert "ops" in text_of(page.text)


async def test_the_session_cookie_is_secure_over_https(deps: AppDeps) -> None:
    async with browser(deps) as client:
        client.base_url = httpx.URL("https://houtai.test")
        answer = await sign_in(client, "cs")
    assert answer.status_code == 303, answer.text
    cookie = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith("houtai_session=")
    )
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}


async def test_a_wrong_password_stays_on_the_login_page_with_a_message(
    web: httpx.AsyncClient,
) -> None:
    answer = await sign_in(web, "ops", password="not-the-password")
    assert answer.status_code == 401
    assert "用户名或密码错误" in answer.text
    assert web.cookies.get("houtai_session") is None


async def test_only_console_pages_are_targets_after_login(web: httpx.AsyncClient) -> None:
    for target in ("https://evil.example/", "//evil.example/console/", "/v1/orders"):
        answer = await sign_in(web, "ops", next_=target)
        assert answer.headers["location"] == "/console/", target


async def test_a_post_without_or_with_a_wrong_csrf_token_is_refused(
    web: httpx.AsyncClient,
) -> None:
    await web.get("/console/login")
    login = {"username": "ops", "password": "houtai-demo", "next": ""}
    missing = await web.post("/console/login", data=login)
    wrong = await web.post("/console/login", data={**login, "csrf": "x" * 43})
    for answer in (missing, wrong):
        assert answer.status_code == 403
        assert "请求已失效" in answer.text
    assert web.cookies.get("houtai_session") is None

    elsewhere = await web.post(
        "/console/login",
        data={**login, "csrf": csrf_of(web)},
        headers={"Origin": "https://evil.example"},
    )
    assert elsewhere.status_code == 403
    assert web.cookies.get("houtai_session") is None

    await signed_in(web, "ops")
    refused_logout = await web.post("/console/logout", data={"csrf": "wrong"})
    assert refused_logout.status_code == 403
    assert (await web.get("/console/")).status_code == 200  # still signed in


async def test_signing_out_ends_the_session(web: httpx.AsyncClient) -> None:
    await signed_in(web, "cs")
    answer = await web.post("/console/logout", data={"csrf": csrf_of(web)})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login?signed_out=true"
    assert web.cookies.get("houtai_session") is None
    assert (await web.get("/console/")).status_code == 303
    assert "已退出登录" in (await web.get(answer.headers["location"])).text


async def test_an_expired_session_goes_to_login_and_back_to_the_page(
    stack: Stack, web: httpx.AsyncClient
) -> None:
    async with stack.sessions() as session:
        user = await session.scalar(select(User).where(User.username == "purchasing"))
    assert user is not None
    now = datetime.now(UTC)
    expired, _ = issue_token(
        secret=TOKEN_SECRET,
        user_id=user.id,
        username="purchasing",
        roles=["purchasing"],
        ttl=timedelta(minutes=30),
        now=now - timedelta(hours=1),
    )
    web.cookies.set("houtai_session", expired, domain="houtai.test", path="/console")

    answer = await web.get("/console/orders?customer_id=7")

    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location == "/console/login?expired=true&next=%2Fconsole%2Forders%3Fcustomer_id%3D7"
    assert "登录已过期" in (await web.get(location)).text
    back = await sign_in(web, "purchasing", next_="/console/orders?customer_id=7")
    assert back.headers["location"] == "/console/orders?customer_id=7"
    assert (await web.get(back.headers["location"])).status_code == 200


async def test_pages_carry_a_strict_content_security_policy(web: httpx.AsyncClient) -> None:
    await signed_in(web, "ops")
    for path in ("/console/login", "/console/", "/console/orders"):
        answer = await web.get(path)
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "script-src 'self'" in CONTENT_SECURITY_POLICY
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["cache-control"] == "no-store"
        # No inline script anywhere: every <script> has a src on this site.
        scripts = re.findall(r"<script([^>]*)>", answer.text)
        assert scripts and all('src="/console/static/' in s for s in scripts)


async def test_the_language_switch_turns_the_console_to_english_and_back(
    web: httpx.AsyncClient,
) -> None:
    await signed_in(web, "ops")
    chinese = await web.get("/console/orders")
    assert "退出登录" in chinese.text and 'lang="zh-CN"' in chinese.text

    switch = await web.get("/console/lang/en", params={"next": "/console/orders?status=paid"})
    assert switch.headers["location"] == "/console/orders?status=paid"
    english = await web.get("/console/orders")
    assert "Sign out" in english.text and "退出登录" not in english.text
    assert 'lang="en"' in english.text

    await web.get("/console/lang/zh_CN")
    assert "退出登录" in (await web.get("/console/orders")).text


async def test_a_malformed_one_time_code_is_refused_before_the_api(web: httpx.AsyncClient) -> None:
    await web.get("/console/login")
    form = {"username": "ops", "password": "houtai-demo", "csrf": csrf_of(web)}
    answer = await web.post("/console/login", data={**form, "totp_code": "12ab"})
    assert answer.status_code == 422
    assert "6 位数字" in answer.text
    assert login_body("ops", "pw", "") == {"username": "ops", "password": "pw"}
    assert login_body("ops", "pw", "123456")["totp_code"] == "123456"


async def test_the_api_docs_load_nothing_from_other_hosts(web: httpx.AsyncClient) -> None:
    page = await web.get("/docs")
    assert page.status_code == 200
    assert re.findall(r"https?://", page.text) == []
    for asset in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        if asset.startswith("/"):
            assert (await web.get(asset)).status_code == 200, asset
    assert (await web.get("/redoc")).status_code == 404
    for folder in ("htmx", "swagger-ui"):
        assert (VENDOR / folder / "LICENSE").stat().st_size > 100
