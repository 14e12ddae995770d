"""Freight template and platform freight policy schemas (DESIGN §7)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from api.pagination import Page
from api.schemas.common import Code, Fen, Name, PositiveInt, Public, RegionCode, Strict

ChargeBy = Literal["piece", "weight", "volume"]


class FreightRuleIn(Strict):
    """First `first_units` (pieces, grams or cm³) cost `first_price_fen`; each further
    `additional_units` or part of it costs `additional_price_fen`."""

    regions: Annotated[list[RegionCode], Field(max_length=40)] = []
    is_default: bool = False
    first_units: PositiveInt
    first_price_fen: Fen
    additional_units: PositiveInt
    additional_price_fen: Fen

    @model_validator(mode="after")
    def _regions_or_default(self) -> FreightRuleIn:
        if self.is_default and self.regions:
            raise ValueError("the default rule covers every other region; give it no regions")
        if not self.is_default and not self.regions:
            raise ValueError("a rule needs regions, or is_default")
        return self


class FreightTemplateBody(Strict):
    name: Name
    charge_by: ChargeBy
    free_over_fen: Fen | None = None
    unserviceable_regions: Annotated[list[RegionCode], Field(max_length=40)] = []
    rules: Annotated[list[FreightRuleIn], Field(min_length=1, max_length=40)]

    @model_validator(mode="after")
    def _consistent(self) -> FreightTemplateBody:
        if sum(r.is_default for r in self.rules) > 1:
            raise ValueError("at most one default rule")
        seen: set[str] = set()
        for rule in self.rules:
            clash = seen.intersection(rule.regions)
            if clash:
                raise ValueError(f"region(s) {sorted(clash)} appear in more than one rule")
            seen.update(rule.regions)
        both = seen.intersection(self.unserviceable_regions)
        if both:
            raise ValueError(f"region(s) {sorted(both)} are both priced and unserviceable")
        return self


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
