"""Payloads of pricing (DESIGN §7) and warehouse choice (§5): what the order process hands the
pure rules in `models.domain` and what it gets back and stores.

Money is integer fen, quantities integers, weight grams, volume cm³ (§4). Regions are 6-digit
mainland division codes (310115 浦东, 310000 上海). Ids are the database ids of the same objects
(`models/db/catalog.py`, `logistics.py`, `warehouse.py`); field names follow those tables.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, BaseModel, Field, model_validator

Fen = Annotated[int, Field(ge=0)]
Quantity = Annotated[int, Field(gt=0)]
Percent = Annotated[int, Field(ge=1, le=100)]
RegionCode = Annotated[str, Field(pattern=r"^\d{6}$")]

ChargeBy = Literal["piece", "weight", "volume"]
Combine = Literal["sum", "max"]
DiscountSource = Literal["item_discount", "spend_tier", "coupon", "level", "points"]
DiscountKind = Literal["percent", "fixed"]
FreightBasis = Literal["platform_free", "fixed", "templates", "member_free"]


# --- Inputs: cart and catalog -------------------------------------------------------------


class CartLine(BaseModel):
    """What the customer asks for. Prices never come from the client."""

    sku_id: int
    quantity: Quantity


class SkuFacts(BaseModel):
    """The server's facts about one SKU, read from the catalog when the order is placed."""

    sku_id: int
    category_id: int
    list_price_fen: Fen
    weight_g: Annotated[int, Field(ge=0)] = 0
    volume_cm3: Annotated[int, Field(ge=0)] = 0
    freight_template_id: int | None = None


# --- Inputs: promotions and coupons --------------------------------------------------------


class ProductScope(BaseModel):
    """Which lines a promotion or coupon covers: everything, or the listed SKUs and categories."""

    all_items: bool = False
    sku_ids: list[int] = Field(default_factory=list)
    category_ids: list[int] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not (self.all_items or self.sku_ids or self.category_ids):
            raise ValueError("a scope covers all items or names SKUs or categories")
        return self


class ValidityWindow(BaseModel):
    """Half-open [valid_from, valid_until); an open end is unbounded."""

    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None


class ItemDiscount(ValidityWindow):
    """单品折扣/直降: `percent_off` % off each covered line, or `amount_off_fen` off each unit."""

    promotion_id: int
    name: str = ""
    scope: ProductScope
    kind: DiscountKind
    percent_off: Annotated[int, Field(ge=0, le=100)] = 0
    amount_off_fen: Fen = 0

    @model_validator(mode="after")
    def _kind_has_its_amount(self) -> Self:
        if self.kind == "percent" and not self.percent_off:
            raise ValueError("a percent discount needs percent_off")
        if self.kind == "fixed" and not self.amount_off_fen:
            raise ValueError("a fixed discount needs amount_off_fen")
        return self


class SpendTier(BaseModel):
    threshold_fen: Annotated[int, Field(gt=0)]
    off_fen: Annotated[int, Field(gt=0)]


class SpendTierPromotion(ValidityWindow):
    """满减: the highest tier whose threshold is reached; with `repeat`, 每满 X 减 Y (one tier),
    capped by `max_off_fen` when set."""

    promotion_id: int
    name: str = ""
    scope: ProductScope
    tiers: Annotated[list[SpendTier], Field(min_length=1)]
    repeat: bool = False
    max_off_fen: Fen | None = None

    @model_validator(mode="after")
    def _tiers_consistent(self) -> Self:
        thresholds = [tier.threshold_fen for tier in self.tiers]
        if len(set(thresholds)) != len(thresholds):
            raise ValueError("tier thresholds must be distinct")
        if self.repeat and len(self.tiers) != 1:
            raise ValueError("a repeating spend promotion has exactly one tier")
        return self


class GiftPromotion(ValidityWindow):
    """满赠: covered goods worth at least `threshold_fen` earn `gift_quantity` × the gift SKU."""

    promotion_id: int
    name: str = ""
    scope: ProductScope
    threshold_fen: Annotated[int, Field(gt=0)]
    gift_sku_id: int
    gift_quantity: Quantity = 1


class CouponOffer(ValidityWindow):
    """A coupon the customer chose, with their prior uses of it (the caller counts them)."""

    coupon_id: int
    code: str = ""
    scope: ProductScope = Field(default_factory=lambda: ProductScope(all_items=True))
    kind: DiscountKind
    percent_off: Annotated[int, Field(ge=0, le=100)] = 0
    amount_off_fen: Fen = 0
    max_off_fen: Fen | None = None
    min_spend_fen: Fen = 0
    per_customer_limit: Annotated[int, Field(gt=0)] | None = None
    used_by_customer: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _kind_has_its_amount(self) -> Self:
        if self.kind == "percent" and not self.percent_off:
            raise ValueError("a percent coupon needs percent_off")
        if self.kind == "fixed" and not self.amount_off_fen:
            raise ValueError("a fixed coupon needs amount_off_fen")
        return self


class Promotions(BaseModel):
    """Promotions the caller considers live; windows are still checked against `at`."""

    item_discounts: list[ItemDiscount] = Field(default_factory=list)
    spend_tiers: list[SpendTierPromotion] = Field(default_factory=list)
    gifts: list[GiftPromotion] = Field(default_factory=list)


# --- Inputs: member level and points (DESIGN §6.7) -----------------------------------------


class MemberTerms(BaseModel):
    """The customer's level and its benefits when the order is placed."""

    level_id: int
    name: str = ""
    discount_percent: Annotated[int, Field(ge=0, le=99)] = 0
    free_shipping: bool = False


