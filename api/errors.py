"""problem+json errors (RFC 9457) for every failure the API returns."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.db import is_data_error

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"
_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
    503: "Not ready",
}


class Problem(Exception):
    """An HTTP failure with a problem+json body."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        type_: str = "about:blank",
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.extensions = extensions or {}
        self.status = status
        self.detail = detail
        self.type = type_
        self.errors = errors or []
        self.headers = headers


def not_found(kind: str, ident: object) -> Problem:
    return Problem(404, f"{kind} {ident} does not exist", type_="/problems/not-found")


def invalid(field: str, message: str, code: str | None = None, **ctx: str | int) -> Problem:
    """A 422 naming the field; `code` (and the values its message states, `ctx`) lets a
    client say it in its own language, as pydantic's own errors do (`validation_error`)."""
    error: dict[str, Any] = {"field": field, "message": message}
    if code is not None:
        error["code"] = code
    if ctx:
        error["ctx"] = ctx
    return Problem(422, f"{field}: {message}", type_="/problems/invalid-input", errors=[error])


def conflict(detail: str, **extra: Any) -> Problem:
    return Problem(409, detail, type_="/problems/conflict", errors=[extra] if extra else None)


class Refusal(Protocol):
    """A business rule's refusal that names the input at fault (e.g. StockError)."""

    field: str
    conflict: bool


def refused(exc: Refusal, field: str | None = None) -> Problem:
    """409 for a state conflict, 422 for invalid input; `field` overrides the error's own."""
    where = field if field is not None else exc.field
    if exc.conflict:
        return conflict(str(exc), field=where, message=str(exc))
    return invalid(where, str(exc))


def problem_response(
    status: int,
    detail: str,
    *,
    type_: str = "about:blank",
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        **(extensions or {}),
        "type": type_,
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM, headers=dict(headers) if headers else None
    )


def problem_answer(problem: Problem) -> JSONResponse:
    """The problem+json answer to a raised `Problem` (its handler's, and the flash sale's refusal
    lane's, api/flash_lane.py)."""
    return problem_response(
        problem.status,
        problem.detail,
        type_=problem.type,
        errors=problem.errors,
        headers=problem.headers,
        extensions=problem.extensions,
    )


def log_unexpected(path: str, **extra: Any) -> None:
    """The one log line of an unhandled error, with its traceback (call it in an `except`)."""
    log.exception("unhandled error", extra={"path": path, **extra})


def unexpected_answer(path: str) -> JSONResponse:
    """Log the exception being handled (call it in an `except` block) and answer the 500.

    Requests meet it in api/observability.py's middleware, inside the request's id and span; the
    handler for `Exception` below is only the backstop for a failure outside that middleware."""
    log_unexpected(path)
    # Closed after an unhandled error (whatever the request left half-read goes with it), and
    # said so: uvicorn closes the connection on this header, and a client keeping connections
    # alive does not send its next request into a closed one.
    return problem_response(
        500, "internal error; it has been logged", headers={"Connection": "close"}
    )


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def validation_error(error: Any, under: str = "") -> dict[str, Any]:
    """One invalid input: the field (`under` it, for a model a route validates itself: `rule`
    → `rule.tiers.0.off_fen`), pydantic's message, and its kind (`code`: `missing`,
    `greater_than`, …) with the limits that message states (`ctx`, plain values only), so a
    client can say it in its own language."""
    field = ".".join([under, *map(str, error["loc"])]) if under else _field(error["loc"])
    found: dict[str, Any] = {
        "field": field,
        "message": error["msg"],
        "code": error["type"],
    }
    ctx = {
        name: value
        for name, value in (error.get("ctx") or {}).items()
        if isinstance(value, str | int | float | bool) and name != "error"
    }
    if ctx:
        found["ctx"] = ctx
    return found


_CONSTRAINT = re.compile(r'constraint "(?P<name>[^"]+)"')


def _integrity_problem(exc: IntegrityError) -> tuple[int, str, list[dict[str, Any]]]:
    message = str(exc.orig)
    match = _CONSTRAINT.search(message)
    name = match.group("name") if match else ""
    if name.startswith(("uq_", "pk_")) or "unique" in message.lower():
        return 409, f"already exists ({name})", [{"constraint": name}]
    if name.startswith("fk_") and "still referenced" in message:
        return 409, f"still in use ({name})", [{"constraint": name}]
    return 422, f"violates {name or 'a constraint'}", [{"constraint": name}]


def install(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_answer(exc)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return problem_response(exc.status_code, str(exc.detail), headers=exc.headers)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [validation_error(e) for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem_response(422, detail, type_="/problems/invalid-input", errors=errors)

    async def on_integrity(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, IntegrityError)
        status, detail, errors = _integrity_problem(exc)
        return problem_response(status, detail, type_="/problems/constraint", errors=errors)

    async def on_database(request: Request, exc: Exception) -> JSONResponse:
        # Backstop: the schemas' bounds should have refused such a value with the field named.
        if is_data_error(exc):
            log.warning("data error past validation", extra={"path": request.url.path})
            return problem_response(
                422, "a value is out of range or not storable text", type_="/problems/invalid-input"
            )
        return await on_unexpected(request, exc)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        return unexpected_answer(request.url.path)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(IntegrityError, on_integrity)
    app.add_exception_handler(DBAPIError, on_database)
    app.add_exception_handler(Exception, on_unexpected)
