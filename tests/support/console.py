"""Helpers of the console tests: a browser-like client of the app create_app builds (cookies
kept, calling from BROWSER_IP), signing in through the login form, reading pages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from api.deps import AppDeps
from api.main import create_app
from models.contracts.order import OrderPolicy
from tests.support import totp
from tests.support.stack import CARRIER_SECRET, PAY_SECRET, TOKEN_SECRET, Stack, fast_timings
from workers.seed import DEMO_PASSWORD

BROWSER_IP = "203.0.113.7"
"""The address the console's browser calls from; the API's audit rows must show it."""
STAFF_ROLES = (
    "admin",
    "ops",
    "purchasing",
    "purchasing_manager",
    "finance",
    "cs",
    "warehouse_manager",
)
"""The built-in staff roles; each demo user is named after its role (password DEMO_PASSWORD)."""
CANCELLERS = frozenset({"admin", "ops", "cs"})


def stack_deps(stack: Stack) -> AppDeps:
    """The API's wiring of a running stack (the same database, Temporal and task queue)."""
    from sqlalchemy.ext.asyncio import AsyncEngine

    engine = stack.sessions.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    return AppDeps(
        engine=engine,
        session_factory=stack.sessions,
        token_secret=TOKEN_SECRET,
        temporal=stack.client,
        task_queue=stack.task_queue,
        order_timings=fast_timings(),
        order_policy=OrderPolicy(),
        payment_webhook_secret=PAY_SECRET,
        carrier_webhook_secret=CARRIER_SECRET,
    )


@asynccontextmanager
async def browser(deps: AppDeps, ip: str = BROWSER_IP) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(deps), client=(ip, 50123))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://houtai.test", timeout=60
    ) as client:
        yield client


def csrf_of(client: httpx.AsyncClient) -> str:
    token = client.cookies.get("houtai_csrf")
    assert token, "the console sets its CSRF cookie with the first page"
    return token


async def sign_in(
    client: httpx.AsyncClient, username: str, password: str = DEMO_PASSWORD, next_: str = ""
) -> httpx.Response:
    page = await client.get("/console/login")
    assert page.status_code == 200, page.text
    form = {"username": username, "password": password, "csrf": csrf_of(client), "next": next_}
    code = await totp.code(client, username)  # admin and finance have a second factor
    if code is not None:
        form["totp_code"] = code
    return await client.post("/console/login", data=form)


async def signed_in(client: httpx.AsyncClient, username: str) -> None:
    answer = await sign_in(client, username)
    assert answer.status_code == 303, answer.text
    assert client.cookies.get("houtai_session")


def text_of(html: str) -> str:
    """The page's text without tags (for asserting on what a person reads)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