class PointsOffer(BaseModel):
    """Points the customer asks to spend, their balance and the rules' rate and cap: a point is
    worth `fen_per_point` fen, and points pay at most `max_percent` % of the goods."""

    requested: Annotated[int, Field(gt=0)]
    balance: Annotated[int, Field(ge=0)]
    fen_per_point: Annotated[int, Field(ge=1)] = 1
    max_percent: Annotated[int, Field(ge=0, le=100)] = 50


# --- Inputs: freight -----------------------------------------------------------------------


class FreightRule(BaseModel):
    """首重/续重 for some regions (province codes, or more specific codes) or the default."""

    rule_id: int
    regions: list[RegionCode] = Field(default_factory=list)
    is_default: bool = False
    first_units: Annotated[int, Field(gt=0)]
    first_price_fen: Fen
    additional_units: Annotated[int, Field(gt=0)]
    additional_price_fen: Fen

    @model_validator(mode="after")
    def _regions_or_default(self) -> Self:
        if not (self.is_default or self.regions):
            raise ValueError("a freight rule names regions or is the default")
        return self


class FreightTemplate(BaseModel):
    template_id: int
    code: str = ""
    name: str = ""
    charge_by: ChargeBy
    free_over_fen: Fen | None = None
    unserviceable_regions: list[RegionCode] = Field(default_factory=list)
    rules: list[FreightRule] = Field(default_factory=list)


class FreightPolicy(BaseModel):
    """The platform rule: free over a threshold (any mode), else a fixed fee or per template."""

    mode: Literal["templates", "fixed"] = "templates"
    fixed_fee_fen: Fen = 0
    free_over_fen: Fen | None = None
    combine: Combine = "sum"


class FreightSetup(BaseModel):
    policy: FreightPolicy = Field(default_factory=FreightPolicy)
    templates: list[FreightTemplate] = Field(default_factory=list)


class FreightItem(BaseModel):
    """One shipped line as freight sees it: what it weighs and what was paid for it."""

    sku_id: int
    quantity: Quantity
    weight_g: Annotated[int, Field(ge=0)] = 0
    volume_cm3: Annotated[int, Field(ge=0)] = 0
    freight_template_id: int | None = None
    paid_fen: Fen = 0


class FreightRequest(BaseModel):
    destination_region: RegionCode
    items: Annotated[list[FreightItem], Field(min_length=1)]
    setup: FreightSetup = Field(default_factory=FreightSetup)


class PricingRequest(BaseModel):
    """Everything `price_order` needs; `at` is the business time (no clock is read)."""

    at: AwareDatetime
    customer_id: int
    destination_region: RegionCode
    lines: Annotated[list[CartLine], Field(min_length=1)]
    catalog: list[SkuFacts]
    promotions: Promotions = Field(default_factory=Promotions)
    coupon: CouponOffer | None = None
    member: MemberTerms | None = None
    points: PointsOffer | None = None
    freight: FreightSetup = Field(default_factory=FreightSetup)


# --- Results -------------------------------------------------------------------------------


class DiscountAllocation(BaseModel):
    """The part of one discount borne by one line; refunds are computed from these."""

    source: DiscountSource
    source_id: int
    amount_fen: Fen


class PricedLine(BaseModel):
    line_no: int
    sku_id: int
    category_id: int
    quantity: int
    unit_price_fen: Fen
    list_amount_fen: Fen
    allocations: list[DiscountAllocation] = Field(default_factory=list)
    discount_fen: Fen
    paid_fen: Fen
    is_gift: bool = False
    gift_promotion_id: int | None = None


class AppliedDiscount(BaseModel):
    source: DiscountSource
    source_id: int
    name: str = ""
    amount_fen: Fen


class TemplateCharge(BaseModel):
    template_id: int
    charge_by: ChargeBy
    sku_ids: list[int]
    units: int
    rule_id: int
    charge_fen: Fen
    free_over_reached: bool = False


class FreightQuote(BaseModel):
    basis: FreightBasis
    combine: Combine
    templates: list[TemplateCharge] = Field(default_factory=list)
    freight_fen: Fen


class PricedOrder(BaseModel):
    lines: list[PricedLine]
    discounts: list[AppliedDiscount]
    coupon_id: int | None = None
    points_used: Annotated[int, Field(ge=0)] = 0
    goods_list_fen: Fen
    discount_fen: Fen
    goods_paid_fen: Fen
    freight: FreightQuote
    freight_fen: Fen
    payable_fen: Fen


# --- Warehouse choice (§5) -----------------------------------------------------------------


class DemandLine(BaseModel):
    line_no: int
    sku_id: int
    quantity: Quantity


class WarehouseCandidate(BaseModel):
    """A warehouse, its priority for the destination (lower = preferred; None = unranked, after
    every ranked one) and its sellable quantity per SKU."""

    warehouse_id: int
    priority: int | None = None
    sellable: dict[int, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)


class WarehouseChoiceRequest(BaseModel):
    lines: Annotated[list[DemandLine], Field(min_length=1)]
    candidates: list[WarehouseCandidate]


class LineAssignment(BaseModel):
    line_no: int
    sku_id: int
    warehouse_id: int
    quantity: Quantity


class WarehouseChoice(BaseModel):
    """Warehouses in preference order, and per line the part each one ships."""

    warehouse_ids: list[int]
    assignments: list[LineAssignment]
    single_warehouse: bool
