"""Promotions and coupons (DESIGN §7): which apply to a cart and how much each takes off.

Each step takes the priced lines as they stand and returns them with one more layer of
`DiscountAllocation`s (allocated by `models.domain.discounts.allocate`). A line's *amount* at any
step is its list amount minus what earlier steps took off; no step takes a line below 0. Gift
lines never receive discounts and never count towards a threshold. A promotion or coupon is live
when `valid_from <= at < valid_until` (open ends unbounded); `at` comes from the input.

- Item discounts (单品折扣/直降): at most one per line, the one taking off the most (ties: lowest
  promotion id). Percent: ⌊amount × percent / 100⌋; fixed: `amount_off_fen` per unit. Both capped
  at the line's amount.
- Spend tiers (满减), in promotion id order. A promotion's threshold is measured on the covered
  lines' amounts after item discounts; it gives the off of the highest tier reached (or, repeating,
  ⌊base / threshold⌋ × off), capped at `max_off_fen` and at the base. A line takes part in at most
  one spend-tier promotion: the first one (by id) that applies to it.
- Gifts (满赠): measured like spend tiers, on amounts after item discounts and spend tiers (a
  coupon never costs the customer a gift). Every live gift promotion reached earns its gift.
- Coupon (one per order): window, then per-customer limit (prior uses < limit), then covered
  lines, then minimum spend — measured on the covered lines' amounts after all promotions. Any
  failure is a `CouponNotApplicableError`: the customer chose the coupon, so it is never dropped
  silently. Percent coupons take ⌊base × percent / 100⌋ capped at `max_off_fen`; fixed ones
  `amount_off_fen`; both capped at the base.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from models.contracts.pricing import (
    AppliedDiscount,
    CouponOffer,
    DiscountAllocation,
    DiscountSource,
    GiftPromotion,
    ItemDiscount,
    PricedLine,
    ProductScope,
    SpendTierPromotion,
    ValidityWindow,
)
from models.domain.discounts import allocate, percent_of

Step = tuple[list[PricedLine], list[AppliedDiscount]]


class CouponNotApplicableError(Exception):
    """The chosen coupon cannot be used on this order; `reason` says why."""

    REASONS = (
        "not_started",
        "expired",
        "limit_reached",
        "no_eligible_items",
        "below_min_spend",
        "not_issued",  # an issued coupon, not issued to this customer
        "already_used",  # every coupon issued to this customer is used
    )

    def __init__(self, coupon_id: int, reason: str, detail: str = "") -> None:
        self.coupon_id = coupon_id
        self.reason = reason
        self.detail = detail
        super().__init__(f"coupon {coupon_id} not applicable: {reason} {detail}".strip())


def is_live(window: ValidityWindow, at: datetime) -> bool:
    """Whether `at` falls in the half-open window [valid_from, valid_until)."""
    if window.valid_from is not None and at < window.valid_from:
        return False
    return window.valid_until is None or at < window.valid_until


def covers(scope: ProductScope, line: PricedLine) -> bool:
    """Whether the scope covers a (non-gift) line."""
    if line.is_gift:
        return False
    return scope.all_items or line.sku_id in scope.sku_ids or line.category_id in scope.category_ids


def with_discount(
    lines: Sequence[PricedLine],
    source: DiscountSource,
    source_id: int,
    shares: dict[int, int],
) -> list[PricedLine]:
    """The lines with `shares[line_no]` fen of one discount added to their allocations."""
    result = []
    for line in lines:
        share = shares.get(line.line_no, 0)
        if share == 0:
            result.append(line)
            continue
        if share > line.paid_fen:
            raise ValueError(f"line {line.line_no} cannot bear {share} fen")
        allocation = DiscountAllocation(source=source, source_id=source_id, amount_fen=share)
        result.append(
            line.model_copy(
                update={
                    "allocations": [*line.allocations, allocation],
                    "discount_fen": line.discount_fen + share,
                    "paid_fen": line.paid_fen - share,
                }
            )
        )
    return result


def spread(
    lines: Sequence[PricedLine],
    eligible: Sequence[PricedLine],
    source: DiscountSource,
    source_id: int,
    discount: int,
) -> list[PricedLine]:
    """Allocate `discount` over `eligible` in proportion to their current amounts."""
    shares = allocate(discount, [line.paid_fen for line in eligible])
    by_line = {line.line_no: share for line, share in zip(eligible, shares, strict=True)}
    return with_discount(lines, source, source_id, by_line)


# --- Item discounts ------------------------------------------------------------------------


def item_discount_amount(discount: ItemDiscount, line: PricedLine) -> int:
    """What `discount` would take off `line` on its own, capped at the line's amount."""
    if discount.kind == "percent":
        amount = percent_of(line.paid_fen, discount.percent_off)
    else:
        amount = discount.amount_off_fen * line.quantity
    return min(amount, line.paid_fen)


def best_item_discount(
    discounts: Sequence[ItemDiscount], line: PricedLine
) -> tuple[ItemDiscount, int] | None:
    """The covering discount taking off the most (ties: lowest id), or None if none helps."""
    offers = [(d, item_discount_amount(d, line)) for d in discounts if covers(d.scope, line)]
    offers = [(d, amount) for d, amount in offers if amount > 0]
    if not offers:
        return None
    return min(offers, key=lambda offer: (-offer[1], offer[0].promotion_id))


