"""The OpenAPI document tells the truth about failures: every operation declares the
problem+json answers (api/errors.py) it can really give, with their schema.

Which ones an operation can give follows from how its route is built, not from a list kept by
hand: 401 when it authenticates the caller, 403 when it checks a permission, 404 when its path
names an object, 409 when it is a command (a state conflict, a rejected update, a duplicate),
422 when it takes any input, 400 when it reads a body (one that cannot even be parsed). A
route declares the rest itself in `responses=` (e.g. a login's 401, a document's 409); shaping
gives those the problem+json schema too.

A workflow's business refusal is described once, on the ProblemDetail schema, from the registry
of business errors (models/contracts/errors.py) that also maps it to its status.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field

from api.deps import authenticate
from api.errors import PROBLEM
from models.contracts.errors import BUSINESS_ERRORS

COMMANDS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DESCRIPTIONS = {
    400: "The request could not be read",
    401: "No credentials, or credentials that are invalid or expired",
    403: "The caller's role does not allow this (or, for a device, another warehouse)",
    404: "The object the path names does not exist",
    409: "The object's state does not allow this, or it conflicts with an existing one",
    422: "Invalid input; `errors` names the offending fields",
    503: "Not ready",
}


class ProblemError(BaseModel):
    """One offending input or clash: a validation error names `field` and `message`; a
    constraint names `constraint`; a conflict may name the object it clashes with."""

    model_config = ConfigDict(extra="allow")

    field: str | None = None
    message: str | None = None
    constraint: str | None = None
    type: str | None = Field(
        default=None, description="a business refusal's type (see ProblemDetail)"
    )
    code: str | None = Field(
        default=None,
        description="a validation error's kind (`missing`, `greater_than`, `string_too_long`, …)",
    )
    ctx: dict[str, str | int | float | bool] | None = Field(
        default=None, description="the limits a validation error's message states (`gt`: 0)"
    )


class ProblemDetail(BaseModel):
    """An RFC 9457 problem, as api/errors.py writes it."""

    type: str = Field(
        examples=[
            "/problems/invalid-input",
            "about:blank",
            *(f"/problems/{kind}" for kind in BUSINESS_ERRORS),
        ]
    )
    title: str = Field(examples=["Invalid input"])
    status: int = Field(ge=400, le=599)
    detail: str
    errors: list[ProblemError] = Field(
        default_factory=list, description="present when the problem names fields or objects"
    )


def business_problems() -> str:
    """The registry of business errors, as the ProblemDetail schema tells it."""
    lines = [
        "A workflow's business refusal has `type` `/problems/<Type>` and one entry in `errors`"
        " with that `type` (and the `field` at fault, when one is):",
    ]
    for kind, error in BUSINESS_ERRORS.items():
        at = f", field `{error.field}`" if error.field else ""
        lines.append(f"- `{kind}`: {error.status}{at}; {error.meaning}")
    return "\n".join(lines)


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def error_statuses(route: Any) -> set[int]:
    """The problem statuses the route (an APIRoute, or the RouteContext FastAPI wraps an
    included router's routes in) can answer with, from how it is built."""
    dependants = list(_dependants(route.dependant))
    calls = [d.call for d in dependants if d.call is not None]
    statuses: set[int] = set()
    if authenticate in calls:
        statuses.add(401)
    if any(hasattr(call, "permission") for call in calls):
        statuses.add(403)
    if route.dependant.path_params:
        statuses.add(404)
    if set(route.methods or ()) & COMMANDS and 401 in statuses:
        statuses.add(409)
    if any(d.body_params for d in dependants):
        statuses.add(400)  # a body that cannot be parsed at all (e.g. not UTF-8)
    if any(
        d.path_params or d.query_params or d.header_params or d.cookie_params or d.body_params
        for d in dependants
    ):
        statuses.add(422)
    return statuses


def _has_body(answer: dict[str, Any]) -> bool:
    """A route's own `responses=` entry that says what its body is (not a problem)."""
    return "model" in answer or "content" in answer


def _problem_response(status: int, description: str | None) -> dict[str, Any]:
    return {
        "description": description or _DESCRIPTIONS.get(status, "Error"),
        "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/ProblemDetail"}}},
    }


def shape(document: dict[str, Any], routes: list[RouteContext]) -> dict[str, Any]:
    """Give every operation of `document` its problem+json responses."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = ProblemDetail.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem_schema.pop("$defs", {}))
    problem_schema["description"] = f"{problem_schema['description']}\n\n{business_problems()}"
    components["ProblemDetail"] = problem_schema
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)  # FastAPI's own 422 body, which errors.py never sends
    for route in routes:
        item = document["paths"].get(route.path_format, {})
        for method in route.methods or ():
            operation = item.get(method.lower())
            if operation is None:
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            declared = {int(code) for code in responses if code.isdigit() and int(code) >= 400}
            own = {int(code) for code, answer in route.responses.items() if _has_body(answer)}
            for status in sorted((error_statuses(route) | declared) - own):
                described = responses.get(str(status), {}).get("description")
                if status == 422 and described == "Validation Error":
                    described = None
                responses[str(status)] = _problem_response(status, described)
            operation["responses"] = dict(sorted(responses.items()))
    return document


def install(app: FastAPI) -> None:
    """Shape the document FastAPI generates, once, the way FastAPI documents extending it."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            routes = [
                r
                for r in iter_route_contexts(app.routes)
                if isinstance(r.original_route, APIRoute) and r.include_in_schema
            ]
            app.openapi_schema = shape(generate(), routes)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
