"""Field types shared by API schemas: money in fen, quantities, codes, region codes, times of
day."""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

# Money is integer fen; floats and numeric strings are refused rather than rounded.
Fen = Annotated[int, Field(ge=0, le=10**12, strict=True)]
Quantity = Annotated[int, Field(ge=0, le=10**9, strict=True)]
PositiveInt = Annotated[int, Field(gt=0, le=10**9, strict=True)]
Code = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.\-]+$"
    ),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# Names kept in varchar(100) columns (users, API keys, categories, brands, carriers, freight
# templates, promotions, warehouses): longer ones were a 500 from the database, not a 422.
ShortName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
# Mainland administrative division code, e.g. 310000 (上海).
RegionCode = Annotated[str, StringConstraints(pattern=r"^[1-8]\d{5}$")]
_TIME_OF_DAY = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"


def _time_of_day_text(value: object) -> object:
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or not re.fullmatch(_TIME_OF_DAY, value):
        raise ValueError("a time of day like 18:00 or 18:00:00, without a UTC offset")
    return value


def _without_offset(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("a local time in the warehouse's timezone, without a UTC offset")
    return value


# A wall-clock time in a warehouse's own timezone, "18:00" or "18:00:00" (answers carry the
# seconds), never with an offset. Not `format: time`: RFC 3339's full-time requires an offset.
TimeOfDay = Annotated[
    time,
    BeforeValidator(_time_of_day_text),
    AfterValidator(_without_offset),
    WithJsonSchema({"type": "string", "pattern": _TIME_OF_DAY, "examples": ["18:00:00"]}),
]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=500)]


class Strict(BaseModel):
    """Request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


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
