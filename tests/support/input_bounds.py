"""Walk every route of the app and name each input (path, query, body field) that could carry a
value PostgreSQL refuses: an integer without bounds inside bigint, text that is not checked for
NUL bytes and lone surrogates. Used by tests/api/test_hostile_input.py."""

from __future__ import annotations

import types
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from enum import Enum
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types as at
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import AfterValidator, AwareDatetime, BaseModel, SecretStr
from pydantic.fields import FieldInfo

from api.schemas.common import Strict
from api.schemas.types import INT64_MAX, clean_text, storable_instant

SAFE = (bool, date, time, timedelta, bytes, SecretStr, type(None))


def _bounded(metadata: list[Any]) -> bool:
    lows = [m.ge for m in metadata if isinstance(m, at.Ge)] + [
        m.gt for m in metadata if isinstance(m, at.Gt)
    ]
    highs = [m.le for m in metadata if isinstance(m, at.Le)] + [
        m.lt for m in metadata if isinstance(m, at.Lt)
    ]
    return any(x >= -INT64_MAX for x in lows) and any(x <= INT64_MAX for x in highs)


def _clean(metadata: list[Any]) -> bool:
    return any(isinstance(m, AfterValidator) and m.func is clean_text for m in metadata)


def _problems(  # noqa: PLR0912 - one branch per kind of annotation
    annotation: Any, metadata: list[Any], where: str, *, strict_body: bool
) -> Iterator[str]:
    origin = get_origin(annotation)
    if origin is not None and getattr(origin, "__name__", "") == "Annotated":
        inner, *extra = get_args(annotation)
        yield from _problems(inner, [*metadata, *_flat(extra)], where, strict_body=strict_body)
    elif origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            yield from _problems(arg, metadata, where, strict_body=strict_body)
    elif origin is Literal:
        return
    elif origin in (list, tuple, set, frozenset, dict):
        for arg in get_args(annotation):
            if arg is not Ellipsis:
                yield from _problems(arg, [], f"{where}[]", strict_body=strict_body)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield from model_problems(annotation, where)
    elif annotation is int:
        if not _bounded(metadata):
            yield f"{where}: int without bounds inside bigint"
    elif annotation in (datetime, AwareDatetime):
        if not any(isinstance(m, AfterValidator) and m.func is storable_instant for m in metadata):
            yield f"{where}: instant not checked to be inside what UTC can hold"
    elif annotation is str:
        if not strict_body and not _clean(metadata):
            yield f"{where}: text not checked for NUL/lone surrogates"
    elif annotation is not Any and not (
        isinstance(annotation, type) and issubclass(annotation, (Enum, *SAFE))
    ):
        yield f"{where}: unchecked type {annotation!r}"


def _flat(extra: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in extra:
        if isinstance(item, FieldInfo):
            out.extend(item.metadata)
        else:
            out.append(item)
    return out


_seen: dict[type, list[str]] = {}


def model_problems(model: type[BaseModel], where: str) -> Iterator[str]:
    if model not in _seen:
        _seen[model] = []  # a recursive model is walked once
        found: list[str] = []
        strict_body = issubclass(model, Strict)
        for name, field in model.model_fields.items():
            found += _problems(
                field.annotation,
                list(field.metadata),
                f"{model.__name__}.{name}",
                strict_body=strict_body,
            )
        _seen[model] = found
    for problem in _seen[model]:
        yield f"{where} → {problem}"


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (included := getattr(route, "original_router", None)) is not None:
            yield from _api_routes(included.routes)


def unchecked_inputs(app: FastAPI) -> list[str]:
    """Every input of every /v1 route that is not bounded or not checked, as `METHOD path: …`."""
    found: list[str] = []
    for route in _api_routes(app.routes):
        if not route.path.startswith("/v1"):
            continue
        label = f"{','.join(sorted(route.methods))} {route.path}"
        for dep in _dependants(route.dependant):
            for param in [*dep.path_params, *dep.query_params]:
                info = param.field_info
                found += [
                    f"{label}: {p}"
                    for p in _problems(
                        info.annotation, list(info.metadata), param.name, strict_body=False
                    )
                ]
            for param in dep.body_params:
                info = param.field_info
                found += [
                    f"{label}: {p}"
                    for p in _problems(
                        info.annotation, list(info.metadata), "body", strict_body=False
                    )
                ]
    return sorted(set(found))
