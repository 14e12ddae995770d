"""Pricing and shipping reference data: promotions (DESIGN §7), coupons with their redemptions,
and the tracking-number ranges bought in advance from carriers.

What is stored is what `services.pricing_inputs` reads back: a promotion row's `rule` plus its
id and name validates as the matching `models.contracts.pricing` type, and its validity lives
only in the row's columns (the loader filters on them, so the contract's own window stays open
and agrees); a coupon row's `rule` plus id, code and usage validates as `CouponOffer`, its window
included (coupons have no validity columns). Both are checked against the contract before they
are stored, so a rule the pricing engine cannot load is a 422 here, not a failed order later.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.crud import apply_update, get_or_404
from api.deps import Session, Writer, require, writer
from api.errors import Problem, conflict, invalid, not_found, validation_error
from api.pagination import Paging, fetch_page
from api.routing import Routes
from api.schemas.promotions import (
    RULES,
    CouponCreate,
    CouponPublic,
    CouponsPublic,
    CouponUpdate,
    GiftRule,
    PromotionCreate,
    PromotionKind,
    PromotionPublic,
    PromotionsPublic,
    PromotionUpdate,
    RedemptionPublic,
    RedemptionsPublic,
    ScopeIn,
    TrackingRangeCreate,
    TrackingRangePublic,
    TrackingRangesPublic,
)
from api.schemas.types import BigIdParam, IdParam, NoParam
from models.contracts.pricing import CouponOffer
from models.db import (
    Carrier,
    Category,
    Coupon,
    CouponRedemption,
    Promotion,
    Sku,
    Spu,
    TrackingAllocation,
    TrackingRange,
)

router = Routes(prefix="/v1")
Read = Depends(require("promotions.read"))
Write = Annotated[Writer, Depends(writer("promotions.write"))]
TrackingRead = Depends(require("tracking.read"))
TrackingWrite = Annotated[Writer, Depends(writer("tracking.write"))]
M = TypeVar("M", bound=BaseModel)


# --- Rule validation ------------------------------------------------------------------------


def _validated(model: type[M], data: dict[str, Any], prefix: str) -> M:
    """The model, or a 422 naming every offending field under `prefix` (`rule.tiers.0.off_fen`)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [validation_error(e, prefix) for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise Problem(422, detail, type_="/problems/invalid-input", errors=errors) from None


async def _check_scope(session: AsyncSession, scope: ScopeIn) -> None:
    for field, model, ids in (
        ("rule.scope.sku_ids", Sku, scope.sku_ids),
        ("rule.scope.category_ids", Category, scope.category_ids),
    ):
        if not ids:
            continue
        found = set(await session.scalars(select(model.id).where(model.id.in_(ids))))
        missing = sorted(set(ids) - found)
        if missing:
            raise invalid(
                field,
                f"no such object: {missing}",
                "unknown_objects",
                ids=", ".join(str(i) for i in missing),
            )


async def _check_gift_sku(session: AsyncSession, sku_id: int) -> None:
    """Pricing loads every live gift's SKU; an unknown or inactive one would refuse every order."""
    sellable = await session.scalar(
        select(Sku.id)
        .join(Spu, Spu.id == Sku.spu_id)
        .where(Sku.id == sku_id, Sku.active, Spu.active)
    )
    if sellable is None:
        raise invalid(
            "rule.gift_sku_id", f"no such active SKU: {sku_id}", "unknown_sku", sku_id=sku_id
        )


async def _promotion_rule(session: AsyncSession, body: PromotionCreate) -> dict[str, Any]:
    """The rule as stored: the kind's terms, valid as its contract once id and name are added."""
    rule_model, contract = RULES[body.kind]
    terms = _validated(rule_model, body.rule, "rule")
    stored = terms.model_dump(mode="json")
    _validated(contract, {**stored, "promotion_id": 0, "name": body.name}, "rule")
    await _check_scope(session, terms.scope)
    if isinstance(terms, GiftRule):
        await _check_gift_sku(session, terms.gift_sku_id)
    return stored


# --- Promotions -----------------------------------------------------------------------------


@router.get("/promotions", dependencies=[Read], tags=["promotions"])
async def list_promotions(
    session: Session, paging: Paging, kind: PromotionKind | None = None, active: bool | None = None
) -> PromotionsPublic:
    query = select(Promotion).order_by(Promotion.id)
    if kind is not None:
        query = query.where(Promotion.kind == kind)
    if active is not None:
        query = query.where(Promotion.active.is_(active))
    rows, count = await fetch_page(session, query, paging)
    return PromotionsPublic(data=[PromotionPublic.model_validate(r) for r in rows], count=count)


@router.post("/promotions", status_code=201, tags=["promotions"])
async def create_promotion(body: PromotionCreate, w: Write) -> PromotionPublic:
    rule = await _promotion_rule(w.session, body)
    promotion = Promotion(**body.model_dump(exclude={"rule"}), rule=rule)
    w.session.add(promotion)
    await w.session.flush()
    await w.commit("promotion.create", "promotion", promotion.id, {"kind": body.kind})
    return PromotionPublic.model_validate(promotion)


@router.get("/promotions/{promotion_id}", dependencies=[Read], tags=["promotions"])
async def get_promotion(promotion_id: IdParam, session: Session) -> PromotionPublic:
    promotion = await get_or_404(session, Promotion, promotion_id, "promotion")
    return PromotionPublic.model_validate(promotion)


@router.patch("/promotions/{promotion_id}", tags=["promotions"])
async def update_promotion(
    promotion_id: IdParam, body: PromotionUpdate, w: Write
) -> PromotionPublic:
    promotion = await get_or_404(w.session, Promotion, promotion_id, "promotion")
    changes = apply_update(promotion, body)
    start, end = promotion.valid_from, promotion.valid_until
    if start is not None and end is not None and end <= start:
        raise invalid("valid_until", "must be after valid_from", "not_after_valid_from")
    await w.commit("promotion.update", "promotion", promotion.id, changes)
    return PromotionPublic.model_validate(promotion)


# --- Coupons --------------------------------------------------------------------------------


async def _coupon(session: AsyncSession, code: str) -> Coupon:
    coupon = await session.scalar(select(Coupon).where(Coupon.code == code))
    if coupon is None:
        raise not_found("coupon", code)
    return coupon


@router.get("/coupons", dependencies=[Read], tags=["coupons"])
async def list_coupons(
    session: Session, paging: Paging, active: bool | None = None
) -> CouponsPublic:
    query = select(Coupon).order_by(Coupon.id)
    if active is not None:
        query = query.where(Coupon.active.is_(active))
    rows, count = await fetch_page(session, query, paging)
    return CouponsPublic(data=[CouponPublic.model_validate(r) for r in rows], count=count)


@router.post("/coupons", status_code=201, tags=["coupons"])
async def create_coupon(body: CouponCreate, w: Write) -> CouponPublic:
    if await w.session.scalar(select(Coupon.id).where(Coupon.code == body.code)) is not None:
        raise conflict(
            f"coupon {body.code} already exists",
            field="code",
            reason="coupon_exists",
            coupon=body.code,
        )
    rule = body.rule.model_dump(mode="json")
    _validated(CouponOffer, {**rule, "coupon_id": 0, "code": body.code}, "rule")
    await _check_scope(w.session, body.rule.scope)
    coupon = Coupon(code=body.code, rule=rule, active=body.active)
    w.session.add(coupon)
    await w.session.flush()
    await w.commit("coupon.create", "coupon", coupon.code, {"kind": body.rule.kind})
    return CouponPublic.model_validate(coupon)


@router.get("/coupons/{code}", dependencies=[Read], tags=["coupons"])
async def get_coupon(code: NoParam, session: Session) -> CouponPublic:
    return CouponPublic.model_validate(await _coupon(session, code))


@router.patch("/coupons/{code}", tags=["coupons"])
async def update_coupon(code: NoParam, body: CouponUpdate, w: Write) -> CouponPublic:
    coupon = await _coupon(w.session, code)
    changes = apply_update(coupon, body)
    await w.commit("coupon.update", "coupon", coupon.code, changes)
    return CouponPublic.model_validate(coupon)


@router.get("/coupons/{code}/redemptions", dependencies=[Read], tags=["coupons"])
async def list_redemptions(
    code: NoParam, session: Session, paging: Paging, customer_id: BigIdParam | None = None
) -> RedemptionsPublic:
    """The orders that used the coupon; `customer_id` is the customer record's id
    (customers.id), as on GET /v1/customers/{customer_id}."""
    coupon = await _coupon(session, code)
    query = (
        select(CouponRedemption)
        .where(CouponRedemption.coupon_id == coupon.id)
        .order_by(CouponRedemption.order_no)
    )
    if customer_id is not None:
        query = query.where(CouponRedemption.customer_id == customer_id)
    rows, count = await fetch_page(session, query, paging)
    return RedemptionsPublic(data=[RedemptionPublic.model_validate(r) for r in rows], count=count)


# --- Tracking ranges ------------------------------------------------------------------------


def _range_public(row: TrackingRange) -> TrackingRangePublic:
    remaining = row.last_number - row.next_number + 1
    return TrackingRangePublic(
        id=row.id,
        carrier_id=row.carrier_id,
        prefix=row.prefix,
        next_number=row.next_number,
        last_number=row.last_number,
        low_watermark=row.low_watermark,
        remaining=remaining,
        low=remaining < row.low_watermark,
        created_at=row.created_at,
    )


async def _check_no_overlap(session: AsyncSession, body: TrackingRangeCreate) -> None:
    """409 when any number of the new range is in an existing range of the prefix (any carrier:
    tracking numbers are unique across carriers) or was already given to a package. A range
    keeps only its unused part [next, last]; its used part is in tracking_allocations."""
    # Serialise additions per prefix so two concurrent requests cannot both pass the check.
    namespace, key = func.hashtext("tracking_ranges"), func.hashtext(body.prefix)
    await session.execute(select(func.pg_advisory_xact_lock(namespace, key)))
    clash = await session.scalar(
        select(TrackingRange.id).where(
            TrackingRange.prefix == body.prefix,
            TrackingRange.next_number <= body.last_number,
            TrackingRange.last_number >= body.first_number,
        )
    )
    if clash is not None:
        raise conflict(
            f"overlaps tracking range {clash}", reason="range_overlaps", tracking_range_id=clash
        )
    low, high = f"{body.prefix}{body.first_number:012d}", f"{body.prefix}{body.last_number:012d}"
    used = await session.scalar(
        select(TrackingAllocation.tracking_no).where(
            TrackingAllocation.tracking_no.between(low, high),
            func.length(TrackingAllocation.tracking_no) == len(low),
        )
    )
    if used is not None:
        raise conflict(
            f"tracking number {used} is already allocated",
            reason="tracking_no_allocated",
            tracking_no=used,
        )


@router.get(
    "/carriers/{carrier_id}/tracking-ranges", dependencies=[TrackingRead], tags=["carriers"]
)
async def list_tracking_ranges(
    carrier_id: IdParam, session: Session, paging: Paging
) -> TrackingRangesPublic:
    await get_or_404(session, Carrier, carrier_id, "carrier")
    query = select(TrackingRange).where(TrackingRange.carrier_id == carrier_id)
    rows, count = await fetch_page(session, query.order_by(TrackingRange.id), paging)
    return TrackingRangesPublic(data=[_range_public(r) for r in rows], count=count)


@router.post("/carriers/{carrier_id}/tracking-ranges", status_code=201, tags=["carriers"])
async def add_tracking_range(
    carrier_id: IdParam, body: TrackingRangeCreate, w: TrackingWrite
) -> TrackingRangePublic:
    await get_or_404(w.session, Carrier, carrier_id, "carrier")
    await _check_no_overlap(w.session, body)
    row = TrackingRange(
        carrier_id=carrier_id,
        prefix=body.prefix,
        next_number=body.first_number,
        last_number=body.last_number,
        low_watermark=body.low_watermark,
    )
    w.session.add(row)
    await w.session.flush()
    await w.commit("tracking_range.create", "tracking_range", row.id, body.model_dump())
    return _range_public(row)
