"""Catalog routes: categories and brands."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from core.db import SessionFactory
from tests.api.conftest import Ref
from tests.support.api import assert_audited, assert_problem, my_name, problem_fields


async def test_category_create_get_list_update_and_audit(
    client: httpx.AsyncClient, user_headers, session_factory: SessionFactory
) -> None:
    headers = await user_headers("ops")
    actor = await my_name(client, headers)

    parent = await client.post(
        "/v1/categories", json={"code": "food", "name": "食品"}, headers=headers
    )
    assert parent.status_code == 201, parent.text
    parent_id = parent.json()["id"]
    child = await client.post(
        "/v1/categories",
        json={"code": " nuts ", "name": " 坚果 ", "parent_id": parent_id},
        headers=headers,
    )
    assert child.status_code == 201, child.text
    child_id = child.json()["id"]
    assert child.json() == {"id": child_id, "code": "nuts", "name": "坚果", "parent_id": parent_id}

    got = await client.get(f"/v1/categories/{child_id}", headers=headers)
    assert got.status_code == 200
    assert got.json() == child.json()

    listed = await client.get("/v1/categories", headers=headers)
    assert listed.json()["count"] == 2
    assert [c["code"] for c in listed.json()["data"]] == ["food", "nuts"]
    paged = await client.get("/v1/categories?skip=1&limit=1", headers=headers)
    assert paged.json()["count"] == 2
    assert [c["code"] for c in paged.json()["data"]] == ["nuts"]

    changed = await client.patch(
        f"/v1/categories/{child_id}", json={"name": "炒货", "parent_id": None}, headers=headers
    )
    assert changed.status_code == 200, changed.text
    again = (await client.get(f"/v1/categories/{child_id}", headers=headers)).json()
    assert again["name"] == "炒货"
    assert again["parent_id"] is None

    await assert_audited(session_factory, actor, "category.create", "category", parent_id)
    await assert_audited(session_factory, actor, "category.create", "category", child_id)
    update = await assert_audited(session_factory, actor, "category.update", "category", child_id)
    assert update.detail == {"name": "炒货", "parent_id": None}
    assert update.path == f"/v1/categories/{child_id}"


async def test_category_rejects_bad_input(
    client: httpx.AsyncClient, user_headers, ref: Ref
) -> None:
    headers = await user_headers("admin")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"code": "x y", "name": "空格"}, "code"),
        ({"code": "c2", "name": ""}, "name"),
        ({"code": "c2", "name": "n", "parent_id": 999999}, "parent_id"),
        ({"code": "c2", "name": "n", "colour": "red"}, "colour"),
        ({"name": "n"}, "code"),
    ]
    for body, field in cases:
        answer = await client.post("/v1/categories", json=body, headers=headers)
        assert answer.status_code == 422, (body, answer.text)
        assert field in problem_fields(answer), (body, answer.text)

    duplicate = await client.post(
        "/v1/categories", json={"code": "food", "name": "另一个"}, headers=headers
    )
    assert duplicate.status_code == 409, duplicate.text
    assert_problem(duplicate)

    listed = await client.get("/v1/categories", headers=headers)
    assert listed.json()["count"] == 1


async def test_category_update_rejects_cycles_nulls_and_unknown_ids(
    client: httpx.AsyncClient, user_headers, ref: Ref
) -> None:
    headers = await user_headers("admin")
    child = await client.post(
        "/v1/categories",
        json={"code": "nuts", "name": "坚果", "parent_id": ref.category_id},
        headers=headers,
    )
    child_id = child.json()["id"]

    own = await client.patch(
        f"/v1/categories/{ref.category_id}", json={"parent_id": ref.category_id}, headers=headers
    )
    assert own.status_code == 422
    assert problem_fields(own) == ["parent_id"]
    # food -> nuts -> food would be a loop.
    loop = await client.patch(
        f"/v1/categories/{ref.category_id}", json={"parent_id": child_id}, headers=headers
    )
    assert loop.status_code == 422, loop.text
    assert problem_fields(loop) == ["parent_id"]
    null_name = await client.patch(
        f"/v1/categories/{child_id}", json={"name": None}, headers=headers
    )
    assert null_name.status_code == 422, null_name.text
    assert problem_fields(null_name) == ["name"]
    unknown_parent = await client.patch(
        f"/v1/categories/{child_id}", json={"parent_id": 424242}, headers=headers
    )
    assert unknown_parent.status_code == 422
    assert problem_fields(unknown_parent) == ["parent_id"]

    food = (await client.get(f"/v1/categories/{ref.category_id}", headers=headers)).json()
    assert food["parent_id"] is None
    nuts = (await client.get(f"/v1/categories/{child_id}", headers=headers)).json()
    assert (nuts["name"], nuts["parent_id"]) == ("坚果", ref.category_id)

    for answer in (
        await client.get("/v1/categories/424242", headers=headers),
        await client.patch("/v1/categories/424242", json={"name": "x"}, headers=headers),
    ):
        assert answer.status_code == 404
        assert answer.json()["type"] == "/problems/not-found"


async def test_brand_create_list_duplicate_and_audit(
    client: httpx.AsyncClient, user_headers, session_factory: SessionFactory
) -> None:
    headers = await user_headers("admin")
    actor = await my_name(client, headers)
    made = await client.post("/v1/brands", json={"name": "三只松鼠"}, headers=headers)
    assert made.status_code == 201, made.text
    brand_id = made.json()["id"]
    assert made.json() == {"id": brand_id, "name": "三只松鼠"}
    duplicate = await client.post("/v1/brands", json={"name": "三只松鼠"}, headers=headers)
    assert duplicate.status_code == 409
    empty = await client.post("/v1/brands", json={"name": "  "}, headers=headers)
    assert empty.status_code == 422
    assert problem_fields(empty) == ["name"]
    too_long = await client.post("/v1/brands", json={"name": "松" * 101}, headers=headers)
    assert too_long.status_code == 422, too_long.text  # the column holds 100, not a 500
    assert problem_fields(too_long) == ["name"]
    listed = await client.get("/v1/brands", headers=headers)
    assert listed.json() == {"data": [{"id": brand_id, "name": "三只松鼠"}], "count": 1}
    await assert_audited(session_factory, actor, "brand.create", "brand", brand_id)


# --- products ---------------------------------------------------------------------------------


async def test_two_top_level_categories_may_not_share_a_name(
    client: httpx.AsyncClient, user_headers: Callable[..., Awaitable[dict[str, str]]]
) -> None:
    headers = await user_headers("ops")
    first = await client.post("/v1/categories", json={"code": "a1", "name": "同"}, headers=headers)
    second = await client.post("/v1/categories", json={"code": "a2", "name": "同"}, headers=headers)
    assert first.status_code == 201
    assert second.status_code == 409
    assert second.json()["errors"] == [{"constraint": "uq_categories_parent_id_name"}]
