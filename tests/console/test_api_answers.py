"""How the console reads the API's answers about the person: who they are and what they may do
(/v1/auth/me, and /v1/auth/grants for every permission, composed roles included), and why a sign-in
was refused."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from console.auth import refusal_message
from console.client import ApiClient, Json, Refused, SignedOut
from console.pages import who_is_signed_in


class Answers(ApiClient):
    def __init__(self, answers: dict[str, Json]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Json:
        self.asked.append(path)
        return self.answers[path]


ME = {"kind": "user", "id": 3, "name": "cs", "roles": ["cs"], "warehouse_id": None}


async def test_permissions_come_from_grants_composed_roles_included() -> None:
    grants = {"roles": ["cs"], "permissions": ["orders.read"], "warehouse_ids": None}
    api = Answers({"/v1/auth/me": ME, "/v1/auth/grants": grants})
    me = await who_is_signed_in(api)
    assert me.permissions == frozenset({"orders.read"})
    assert api.asked == ["/v1/auth/me", "/v1/auth/grants"]


async def test_a_device_key_is_not_a_console_session() -> None:
    api = Answers({"/v1/auth/me": {**ME, "kind": "api_key", "permissions": []}})
    with pytest.raises(SignedOut):
        await who_is_signed_in(api)


@pytest.mark.parametrize(
    ("status", "problem", "message"),
    [
        (
            401,
            {"type": "/problems/totp-required", "detail": "needs totp_code"},
            "login.totp_required",
        ),
        (401, {"type": "/problems/totp-invalid", "detail": "wrong code"}, "login.totp_wrong"),
        (429, {"type": "about:blank", "detail": "locked for 15 minutes"}, "login.locked"),
        (422, {"type": "/problems/invalid-input", "detail": "username: too long"}, "login.failed"),
    ],
)
def test_a_refused_sign_in_gets_words_the_person_understands(
    status: int, problem: Json, message: str
) -> None:
    assert refusal_message(Refused(status, problem)) == message


def test_a_second_factor_refusal_is_not_an_ended_session() -> None:
    from console.client import _answer

    needs_code = httpx.Response(
        401, json={"type": "/problems/totp-required", "status": 401, "detail": "code"}
    )
    with pytest.raises(Refused) as refused:
        _answer(needs_code)
    assert refusal_message(refused.value) == "login.totp_required"
    with pytest.raises(SignedOut):
        _answer(httpx.Response(401, json={"type": "about:blank", "status": 401}))
