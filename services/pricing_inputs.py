"""Load what the pure pricing rules need from the database: SKU facts, live promotions, the
coupon with the customer's usage, and the freight setup."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, exists, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.contracts.pricing import (
    CouponOffer,
    FreightPolicy,
    FreightRule,
    FreightSetup,
    FreightTemplate,
    GiftPromotion,
    ItemDiscount,
    Promotions,
    SkuFacts,
    SpendTierPromotion,
)
from models.db import Coupon, CouponBatch, CouponRedemption, CustomerCoupon, Sku, Spu
from models.db import FreightPolicy as FreightPolicyRow
from models.db import FreightRule as FreightRuleRow
from models.db import FreightTemplate as FreightTemplateRow
from models.db import Promotion as PromotionRow
from models.domain.promotions import CouponNotApplicableError


class UnknownSkusError(Exception):
    def __init__(self, sku_ids: list[int]) -> None:
        super().__init__(f"unknown or inactive SKUs: {sku_ids}")
        self.sku_ids = sku_ids


class UnknownCouponError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(f"no such coupon: {code}")
        self.code = code


async def sku_facts(session: AsyncSession, sku_ids: set[int]) -> list[SkuFacts]:
    rows = (
        await session.execute(
            select(Sku, Spu.category_id)
            .join(Spu, Spu.id == Sku.spu_id)
            .where(Sku.id.in_(sku_ids), Sku.active, Spu.active)
        )
    ).all()
    missing = sorted(sku_ids - {sku.id for sku, _ in rows})
    if missing:
        raise UnknownSkusError(missing)
    return [
        SkuFacts(
            sku_id=sku.id,
            category_id=category_id,
            list_price_fen=sku.list_price_fen,
            weight_g=sku.weight_g,
            volume_cm3=sku.volume_cm3,
            freight_template_id=sku.freight_template_id,
        )
        for sku, category_id in rows
    ]


async def live_promotions(session: AsyncSession, at: datetime) -> Promotions:
    rows = await session.scalars(
        select(PromotionRow)
        .where(PromotionRow.active)
        .where(or_(PromotionRow.valid_from.is_(None), PromotionRow.valid_from <= at))
        .where(or_(PromotionRow.valid_until.is_(None), PromotionRow.valid_until > at))
        .order_by(PromotionRow.id)
    )
    promotions = Promotions()
    for row in rows:
        rule = {**row.rule, "promotion_id": row.id, "name": row.name}
        if row.kind == "item_discount":
            promotions.item_discounts.append(ItemDiscount.model_validate(rule))
        elif row.kind == "spend_tier":
            promotions.spend_tiers.append(SpendTierPromotion.model_validate(rule))
        else:
            promotions.gifts.append(GiftPromotion.model_validate(rule))
    return promotions


async def is_issued_coupon(session: AsyncSession, coupon_id: int) -> bool:
    """Whether the coupon was issued to customers (a segment batch gives it): then only those
    customers use it, once per coupon issued; other coupons are public."""
    found = await session.scalar(select(exists().where(CouponBatch.coupon_id == coupon_id)))
    return bool(found)


def _unused(coupon_id: int, customer_id: int) -> Select[int]:
    return select(CustomerCoupon.id).where(
        CustomerCoupon.coupon_id == coupon_id,
        CustomerCoupon.customer_id == customer_id,
        CustomerCoupon.used_order_no.is_(None),
    )


async def coupon_offer(session: AsyncSession, code: str, customer_id: int | None) -> CouponOffer:
    """The coupon `code` for the customer record `customer_id` (None: a customer without one):
    an issued coupon needs an unused one issued to them (CouponNotApplicableError `not_issued`
    or `already_used` otherwise)."""
    coupon = await session.scalar(select(Coupon).where(Coupon.code == code, Coupon.active))
    if coupon is None:
        raise UnknownCouponError(code)
    if await is_issued_coupon(session, coupon.id):
        issued = (
            await session.scalar(
                select(func.count())
                .select_from(CustomerCoupon)
                .where(
                    CustomerCoupon.coupon_id == coupon.id, CustomerCoupon.customer_id == customer_id
                )
            )
            if customer_id is not None
            else 0
        )
        if not issued:
            raise CouponNotApplicableError(coupon.id, "not_issued", "issued to other customers")
        assert customer_id is not None
        if await session.scalar(_unused(coupon.id, customer_id).limit(1)) is None:
            raise CouponNotApplicableError(coupon.id, "already_used", f"{issued} issued, all used")
    used = (
        await session.scalar(
            select(func.count())
            .select_from(CouponRedemption)
            .where(
                CouponRedemption.coupon_id == coupon.id,
                CouponRedemption.customer_id == customer_id,
                CouponRedemption.status == "used",
            )
        )
        if customer_id is not None
        else 0
    )
    return CouponOffer.model_validate(
        {**coupon.rule, "coupon_id": coupon.id, "code": coupon.code, "used_by_customer": used or 0}
    )


async def claim_issued_coupon(
    session: AsyncSession, coupon_id: int, customer_id: int | None, order_no: str, at: datetime
) -> None:
    """An issued coupon's use by the order: one of the customer's unused issued coupons becomes
    the order's (under a row lock, so two orders cannot use the same one); once per order, a
    retry finds its own. Public coupons: nothing to claim."""
    if not await is_issued_coupon(session, coupon_id):
        return
    mine = await session.scalar(
        select(CustomerCoupon.id).where(
            CustomerCoupon.coupon_id == coupon_id, CustomerCoupon.used_order_no == order_no
        )
    )
    if mine is not None:
        return
    free = (
        await session.scalar(
            _unused(coupon_id, customer_id)
            .order_by(CustomerCoupon.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if customer_id is not None
        else None
    )
    if free is None:
        raise CouponNotApplicableError(coupon_id, "already_used", "no unused coupon left")
    await session.execute(
        update(CustomerCoupon)
        .where(CustomerCoupon.id == free)
        .values(used_order_no=order_no, used_at=at)
    )


async def freight_setup(session: AsyncSession, template_ids: set[int]) -> FreightSetup:
    """The freight policy and these templates with their rules: one statement (the policy's
    row, outer-joined with each template's rules)."""
    one = select(literal(1).label("one")).subquery("one")
    rows = (
        await session.execute(
            select(FreightPolicyRow, FreightTemplateRow, FreightRuleRow)
            .select_from(one)
            .outerjoin(FreightPolicyRow, FreightPolicyRow.id == 1)
            .outerjoin(FreightTemplateRow, FreightTemplateRow.id.in_(template_ids))
            .outerjoin(FreightRuleRow, FreightRuleRow.template_id == FreightTemplateRow.id)
            .order_by(FreightTemplateRow.id, FreightRuleRow.id)
        )
    ).all()
    policy_row = rows[0][0] if rows else None
    policy = (
        FreightPolicy(
            mode=policy_row.mode,
            fixed_fee_fen=policy_row.fixed_fee_fen,
            free_over_fen=policy_row.free_over_fen,
            combine=policy_row.combine,
        )
        if policy_row
        else FreightPolicy()
    )
    templates: dict[int, FreightTemplate] = {}
    for _, template, r in rows:
        if template is None:
            continue
        found = templates.get(template.id)
        if found is None:
            found = templates[template.id] = FreightTemplate(
                template_id=template.id,
                code=template.code,
                name=template.name,
                charge_by=template.charge_by,
                free_over_fen=template.free_over_fen,
                unserviceable_regions=list(template.unserviceable_regions),
                rules=[],
            )
        if r is not None:
            found.rules.append(
                FreightRule(
                    rule_id=r.id,
                    regions=list(r.regions),
                    is_default=r.is_default,
                    first_units=r.first_units,
                    first_price_fen=r.first_price_fen,
                    additional_units=r.additional_units,
                    additional_price_fen=r.additional_price_fen,
                )
            )
    return FreightSetup(policy=policy, templates=list(templates.values()))
