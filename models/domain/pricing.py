"""Server-side order pricing (DESIGN §7): `price_order(request) -> PricedOrder`.

Prices are the catalog's (`SkuFacts.list_price_fen`), never the client's. Stacking order, each
step working on the line amounts the previous steps left (details in `promotions` and `freight`):

1. List amounts: unit list price × quantity per cart line (lines numbered 1.. in cart order).
2. Item discounts (单品折扣/直降, SKU or category): at most one per line, the best for it.
3. Spend tiers (满减): thresholds on covered amounts after step 2; a line joins at most one.
4. Gifts (满赠) are decided here, on amounts after steps 2–3.
5. Coupon (at most one): window, per-customer limit, covered lines and minimum spend checked
   on amounts after steps 2–3; an inapplicable coupon is an error, never silently dropped.
6. Level discount (会员折扣, DESIGN §6.7): the customer's level takes its percentage off every
   non-gift line, on amounts after steps 2–5 (`models.domain.points`).
7. Points discount (积分抵扣), last: the points the customer spends, worth `fen_per_point` fen
   each, capped at `max_percent` % of what the lines still cost after steps 2–6; more than the
   balance is an error (`models.domain.points`).
8. Gift lines are appended (after the cart lines, in promotion id order): the gift SKU at unit
   price 0, its own quantity — a line of its own so it is reserved and shipped like any other.
9. Freight on the paid goods amount (after every discount) — see `models.domain.freight`; a
   level with free shipping makes it 0 (basis `member_free`) once the region is known to be
   served (an unserviceable region stays an error).
10. Payable = Σ line paid + freight.

Every discount is allocated to the lines it covers in whole fen (`models.domain.discounts`),
stored per line as `DiscountAllocation`s: per line, paid = list amount − Σ allocations ≥ 0, and
per discount Σ allocations = the discount. Refunds are computed from these.
"""

from __future__ import annotations

from collections.abc import Sequence

from models.contracts.pricing import (
    AppliedDiscount,
    CartLine,
    FreightItem,
    FreightQuote,
    FreightRequest,
    GiftPromotion,
    PricedLine,
    PricedOrder,
    PricingRequest,
    SkuFacts,
)
from models.domain.freight import quote_freight
from models.domain.points import apply_level_discount, apply_points
from models.domain.promotions import (
    apply_coupon,
    apply_item_discounts,
    apply_spend_tiers,
    earned_gifts,
)


class UnknownSkuError(Exception):
    """Cart or gift SKUs the catalog facts do not include (unknown or not for sale)."""

    def __init__(self, sku_ids: list[int]) -> None:
        self.sku_ids = sku_ids
        super().__init__(f"unknown SKUs {sku_ids}")


def facts_for(facts: dict[int, SkuFacts], sku_ids: Sequence[int]) -> list[SkuFacts]:
    """The facts of each SKU in order, or `UnknownSkuError` naming every missing one."""
    missing = sorted({sku for sku in sku_ids if sku not in facts})
    if missing:
        raise UnknownSkuError(missing)
    return [facts[sku] for sku in sku_ids]


def list_line(line_no: int, line: CartLine, facts: SkuFacts) -> PricedLine:
    amount = facts.list_price_fen * line.quantity
    return PricedLine(
        line_no=line_no,
        sku_id=line.sku_id,
        category_id=facts.category_id,
        quantity=line.quantity,
        unit_price_fen=facts.list_price_fen,
        list_amount_fen=amount,
        discount_fen=0,
        paid_fen=amount,
    )


def gift_line(line_no: int, promotion: GiftPromotion, facts: SkuFacts) -> PricedLine:
    return PricedLine(
        line_no=line_no,
        sku_id=promotion.gift_sku_id,
        category_id=facts.category_id,
        quantity=promotion.gift_quantity,
        unit_price_fen=0,
        list_amount_fen=0,
        discount_fen=0,
        paid_fen=0,
        is_gift=True,
        gift_promotion_id=promotion.promotion_id,
    )


def freight_items(lines: Sequence[PricedLine], facts: dict[int, SkuFacts]) -> list[FreightItem]:
    return [
        FreightItem(
            sku_id=line.sku_id,
            quantity=line.quantity,
            weight_g=facts[line.sku_id].weight_g,
            volume_cm3=facts[line.sku_id].volume_cm3,
            freight_template_id=facts[line.sku_id].freight_template_id,
            paid_fen=line.paid_fen,
        )
        for line in lines
    ]


def price_order(request: PricingRequest) -> PricedOrder:
    """Price a cart: promotions, coupon, gifts, allocations, freight, payable."""
    facts = {sku.sku_id: sku for sku in request.catalog}
    cart_facts = facts_for(facts, [line.sku_id for line in request.lines])
    lines = [
        list_line(no, line, sku)
        for no, (line, sku) in enumerate(zip(request.lines, cart_facts, strict=True), start=1)
    ]
    lines, item_applied = apply_item_discounts(lines, request.promotions.item_discounts, request.at)
    lines, tier_applied = apply_spend_tiers(lines, request.promotions.spend_tiers, request.at)
    gifts = earned_gifts(lines, request.promotions.gifts, request.at)
    lines, coupon_applied = apply_coupon(lines, request.coupon, request.at)
    lines, level_applied = apply_level_discount(lines, request.member)
    lines, points_applied, points_used = apply_points(lines, request.points)
    gift_facts = facts_for(facts, [gift.gift_sku_id for gift in gifts])
    lines += [
        gift_line(len(lines) + offset, gift, sku)
        for offset, (gift, sku) in enumerate(zip(gifts, gift_facts, strict=True), start=1)
    ]
    freight = quote_freight(
        FreightRequest(
            destination_region=request.destination_region,
            items=freight_items(lines, facts),
            setup=request.freight,
        )
    )
    if request.member is not None and request.member.free_shipping:
        freight = FreightQuote(basis="member_free", combine=freight.combine, freight_fen=0)
    discounts = [*item_applied, *tier_applied, *coupon_applied, *level_applied, *points_applied]
    return summarise(lines, discounts, freight, points_used)


def summarise(
    lines: list[PricedLine],
    discounts: list[AppliedDiscount],
    freight: FreightQuote,
    points_used: int = 0,
) -> PricedOrder:
    goods_paid = sum(line.paid_fen for line in lines)
    coupon = next((d.source_id for d in discounts if d.source == "coupon"), None)
    return PricedOrder(
        lines=lines,
        discounts=discounts,
        coupon_id=coupon,
        points_used=points_used,
        goods_list_fen=sum(line.list_amount_fen for line in lines),
        discount_fen=sum(line.discount_fen for line in lines),
        goods_paid_fen=goods_paid,
        freight=freight,
        freight_fen=freight.freight_fen,
        payable_fen=goods_paid + freight.freight_fen,
    )
