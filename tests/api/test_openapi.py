"""The OpenAPI document's failure answers and formats match what the API really sends (the broad
check is tests/support/schemathesis_run.py; these pin the rules down, fast)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from pydantic import TypeAdapter

from api.openapi import ProblemDetail
from tests.api.conftest import Ref
from tests.support.api import Headers, MakeHeaders

PROBLEM = "application/problem+json"


async def _document(client: httpx.AsyncClient) -> dict[str, Any]:
    answer = await client.get("/openapi.json")
    assert answer.status_code == 200
    document: dict[str, Any] = answer.json()
    return document


def _responses(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    responses: dict[str, Any] = document["paths"][path][method]["responses"]
    return responses


def _problem_statuses(responses: dict[str, Any]) -> set[int]:
    return {
        int(code)
        for code, answer in responses.items()
        if answer.get("content", {}).get(PROBLEM, {}).get("schema")
        == {"$ref": "#/components/schemas/ProblemDetail"}
    }


async def test_each_operation_declares_the_problems_its_route_can_give(
    client: httpx.AsyncClient,
) -> None:
    document = await _document(client)
    assert _problem_statuses(_responses(document, "get", "/v1/auth/me")) == {401, 403}
    assert _problem_statuses(_responses(document, "get", "/v1/skus")) == {401, 403, 422}
    assert _problem_statuses(_responses(document, "get", "/v1/skus/{sku_id}")) == {
        401, 403, 404, 422,
    }  # fmt: skip
    assert _problem_statuses(_responses(document, "patch", "/v1/skus/{sku_id}")) == {
        400, 401, 403, 404, 409, 422,
    }  # fmt: skip
    assert _problem_statuses(_responses(document, "post", "/v1/auth/login")) == {
        400, 401, 403, 422, 429,
    }  # fmt: skip
    assert _problem_statuses(_responses(document, "get", "/healthz")) == set()
    not_problems = {
        (method, path, code)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        for code, answer in operation["responses"].items()
        if int(code) >= 400 and set(answer["content"]) != {PROBLEM}
    }  # no failure is declared as FastAPI's own application/json 422, or without a body
    assert not_problems == {("get", "/readyz", "503")}  # the probe's own body, ready or not
    assert "HTTPValidationError" not in document["components"]["schemas"]


async def test_problems_the_api_sends_match_the_declared_schema(
    client: httpx.AsyncClient, user_headers: MakeHeaders, ref: Ref
) -> None:
    document = await _document(client)
    schema = document["components"]["schemas"]["ProblemDetail"]
    staff: Headers = await user_headers("cs")
    answers = [
        await client.get("/v1/skus"),  # 401
        await client.post("/v1/skus/1", headers=staff),  # 405, not an operation's
        await client.patch(f"/v1/skus/{ref.sku_id}", json={"name": "x"}, headers=staff),  # 403
        await client.get("/v1/skus/999999", headers=await user_headers("ops")),  # 404
        await client.get("/v1/skus?limit=-1", headers=await user_headers("ops")),  # 422
    ]
    assert [a.status_code for a in answers] == [401, 405, 403, 404, 422]
    adapter = TypeAdapter(ProblemDetail)
    for answer in answers:
        assert answer.headers["content-type"].startswith(PROBLEM)
        problem = adapter.validate_json(answer.content)
        assert problem.status == answer.status_code
        assert set(answer.json()) <= set(schema["properties"])
    assert adapter.validate_json(answers[-1].content).errors


async def test_times_of_day_are_not_declared_as_rfc3339_times(
    client: httpx.AsyncClient, user_headers: MakeHeaders, ref: Ref
) -> None:
    document = await _document(client)
    assert '"format": "time"' not in json.dumps(document)
    cutoff = document["components"]["schemas"]["CarrierCutoffPublic"]["properties"]
    pattern = cutoff["cutoff_local"]["pattern"]
    ops = await user_headers("ops")
    created = await client.post(
        "/v1/carriers",
        json={
            "code": "SF",
            "name": "顺丰",
            "cutoffs": [{"warehouse_id": ref.warehouse_id, "cutoff_local": "18:00"}],
        },
        headers=ops,
    )
    assert created.status_code == 201, created.text
    sent = created.json()["cutoffs"][0]["cutoff_local"]
    assert sent == "18:00:00"
    assert re.fullmatch(pattern, sent)
    for refused in ("18:00+08:00", "18:00Z", "25:00", "6pm"):
        answer = await client.post(
            "/v1/carriers",
            json={
                "code": "YTO",
                "name": "圆通",
                "cutoffs": [{"warehouse_id": ref.warehouse_id, "cutoff_local": refused}],
            },
            headers=ops,
        )
        assert answer.status_code == 422, (refused, answer.text)
        assert not re.fullmatch(pattern, refused)


async def test_a_name_longer_than_its_column_is_refused_not_a_database_error(
    client: httpx.AsyncClient, user_headers: MakeHeaders
) -> None:
    """The schema's maxLength is what the column holds (varchar(100)), so a name it allows is
    stored and one it refuses is a 422 naming the field, never a 500 from the database."""
    admin = await user_headers("admin")
    bodies = {
        "/v1/categories": {"code": "c1"},
        "/v1/warehouses": {"code": "W1", "region_code": "310000"},
        "/v1/carriers": {"code": "SF"},
        "/v1/admin/api-keys": {"role": "storefront"},
    }
    for path, body in bodies.items():
        refused = await client.post(path, json=body | {"name": "名" * 101}, headers=admin)
        assert refused.status_code == 422, (path, refused.text)
        assert [e["field"] for e in refused.json()["errors"]] == ["name"]
        stored = await client.post(path, json=body | {"name": "名" * 100}, headers=admin)
        assert stored.status_code == 201, (path, stored.text)
