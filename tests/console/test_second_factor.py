"""Enrolling the second factor in the console: an admin or finance user without one signs in,
sees the QR code and the secret, and types the app's code to get a full session."""

from __future__ import annotations

import re

import httpx

from api.deps import AppDeps
from tests.support import totp
from tests.support.api import bearer, login
from tests.support.console import browser, csrf_of, sign_in, text_of
from workers.seed import DEMO_PASSWORD

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


async def new_admin(api: httpx.AsyncClient, username: str) -> None:
    """An admin created by the demo admin; no second factor yet."""
    demo = await login(api, "admin", DEMO_PASSWORD)
    assert demo.status_code == 200, demo.text
    created = await api.post(
        "/v1/admin/users",
        json={
            "username": username,
            "display_name": "New Admin",
            "password": DEMO_PASSWORD,
            "roles": ["admin"],
        },
        headers=bearer(demo.json()["access_token"]),
    )
    assert created.status_code == 201, created.text
    totp.enrolled(username, None)


def shown_secret(html: str) -> str:
    found = re.search(r'id="totp-secret">([A-Z2-7]+)<', html)
    assert found, "the enrolment page shows the secret for manual entry"
    return found.group(1)


async def test_an_admin_without_a_second_factor_enrols_then_works_fully(
    deps: AppDeps, api: httpx.AsyncClient
) -> None:
    await new_admin(api, "admin.new")
    async with browser(deps) as web:
        signed = await sign_in(web, "admin.new", next_="/console/orders?status=paid")
        assert signed.status_code == 303, signed.text
        enrol_at = "/console/totp?next=%2Fconsole%2Forders%3Fstatus%3Dpaid"
        assert signed.headers["location"] == enrol_at  # not back to the login page
        # Every other page sends an enrol-only session to the enrolment page.
        for page_path in ("/console/", "/console/orders", "/console/search?q=x"):
            elsewhere = await web.get(page_path)
            assert elsewhere.status_code == 303, page_path
            assert elsewhere.headers["location"].startswith("/console/totp?next="), page_path

        page = await web.get(enrol_at)
        assert page.status_code == 200, page.text
        assert "绑定动态验证码" in text_of(page.text)
        assert 'src="/console/totp/qr.png"' in page.text
        secret = shown_secret(page.text)
        assert 'name="csrf"' in page.text
        qr = await web.get("/console/totp/qr.png")
        assert qr.status_code == 200
        assert qr.headers["content-type"] == "image/png"
        assert qr.content.startswith(PNG_MAGIC)
        assert "img-src 'self'" in qr.headers["content-security-policy"]

        form = {"csrf": csrf_of(web), "secret": secret, "next": "/console/orders?status=paid"}
        wrong = await web.post("/console/totp", data={**form, "code": totp.wrong_code(secret)})
        assert wrong.status_code == 422
        assert "绑定失败：验证码不对，请检查手机时间是否准确" in text_of(wrong.text)
        assert shown_secret(wrong.text) == secret  # still on the same page, same secret
        assert (await web.get("/console/orders")).status_code == 303  # still enrol-only

        forged = await web.post("/console/totp", data={**form, "csrf": "x" * 43, "code": "1"})
        assert forged.status_code == 403

        totp.enrolled("admin.new", secret)
        code = await totp.code(web, "admin.new")
        assert code is not None
        done = await web.post("/console/totp", data={**form, "code": code})
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "/console/orders?status=paid"
        orders = await web.get("/console/orders?status=paid")
        assert orders.status_code == 200, orders.text
        assert 'data-menu="orders.read"' in orders.text
        assert "admin.new" in text_of(orders.text)
        again = await web.get("/console/totp")
        assert (again.status_code, again.headers["location"]) == (303, "/console/")
        assert (await web.get("/console/totp/qr.png")).status_code == 404

        # From now on the login form asks for the code (a fresh one: a code is good once).
        await web.post("/console/logout", data={"csrf": csrf_of(web)})
        later = await sign_in(web, "admin.new")
        assert later.status_code == 303, later.text
        assert later.headers["location"] == "/console/"


async def test_the_enrolment_page_needs_a_session(web: httpx.AsyncClient) -> None:
    page = await web.get("/console/totp")
    assert page.status_code == 303
    assert page.headers["location"].startswith("/console/login?")
    assert (await web.get("/console/totp/qr.png")).status_code == 303
