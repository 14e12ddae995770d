"""Promotion, coupon and tracking-range schemas (DESIGN §7).

A promotion's `rule` and a coupon's `rule` are the terms of the matching
`models.contracts.pricing` type, less what the row itself holds: a promotion rule carries no
`promotion_id`, `name` or validity (the row's columns are the one source of those, and
`services.pricing_inputs.live_promotions` filters on them); a coupon rule carries its validity
window (coupons have no such columns) but no `coupon_id`, `code` or usage.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from api.pagination import Page
from api.schemas.common import Code, Fen, Patch, PositiveInt, Public, ShortName, Strict
from api.schemas.types import AwareInstant, Id
from models.contracts.pricing import GiftPromotion, ItemDiscount, SpendTierPromotion

PromotionKind = Literal["item_discount", "spend_tier", "gift"]
DiscountKind = Literal["percent", "fixed"]
PercentOff = Annotated[int, Field(ge=0, le=100, strict=True)]
Threshold = Annotated[int, Field(gt=0, le=10**12, strict=True)]
# Stored and answered in UTC whatever offset the client sent.
UtcDatetime = Annotated[AwareInstant, AfterValidator(lambda value: value.astimezone(UTC))]


class _Window(Strict):
    """A half-open validity window [valid_from, valid_until); an open end is unbounded."""

    valid_from: UtcDatetime | None = None
    valid_until: UtcDatetime | None = None

    @field_validator("valid_until")
    @classmethod
    def _after_start(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("valid_from")
        if value is not None and start is not None and value <= start:
            raise ValueError("must be after valid_from")
        return value


# --- Rules: the terms of each pricing contract ----------------------------------------------


class ScopeIn(Strict):
    """Everything, or the listed SKUs and categories."""

    all_items: bool = False
    sku_ids: Annotated[list[Id], Field(max_length=500)] = []
    category_ids: Annotated[list[Id], Field(max_length=200)] = []


class _Amount(Strict):
    """A percent discount names `percent_off`, a fixed one `amount_off_fen`, and not the other."""

    kind: DiscountKind
    percent_off: Annotated[PercentOff, Field(validate_default=True)] = 0
    amount_off_fen: Annotated[Fen, Field(validate_default=True)] = 0

    @field_validator("percent_off", "amount_off_fen")
    @classmethod
    def _matches_kind(cls, value: int, info: ValidationInfo) -> int:
        needs = {"percent_off": "percent", "amount_off_fen": "fixed"}[str(info.field_name)]
        kind = info.data.get("kind")
        if kind == needs and not value:
            raise ValueError(f"a {kind} discount needs {info.field_name}")
        if kind not in (None, needs) and value:
            raise ValueError(f"only for a {needs} discount")
        return value


class ItemDiscountRule(_Amount):
    """单品折扣/直降: `percent_off` % off each covered line, or `amount_off_fen` off each unit."""

    scope: ScopeIn


class SpendTierIn(Strict):
    threshold_fen: Threshold
    off_fen: Threshold


class SpendTierRule(Strict):
    """满减: the highest tier reached; with `repeat`, 每满 X 减 Y (one tier), capped by
    `max_off_fen` when set."""

    scope: ScopeIn
    tiers: Annotated[list[SpendTierIn], Field(min_length=1, max_length=20)]
    repeat: bool = False
    max_off_fen: Fen | None = None


class GiftRule(Strict):
    """满赠: covered goods worth at least `threshold_fen` earn `gift_quantity` × the gift SKU."""

    scope: ScopeIn
    threshold_fen: Threshold
    gift_sku_id: Id
    gift_quantity: PositiveInt = 1


PromotionRule = ItemDiscountRule | SpendTierRule | GiftRule
PromotionContract = ItemDiscount | SpendTierPromotion | GiftPromotion
RULES: dict[str, tuple[type[PromotionRule], type[PromotionContract]]] = {
    "item_discount": (ItemDiscountRule, ItemDiscount),
    "spend_tier": (SpendTierRule, SpendTierPromotion),
    "gift": (GiftRule, GiftPromotion),
}


class CouponRule(_Amount, _Window):
    """The coupon's terms (models.contracts.pricing.CouponOffer without id, code and usage);
    `max_off_fen` caps a percent coupon."""

    max_off_fen: Fen | None = None
    min_spend_fen: Fen = 0
    per_customer_limit: PositiveInt | None = None
    scope: ScopeIn = Field(default_factory=lambda: ScopeIn(all_items=True))


# --- Promotions -------------------------------------------------------------------------------


class PromotionCreate(_Window):
    kind: PromotionKind
    name: ShortName
    rule: dict[str, Any] = Field(
        description="The terms of the kind: ItemDiscountRule, SpendTierRule or GiftRule "
        "(no promotion_id, name or validity: those are the promotion's own fields)."
    )
    active: bool = True


class PromotionUpdate(Patch):
    """The terms stay as created; a different rule is a new promotion."""

    nullable = frozenset({"valid_from", "valid_until"})

    name: ShortName | None = None
    valid_from: UtcDatetime | None = None
    valid_until: UtcDatetime | None = None
    active: bool | None = None


class PromotionPublic(Public):
    id: int
    kind: str
    name: str
    rule: dict[str, Any]
    valid_from: datetime | None
    valid_until: datetime | None
    active: bool
    created_at: datetime


# --- Coupons ----------------------------------------------------------------------------------


class CouponCreate(Strict):
    code: Code
    rule: CouponRule
    active: bool = True


class CouponUpdate(Patch):
    active: bool | None = None


class CouponPublic(Public):
    id: int
    code: str
    rule: dict[str, Any]
    active: bool
    created_at: datetime


class RedemptionPublic(Public):
    order_no: str
    customer_id: int  # the customer record (customers.id)
    status: str


# --- Tracking ranges --------------------------------------------------------------------------

# tracking_ranges numbers are 32-bit integers; a tracking number is prefix + 12 digits.
TrackingNumber = Annotated[int, Field(ge=0, le=2**31 - 2, strict=True)]


class TrackingRangeCreate(Strict):
    prefix: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{0,8}$")]
    first_number: TrackingNumber
    last_number: TrackingNumber
    low_watermark: Annotated[int, Field(ge=0, le=10**9, strict=True)] = 100

    @field_validator("last_number")
    @classmethod
    def _not_before_first(cls, value: int, info: ValidationInfo) -> int:
        first = info.data.get("first_number")
        if first is not None and value < first:
            raise ValueError("must not be below first_number")
        return value


class TrackingRangePublic(Public):
    """`remaining` = last_number − next_number + 1; `low` when remaining < low_watermark."""

    id: int
    carrier_id: int
    prefix: str
    next_number: int
    last_number: int
    low_watermark: int
    remaining: int
    low: bool
    created_at: datetime


PromotionsPublic = Page[PromotionPublic]
CouponsPublic = Page[CouponPublic]
RedemptionsPublic = Page[RedemptionPublic]
TrackingRangesPublic = Page[TrackingRangePublic]
