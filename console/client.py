"""The console's way to /v1: in process, over httpx's ASGI transport, with the signed-in
person's own bearer token and the browser's address as the ASGI client, so the API checks their
permissions and its audit rows name them and their real IP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.types import ASGIApp

from console.i18n import Translator
from console.refusals import error_text, problem_text

Json = dict[str, Any]
_INTERNAL_BASE = "http://houtai.internal"  # never resolved: the transport calls the app itself


class SignedOut(Exception):
    """No session, or the API no longer accepts its token (expired, user disabled)."""


class Forbidden(Exception):
    """The person's roles do not allow the page or the action."""


class WorkerSignInRequired(Forbidden):
    """A paired handheld with nobody signed in on it: the API refuses its worker's actions."""


class EnrolmentRequired(Exception):
    """The person must enrol a TOTP second factor before anything else (their token's scope is
    totp_enrol)."""


class NotFound(Exception):
    """The API knows no such object."""


class Refused(Exception):
    """The API refused a request (problem+json 409/422/...): shown next to the form, in the
    page's language where the catalogue has the words (console/refusals.py)."""

    def __init__(self, status: int, problem: Json, words: Translator | None = None) -> None:
        said = problem_text(problem, words) if words is not None else None
        super().__init__(said or problem.get("detail") or problem.get("title") or str(status))
        self.status = status
        self.problem = problem
        self.words = words

    @property
    def detail(self) -> str:
        return str(self.args[0])

    def message_of(self, error: Json) -> str:
        """One error's message, for the field it names: in the page's language where known."""
        said = error_text(error, self.words) if self.words is not None else None
        return said or str(error.get("message") or self.detail)


@asynccontextmanager
async def connect(
    api: ASGIApp, token: str | None, client: tuple[str, int], words: Translator | None = None
) -> AsyncIterator[ApiClient]:
    """A client of the in-process API acting as the token's owner from the client address;
    its refusals said in `words`' language where it can."""
    transport = httpx.ASGITransport(app=api, client=client)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(
        transport=transport, base_url=_INTERNAL_BASE, headers=headers, timeout=60
    ) as http:
        yield ApiClient(http, words)


class ApiClient:
    def __init__(self, http: httpx.AsyncClient, words: Translator | None = None) -> None:
        self.http = http
        self.words = words

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Json:
        return _answer(await self.http.get(path, params=params), self.words)

    async def post(
        self, path: str, body: Json | None = None, *, headers: dict[str, str] | None = None
    ) -> Json:
        return _answer(await self.http.post(path, json=body or {}, headers=headers), self.words)

    async def put(self, path: str, body: Json) -> Json:
        return await self.send("PUT", path, body)

    async def patch(self, path: str, body: Json) -> Json:
        return await self.send("PATCH", path, body)

    async def send(self, method: str, path: str, body: Json | None = None) -> Json:
        """Any method (a form's PUT, PATCH or DELETE), answered like get and post."""
        return _answer(await self.http.request(method, path, json=body), self.words)

    async def get_bytes(self, path: str) -> tuple[bytes, str]:
        """A non-JSON answer (an image): its body and content type."""
        response = await self.http.get(path)
        if response.status_code >= 400:
            _answer(response, self.words)
        return response.content, response.headers.get("content-type", "")


def _answer(response: httpx.Response, words: Translator | None = None) -> Json:
    if response.status_code == 401 and "/problems/totp" in response.text:
        # A sign-in that needs its second factor: a refusal the login page explains.
        raise Refused(401, response.json(), words)
    if response.status_code == 401:
        raise SignedOut
    if response.status_code == 403 and "/problems/totp-enrolment-required" in response.text:
        raise EnrolmentRequired
    if response.status_code == 403 and "/problems/worker-sign-in-required" in response.text:
        raise WorkerSignInRequired
    if response.status_code == 403:
        raise Forbidden
    if response.status_code == 404:
        raise NotFound
    body: Json = response.json() if response.content else {}
    if response.status_code >= 400:
        raise Refused(response.status_code, body, words)
    return body
