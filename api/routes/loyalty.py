"""Member levels and points (DESIGN §6.7): the settings (levels with their benefits, the points
rules), a customer's points (balance, growth value, level and its history, the ledger) and
staff adjustments. Bookings go through services/points.py (keyed: never twice).

A customer's points belong to the customer record (customers.id). Staff name the record by its
id; a storefront (an API key) names its own customer by its own customer key, as in
PUT /v1/customers/{customer_key}, and sees only its own customers (another storefront's, or an
unknown key, is a 404)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from fastapi import Depends, Query
from sqlalchemy import delete, select

from api.deps import Principal, Session, Writer, require, writer
from api.errors import Problem, invalid, not_found
from api.pagination import Paging, fetch_page
from api.routing import Routes
from api.schemas.loyalty import (
    AdjustmentIn,
    CustomerPointsPublic,
    LevelChangePublic,
    LevelPublic,
    LevelsIn,
    LoyaltySettingsPublic,
    PointsEntryPublic,
    PointsKind,
    PointsLedgerPublic,
    PointsRulesIn,
    PointsRulesPublic,
)
from api.schemas.types import BigIdParam
from models.db import Customer, LevelChange, MemberLevel, PointsAccount, PointsEntry, PointsRules
from models.domain.points import PointsNotApplicableError
from services import customers, points, segments

router = Routes(prefix="/v1", tags=["loyalty"])
Read = Depends(require("loyalty.read"))
Reader = Annotated[Principal, Read]
Write = Annotated[Writer, Depends(writer("loyalty.write"))]
Adjust = Annotated[Writer, Depends(writer("loyalty.adjust"))]
LedgerSort = Literal["-at", "at"]


async def _settings(session: Session) -> LoyaltySettingsPublic:
    rules = await points.rules(session)
    levels = await session.scalars(select(MemberLevel).order_by(MemberLevel.growth_threshold))
    return LoyaltySettingsPublic(
        rules=PointsRulesPublic.model_validate(rules),
        levels=[LevelPublic.model_validate(level) for level in levels],
    )


@router.get("/loyalty/settings", dependencies=[Read])
async def get_settings(session: Session) -> LoyaltySettingsPublic:
    return await _settings(session)


@router.put("/loyalty/settings/rules")
async def put_rules(body: PointsRulesIn, w: Write) -> LoyaltySettingsPublic:
    row = await w.session.get(PointsRules, 1)
    if row is None:
        row = PointsRules(id=1)
        w.session.add(row)
    for field, value in body.model_dump().items():
        setattr(row, field, value)
    await w.commit("loyalty.rules", "points_rules", 1, body.model_dump())
    return await _settings(w.session)


def _check_distinct(name: str, values: Sequence[str | int]) -> None:
    """422 naming the first level whose `name` repeats an earlier level's."""
    seen: set[str | int] = set()
    for i, value in enumerate(values):
        if value in seen:
            raise invalid(
                f"levels.{i}.{name}",
                "level codes and growth thresholds must each be distinct",
                "repeats_another_level",
                value=value,
            )
        seen.add(value)


@router.put("/loyalty/settings/levels")
async def put_levels(body: LevelsIn, w: Write) -> LoyaltySettingsPublic:
    """Levels by code; accounts are placed in the levels their growth reaches now."""
    codes = [level.code for level in body.levels]
    _check_distinct("code", codes)
    _check_distinct("growth_threshold", [level.growth_threshold for level in body.levels])
    session = w.session
    gone = select(MemberLevel.id, MemberLevel.code).where(MemberLevel.code.not_in(codes))
    removed: dict[int, str] = {level_id: code for level_id, code in await session.execute(gone)}
    if named := await segments.naming_levels(session, list(removed)):
        raise Problem(
            409,
            "; ".join(
                f"level {removed[level_id]} is named by segment {name}" for name, level_id in named
            )
            + ": keep the level or choose customers by another segment",
            errors=[
                {"reason": "level_in_use", "level": removed[level_id], "segment": name}
                for name, level_id in named
            ],
        )
    await session.execute(delete(MemberLevel).where(MemberLevel.id.in_(list(removed))))
    existing = {lv.code: lv for lv in await session.scalars(select(MemberLevel))}
    # Thresholds are unique: move the kept ones out of the way before setting the new ones.
    for index, kept in enumerate(existing.values()):
        kept.growth_threshold = 10**15 + index  # above any threshold the API accepts
    await session.flush()
    for level in body.levels:
        row = existing.get(level.code)
        if row is None:
            session.add(MemberLevel(**level.model_dump()))
        else:
            for field, value in level.model_dump().items():
                setattr(row, field, value)
    await session.flush()
    changed = await points.update_account_level_ids(session)
    await w.commit("loyalty.levels", "member_levels", ",".join(codes), {"relevelled": changed})
    return await _settings(session)


