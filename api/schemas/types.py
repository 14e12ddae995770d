"""The constrained types every API schema field and every path/query parameter uses.

Each bound exists so that no value the API accepts can overflow or be refused by PostgreSQL
(which would otherwise surface as a 500, or as an activity retried for ever): ids within their
column's type, counts and amounts far inside bigint, day counts inside what an interval and a
Python date can hold, text without NUL bytes or lone surrogates (UTF-8 cannot carry them),
region codes of provinces that exist. A value outside is a 422 naming the field.

Body fields use the strict forms (JSON numbers only: no floats, no numeric strings); path and
query parameters arrive as text, so their forms (`…Param`) parse digits and apply the same bounds.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    StringConstraints,
    WithJsonSchema,
)

INT32_MAX = 2**31 - 1  # PostgreSQL integer (SQLAlchemy Integer): most ids, quantities
INT64_MAX = 2**63 - 1  # PostgreSQL bigint (BigInteger): customer ids, ledger rows, amounts
MAX_FEN = 10**12  # ¥10 billion: far inside bigint even summed over many lines
MAX_QUANTITY = 10**9  # inside integer even with a reservation added
MAX_DAYS = 36_500  # a hundred years: inside a PostgreSQL interval and a Python date
MAX_SKIP = INT32_MAX

# Mainland province-level division codes (GB/T 2260, DESIGN §4): the first two digits of every
# city or district code. A code under no province does not exist.
PROVINCES = frozenset(
    ("11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37"),
) | frozenset(
    ("41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65")
)


def clean_text(value: str) -> str:
    """Text PostgreSQL can store: no NUL byte, no lone surrogate (neither is valid UTF-8)."""
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise ValueError("must not contain a lone surrogate (not valid Unicode text)")
    return value


def clean_strings(value: Any) -> Any:
    """`clean_text` over every string inside a value (lists, dicts, nested)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list | tuple | set | frozenset):
        for item in value:
            clean_strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            clean_strings(key)
            clean_strings(item)
    return value


def storable_instant(value: datetime) -> datetime:
    """An instant that exists in UTC (year 1 to 9999 once its offset is applied): 0001-01-01
    at +10:00 does not, and PostgreSQL stores every instant in UTC."""
    if value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError("is outside the years 1 to 9999 in UTC") from None
    return value


def _existing_region(value: str) -> str:
    if value[:2] not in PROVINCES:
        raise ValueError(f"{value} is under no mainland province")
    return value


# --- ids (bodies: strict) ---------------------------------------------------------------------
Id = Annotated[int, Field(ge=1, le=INT32_MAX, strict=True)]  # Integer primary keys
BigId = Annotated[int, Field(ge=1, le=INT64_MAX, strict=True)]  # BigInteger ids
LineNo = Annotated[int, Field(ge=1, le=INT32_MAX, strict=True)]

# --- figures (bodies: strict) -----------------------------------------------------------------
Fen = Annotated[int, Field(ge=0, le=MAX_FEN, strict=True)]
Quantity = Annotated[int, Field(ge=0, le=MAX_QUANTITY, strict=True)]
PositiveInt = Annotated[int, Field(gt=0, le=MAX_QUANTITY, strict=True)]

# --- text -------------------------------------------------------------------------------------
Text = Annotated[str, AfterValidator(clean_text)]  # free text; add a max_length where stored
Code = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.\-]+$"
    ),
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(clean_text),
]
# Names kept in varchar(100) columns (users, API keys, categories, brands, carriers, freight
# templates, promotions, warehouses): longer ones were a 500 from the database, not a 422.
ShortName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(clean_text),
]
Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=2, max_length=500),
    AfterValidator(clean_text),
]
# Mainland administrative division code, e.g. 310000 (上海), under a province that exists.
RegionCode = Annotated[
    str, StringConstraints(pattern=r"^[1-8]\d{5}$"), AfterValidator(_existing_region)
]

# --- time -------------------------------------------------------------------------------------
Instant = Annotated[datetime, AfterValidator(storable_instant)]
AwareInstant = Annotated[AwareDatetime, AfterValidator(storable_instant)]  # offset required

# A wall-clock time in a warehouse's own timezone, "18:00" or "18:00:00" (answers carry the
# seconds), never with an offset. Not `format: time` in the schema: RFC 3339's full-time
# requires an offset.
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


TimeOfDay = Annotated[
    time,
    BeforeValidator(_time_of_day_text),
    AfterValidator(_without_offset),
    WithJsonSchema({"type": "string", "pattern": _TIME_OF_DAY, "examples": ["18:00:00"]}),
]

# --- path and query parameters (text in; same bounds) -----------------------------------------
IdParam = Annotated[int, Field(ge=1, le=INT32_MAX)]
BigIdParam = Annotated[int, Field(ge=1, le=INT64_MAX)]
SkipParam = Annotated[int, Field(ge=0, le=MAX_SKIP)]
DaysParam = Annotated[int, Field(ge=1, le=MAX_DAYS)]
# Business numbers (SO…, PK…, AS…, PO…, WV…, PT…), codes and search text in paths and queries.
NoParam = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(clean_text)]
TextParam = Annotated[str, Field(max_length=200), AfterValidator(clean_text)]
