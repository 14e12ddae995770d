"""Freight template and platform freight policy schemas (DESIGN §7)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from api.pagination import Page
from api.schemas.common import Code, Fen, PositiveInt, Public, RegionCode, ShortName, Strict
from api.schemas.types import Id

ChargeBy = Literal["piece", "weight", "volume"]


class FreightRuleIn(Strict):
    """First `first_units` (pieces, grams or cm³) cost `first_price_fen`; each further
    `additional_units` or part of it costs `additional_price_fen`."""

    # is_default comes first so the regions check can see it (fields validate in order).
    is_default: bool = False
    regions: Annotated[list[RegionCode], Field(max_length=40, validate_default=True)] = []
    first_units: PositiveInt
    first_price_fen: Fen
    additional_units: PositiveInt
    additional_price_fen: Fen

    @field_validator("regions")
    @classmethod
    def _regions_or_default(cls, regions: list[str], info: ValidationInfo) -> list[str]:
        if info.data.get("is_default") and regions:
            raise ValueError("the default rule covers every other region; give it no regions")
        if not info.data.get("is_default", True) and not regions:
            raise ValueError("a rule needs regions, or is_default")
        if len(set(regions)) != len(regions):
            raise ValueError("each region may appear once")
        return regions


class FreightTemplateBody(Strict):
    """Errors name the field at fault: `rules` for an inconsistent rule set,
    `unserviceable_regions` for a region that is also priced."""

    name: ShortName
    charge_by: ChargeBy
    free_over_fen: Fen | None = None
    rules: Annotated[list[FreightRuleIn], Field(min_length=1, max_length=40)]
    # After rules, so its check can see them.
    unserviceable_regions: Annotated[list[RegionCode], Field(max_length=40)] = []

    @field_validator("rules")
    @classmethod
    def _one_default_and_disjoint_regions(cls, rules: list[FreightRuleIn]) -> list[FreightRuleIn]:
        if sum(r.is_default for r in rules) > 1:
            raise ValueError("at most one default rule")
        seen: set[str] = set()
        for rule in rules:
            clash = seen.intersection(rule.regions)
            if clash:
                raise ValueError(f"region(s) {sorted(clash)} appear in more than one rule")
            seen.update(rule.regions)
        return rules

    @field_validator("unserviceable_regions")
    @classmethod
    def _not_priced(cls, regions: list[str], info: ValidationInfo) -> list[str]:
        rules: list[FreightRuleIn] = info.data.get("rules", [])
        both = {r for rule in rules for r in rule.regions}.intersection(regions)
        if both:
            raise ValueError(f"region(s) {sorted(both)} are both priced and unserviceable")
        return regions


class FreightTemplateCreate(FreightTemplateBody):
    code: Code


class FreightTemplateReplace(FreightTemplateBody):
    pass


class FreightRulePublic(Public):
    regions: list[str]
    is_default: bool
    first_units: int
    first_price_fen: int
    additional_units: int
    additional_price_fen: int


class FreightTemplatePublic(Public):
    id: int
    code: str
    name: str
    charge_by: str
    free_over_fen: int | None
    unserviceable_regions: list[str]
    rules: list[FreightRulePublic] = []


class FreightPolicyBody(Strict):
    mode: Literal["templates", "fixed"]
    fixed_fee_fen: Fen = 0
    free_over_fen: Fen | None = None
    combine: Literal["sum", "max"] = "sum"


class FreightPolicyPublic(Public):
    mode: str
    fixed_fee_fen: int
    free_over_fen: int | None
    combine: str


FreightTemplatesPublic = Page[FreightTemplatePublic]


class FreightQuoteLine(Strict):
    sku_id: Id
    quantity: PositiveInt


class FreightQuoteRequest(Strict):
    """A cart to price freight for (at list prices: no promotion or coupon is applied)."""

    region_code: RegionCode
    lines: Annotated[list[FreightQuoteLine], Field(min_length=1, max_length=50)]