async def record_named(session: Session, who: Principal, customer_id: int) -> int:
    """The customer record the path names: a storefront's own customer key (its API key), or a
    record id for staff; 404 when there is none (or it is another storefront's)."""
    if who.kind == "api_key":
        found = await customers.record_id(session, who.id, customer_id)
    else:
        found = customer_id if await session.get(Customer, customer_id) is not None else None
    if found is None:
        raise not_found("customer", customer_id)
    return found


@router.get("/customers/{customer_id}/points")
async def customer_points(
    customer_id: BigIdParam, session: Session, who: Reader
) -> CustomerPointsPublic:
    """The customer's balance, growth value, level, the next level and the level history (a
    storefront: `customer_id` is its own customer key)."""
    return await points_of(session, await record_named(session, who, customer_id))


async def points_of(session: Session, customer_id: int) -> CustomerPointsPublic:
    held = await session.get(PointsAccount, customer_id)
    levels = list(await session.scalars(select(MemberLevel).order_by(MemberLevel.growth_threshold)))
    growth = held.growth if held else 0
    level = next((lv for lv in levels if held and lv.id == held.level_id), None)
    upcoming = next((lv for lv in levels if lv.growth_threshold > growth), None)
    history = await session.scalars(
        select(LevelChange)
        .where(LevelChange.customer_id == customer_id)
        .order_by(LevelChange.at.desc(), LevelChange.id.desc())
        .limit(50)
    )
    return CustomerPointsPublic(
        customer_id=customer_id,
        balance=held.balance if held else 0,
        growth=growth,
        level=LevelPublic.model_validate(level) if level else None,
        next_level=LevelPublic.model_validate(upcoming) if upcoming else None,
        level_history=[LevelChangePublic.model_validate(c) for c in history],
    )


@router.get("/customers/{customer_id}/points/ledger")
async def points_ledger(
    customer_id: BigIdParam,
    session: Session,
    who: Reader,
    paging: Paging,
    kind: PointsKind | None = None,
    sort: Annotated[LedgerSort, Query(description="by time; `-at` newest first")] = "-at",
) -> PointsLedgerPublic:
    """The customer's points bookings (a storefront: `customer_id` is its own customer key)."""
    customer_id = await record_named(session, who, customer_id)
    query = select(PointsEntry).where(PointsEntry.customer_id == customer_id)
    if kind is not None:
        query = query.where(PointsEntry.kind == kind)
    order = (PointsEntry.at, PointsEntry.id)
    query = query.order_by(*(c.desc() for c in order) if sort == "-at" else order)
    rows, count = await fetch_page(session, query, paging)
    return PointsLedgerPublic(data=[PointsEntryPublic.model_validate(r) for r in rows], count=count)


@router.post("/customers/{customer_id}/points/adjustments", status_code=201)
async def adjust_points(
    customer_id: BigIdParam, body: AdjustmentIn, w: Adjust
) -> CustomerPointsPublic:
    """Points added (+) or taken off (−) by staff to the customer record `customer_id`, with a
    reason; the same key books once."""
    customer_id = await record_named(w.session, w.principal, customer_id)
    if body.points == 0:
        raise Problem(422, "an adjustment adds or takes off at least one point")
    try:
        await points.adjust(w.session, customer_id, body.points, body.key, body.reason, w.actor)
    except PointsNotApplicableError as exc:
        raise Problem(409, str(exc)) from None
    await w.commit("loyalty.adjust", "customer", customer_id, body.model_dump())
    return await points_of(w.session, customer_id)
