"""Member levels, points rules and a customer's points (DESIGN §6.7)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from api.pagination import Page
from api.schemas.common import Code, Public, Reason, ShortName, Strict
from api.schemas.types import MAX_QUANTITY

Percent = Annotated[int, Field(ge=0, le=100, strict=True)]
LevelPercent = Annotated[int, Field(ge=0, le=99, strict=True)]
PerYuan = Annotated[int, Field(ge=0, le=10_000, strict=True)]
FenPerPoint = Annotated[int, Field(ge=1, le=10_000, strict=True)]
Growth = Annotated[int, Field(ge=0, le=10**12, strict=True)]
PointsDelta = Annotated[int, Field(ge=-MAX_QUANTITY, le=MAX_QUANTITY, strict=True)]
AdjustKey = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=48, pattern=r"^[\w.\-]+$"),
]
PointsKind = Literal["earn", "spend", "refund", "expire", "adjust"]


class PointsRulesIn(Strict):
    earn_per_yuan: PerYuan  # points a completed order earns per ¥1 of goods paid
    growth_per_yuan: PerYuan  # growth value (成长值) per ¥1 of goods paid
    fen_per_point: FenPerPoint  # what one point pays at checkout, in fen
    max_percent: Percent  # at most this % of an order's goods is paid with points


class PointsRulesPublic(Public):
    earn_per_yuan: int
    growth_per_yuan: int
    fen_per_point: int
    max_percent: int


class LevelIn(Strict):
    code: Code
    name: ShortName
    growth_threshold: Growth
    discount_percent: LevelPercent = 0
    free_shipping: bool = False


class LevelsIn(Strict):
    """Every level (by code: kept, changed or added; a code left out is removed)."""

    levels: Annotated[list[LevelIn], Field(max_length=50)]


class LevelPublic(Public):
    id: int
    code: str
    name: str
    growth_threshold: int
    discount_percent: int
    free_shipping: bool


class LoyaltySettingsPublic(Public):
    rules: PointsRulesPublic
    levels: list[LevelPublic]


class LevelChangePublic(Public):
    from_level_id: int | None
    to_level_id: int | None
    growth: int
    order_no: str | None
    at: datetime


class CustomerPointsPublic(Public):
    customer_id: int
    balance: int
    growth: int
    level: LevelPublic | None = None
    next_level: LevelPublic | None = None  # the next threshold to reach, if any
    level_history: list[LevelChangePublic] = []


class PointsEntryPublic(Public):
    id: int
    kind: str
    points: int
    growth: int
    order_no: str | None
    key: str
    detail: dict[str, Any]
    at: datetime


PointsLedgerPublic = Page[PointsEntryPublic]


class AdjustmentIn(Strict):
    key: AdjustKey  # the caller's key: the same key books once
    points: PointsDelta
    reason: Reason
