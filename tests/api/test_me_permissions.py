"""GET /v1/auth/me names what the caller's roles allow: the console builds its menus from it."""

from __future__ import annotations

import httpx

from models.domain.access import PERMISSIONS
from tests.support.api import MakeHeaders


async def test_me_lists_exactly_the_permissions_of_the_roles(
    client: httpx.AsyncClient, user_headers: MakeHeaders
) -> None:
    cs = await client.get("/v1/auth/me", headers=await user_headers("cs"))
    both = await client.get("/v1/auth/me", headers=await user_headers("cs", "finance"))

    assert cs.status_code == 200, cs.text
    granted = set(cs.json()["permissions"])
    assert {"orders.read", "orders.cancel", "aftersales.decide"} <= granted
    assert "finance.read" not in granted and "users.manage" not in granted
    assert granted == {p for p, roles in PERMISSIONS.items() if "cs" in roles}
    assert set(both.json()["permissions"]) == granted | {
        p for p, roles in PERMISSIONS.items() if "finance" in roles
    }
