"""Base classes of API schemas (request bodies, patches, public views)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from api.schemas.types import (
    Code,
    Fen,
    Name,
    PositiveInt,
    Quantity,
    Reason,
    RegionCode,
    ShortName,
    TimeOfDay,
    clean_strings,
)

# The shared constrained types live in api/schemas/types.py; these names are re-exported.
__all__ = [
    "Code",
    "Fen",
    "Name",
    "Patch",
    "PositiveInt",
    "Public",
    "Quantity",
    "Reason",
    "RegionCode",
    "ShortName",
    "Strict",
    "TimeOfDay",
]


class Strict(BaseModel):
    """Request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")

    # Every string of every request body, whatever its field's type says: no NUL byte, no lone
    # surrogate (PostgreSQL cannot store them; the 422 names the field).
    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        return clean_strings(value)


class Patch(Strict):
    """PATCH bodies: an omitted field is left alone; `null` is accepted only for the fields in
    `nullable` (the columns that may be empty), and is a 422 naming the field otherwise."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="after")
    @classmethod
    def _null_only_where_allowed(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable:
            raise ValueError("may not be null; omit the field to leave it unchanged")
        return value


class Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)
