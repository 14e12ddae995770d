from __future__ import annotations

import httpx


async def test_admin_creates_category(client: httpx.AsyncClient, user_headers) -> None:
    headers = await user_headers("admin")
    answer = await client.post(
        "/v1/categories", json={"code": "c1", "name": "零食"}, headers=headers
    )
    assert answer.status_code == 201, answer.text
    listed = await client.get("/v1/categories", headers=headers)
    assert listed.json()["count"] == 1