def apply_item_discounts(
    lines: Sequence[PricedLine], discounts: Sequence[ItemDiscount], at: datetime
) -> Step:
    live = [d for d in discounts if is_live(d, at)]
    result = list(lines)
    totals: dict[int, int] = {}
    for line in lines:
        best = best_item_discount(live, line)
        if best is None:
            continue
        discount, amount = best
        result = with_discount(
            result, "item_discount", discount.promotion_id, {line.line_no: amount}
        )
        totals[discount.promotion_id] = totals.get(discount.promotion_id, 0) + amount
    names = {d.promotion_id: d.name for d in live}
    applied = [
        AppliedDiscount(source="item_discount", source_id=pid, name=names[pid], amount_fen=amount)
        for pid, amount in sorted(totals.items())
    ]
    return result, applied


# --- Spend tiers (满减) --------------------------------------------------------------------


def spend_tier_off(promotion: SpendTierPromotion, base: int) -> int:
    """What the promotion takes off covered goods worth `base` fen (0 below every tier)."""
    if promotion.repeat:
        tier = promotion.tiers[0]
        off = base // tier.threshold_fen * tier.off_fen
    else:
        reached = [tier for tier in promotion.tiers if tier.threshold_fen <= base]
        off = max(reached, key=lambda tier: tier.threshold_fen).off_fen if reached else 0
    if promotion.max_off_fen is not None:
        off = min(off, promotion.max_off_fen)
    return min(off, base)


def apply_spend_tiers(
    lines: Sequence[PricedLine], promotions: Sequence[SpendTierPromotion], at: datetime
) -> Step:
    result = list(lines)
    applied: list[AppliedDiscount] = []
    claimed: set[int] = set()
    for promotion in sorted(promotions, key=lambda p: p.promotion_id):
        if not is_live(promotion, at):
            continue
        eligible = [
            ln for ln in result if covers(promotion.scope, ln) and ln.line_no not in claimed
        ]
        off = spend_tier_off(promotion, sum(line.paid_fen for line in eligible))
        if off == 0:
            continue
        result = spread(result, eligible, "spend_tier", promotion.promotion_id, off)
        claimed.update(line.line_no for line in eligible)
        applied.append(
            AppliedDiscount(
                source="spend_tier",
                source_id=promotion.promotion_id,
                name=promotion.name,
                amount_fen=off,
            )
        )
    return result, applied


# --- Gifts (满赠) --------------------------------------------------------------------------


def earned_gifts(
    lines: Sequence[PricedLine], promotions: Sequence[GiftPromotion], at: datetime
) -> list[GiftPromotion]:
    """Live gift promotions whose threshold the covered lines reach, in promotion id order."""
    earned = []
    for promotion in sorted(promotions, key=lambda p: p.promotion_id):
        base = sum(line.paid_fen for line in lines if covers(promotion.scope, line))
        if is_live(promotion, at) and base >= promotion.threshold_fen:
            earned.append(promotion)
    return earned


# --- Coupon --------------------------------------------------------------------------------


def check_coupon(coupon: CouponOffer, lines: Sequence[PricedLine], at: datetime) -> int:
    """The coupon's base (covered amount after promotions), or CouponNotApplicableError."""
    if coupon.valid_from is not None and at < coupon.valid_from:
        raise CouponNotApplicableError(coupon.coupon_id, "not_started")
    if coupon.valid_until is not None and at >= coupon.valid_until:
        raise CouponNotApplicableError(coupon.coupon_id, "expired")
    limit = coupon.per_customer_limit
    if limit is not None and coupon.used_by_customer >= limit:
        raise CouponNotApplicableError(coupon.coupon_id, "limit_reached", f"limit {limit}")
    eligible = [line for line in lines if covers(coupon.scope, line)]
    if not eligible:
        raise CouponNotApplicableError(coupon.coupon_id, "no_eligible_items")
    base = sum(line.paid_fen for line in eligible)
    if base < coupon.min_spend_fen:
        detail = f"{base} < {coupon.min_spend_fen} fen"
        raise CouponNotApplicableError(coupon.coupon_id, "below_min_spend", detail)
    return base


def coupon_off(coupon: CouponOffer, base: int) -> int:
    """What the coupon takes off covered goods worth `base` fen."""
    if coupon.kind == "percent":
        off = percent_of(base, coupon.percent_off)
        if coupon.max_off_fen is not None:
            off = min(off, coupon.max_off_fen)
    else:
        off = coupon.amount_off_fen
    return min(off, base)


def apply_coupon(lines: Sequence[PricedLine], coupon: CouponOffer | None, at: datetime) -> Step:
    if coupon is None:
        return list(lines), []
    off = coupon_off(coupon, check_coupon(coupon, lines, at))
    eligible = [line for line in lines if covers(coupon.scope, line)]
    result = spread(lines, eligible, "coupon", coupon.coupon_id, off)
    applied = AppliedDiscount(
        source="coupon", source_id=coupon.coupon_id, name=coupon.code, amount_fen=off
    )
    return result, [applied]
