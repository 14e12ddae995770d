"""Points and levels on the database side (DESIGN §6.7): what pricing needs (the customer's
level terms, their points offer), and every booking on the points ledger — spent with the
order's row, given back on cancel and pro rata on refunds, earned with growth value when the
order completes, expired yearly, adjusted by staff.

A customer here is the customer record (customers.id), never the storefront's key: an order's
bookings go to the record of its (storefront, customer key) (services/customers.py).

Every booking goes through `book`: one ledger row, keyed per customer (`SO…:spend`, `SO…:earn`,
`SO…:cancel`, `AS…:refund`, `expire:<year>`, `adjust:<key>`), and the account's balance and
growth moved by the same amounts in the same transaction — a retried booking inserts nothing and
moves nothing. The rules are pure (models/domain/points.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.contracts.pricing import MemberTerms, PointsOffer
from models.db import (
    AfterSaleLine,
    LevelChange,
    MemberLevel,
    Order,
    OrderLine,
    PointsAccount,
    PointsEntry,
    PointsRules,
)
from models.domain.points import (
    LineShare,
    PointsNotApplicableError,
    earned,
    expiring,
    level_for,
    points_back,
    points_fen_of,
)
from services.customers import record_of_order


async def rules(session: AsyncSession) -> PointsRules:
    found = await session.get(PointsRules, 1)
    return (
        found
        if found is not None
        else PointsRules(id=1, earn_per_yuan=1, growth_per_yuan=1, fen_per_point=1, max_percent=50)
    )


async def account(session: AsyncSession, customer_id: int) -> PointsAccount | None:
    return await session.get(PointsAccount, customer_id)


async def member_terms(session: AsyncSession, customer_id: int) -> MemberTerms | None:
    """The customer's level and benefits (None without a level)."""
    level = await session.scalar(
        select(MemberLevel)
        .join(PointsAccount, PointsAccount.level_id == MemberLevel.id)
        .where(PointsAccount.customer_id == customer_id)
    )
    if level is None:
        return None
    return MemberTerms(
        level_id=level.id,
        name=level.name,
        discount_percent=level.discount_percent,
        free_shipping=level.free_shipping,
    )


async def points_offer(session: AsyncSession, customer_id: int, requested: int) -> PointsOffer:
    terms = await rules(session)
    held = await account(session, customer_id)
    return PointsOffer(
        requested=requested,
        balance=held.balance if held else 0,
        fen_per_point=terms.fen_per_point,
        max_percent=terms.max_percent,
    )


# --- bookings -----------------------------------------------------------------------------------


async def book(
    session: AsyncSession,
    customer_id: int,
    kind: str,
    points: int,
    key: str,
    *,
    order_no: str | None = None,
    growth: int = 0,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
    keep_zero: bool = False,
) -> bool:
    """One ledger row and the account moved by it, once per (customer, key). False when the
    key was booked before (nothing changes) or there is nothing to book (a refund that gives
    back 0 points is still booked with `keep_zero`: its units count for later refunds)."""
    if points == 0 and growth == 0 and not (keep_zero and kind == "refund"):
        return False
    values: dict[str, Any] = {
        "customer_id": customer_id,
        "kind": kind,
        "points": points,
        "growth": growth,
        "order_no": order_no,
        "key": key,
        "detail": detail or {},
    }
    if at is not None:
        values["at"] = at
    inserted = await session.scalar(
        insert(PointsEntry).values(**values).on_conflict_do_nothing().returning(PointsEntry.id)
    )
    if inserted is None:
        return False
    # The account first (an insert's own row must pass the checks, so it starts at 0), then
    # moved: a debit below 0 is refused by the balance's check, the whole booking with it.
    await session.execute(
        insert(PointsAccount)
        .values(customer_id=customer_id, balance=0, growth=0)
        .on_conflict_do_nothing()
    )
    await session.execute(
        update(PointsAccount)
        .where(PointsAccount.customer_id == customer_id)
        .values(
            balance=PointsAccount.balance + points,
            growth=PointsAccount.growth + growth,
            updated_at=func.now(),
        )
    )
    return True


async def spend(
    session: AsyncSession, order_no: str, customer_id: int, points: int, at: datetime
) -> None:
    """The points an order spends, booked with the order's row (its transaction). The balance
    is checked under a row lock: two orders cannot spend the same points. Booked once."""
    key = f"{order_no}:spend"
    booked = await session.scalar(
        select(PointsEntry.id).where(PointsEntry.customer_id == customer_id, PointsEntry.key == key)
    )
    if booked is not None:
        return
    held = await session.scalar(
        select(PointsAccount.balance)
        .where(PointsAccount.customer_id == customer_id)
        .with_for_update()
    )
    if (held or 0) < points:
        raise PointsNotApplicableError("insufficient", f"asked {points}, balance {held or 0}")
    await book(
        session, customer_id, "spend", -points, f"{order_no}:spend", order_no=order_no, at=at
    )


async def _spent_and_back(session: AsyncSession, order_no: str) -> tuple[int, int, list[Any]]:
    rows = list(await session.scalars(select(PointsEntry).where(PointsEntry.order_no == order_no)))
    spent = -sum(r.points for r in rows if r.kind == "spend")
    back = sum(r.points for r in rows if r.kind == "refund")
    return spent, back, rows


async def give_back_cancelled(session: AsyncSession, order_no: str) -> int:
    """A cancelled (or timed-out) order's spent points back, less what refunds gave back."""
    order = await session.get(Order, order_no)
    if order is None:
        return 0
    spent, back, _ = await _spent_and_back(session, order_no)
    owed = spent - back
    if owed <= 0:
        return 0
    booked = await book(
        session,
        await record_of_order(session, order),
        "refund",
        owed,
        f"{order_no}:cancel",
        order_no=order_no,
    )
    return owed if booked else 0


async def give_back_refund(
    session: AsyncSession, order_no: str, ref: str, units: Mapping[int, int] | None = None
) -> int:
    """A refund gives back the points its units bore, pro rata by the stored per-line
    allocations (models.domain.points.points_back): an after-sale's (`ref` its number, the units
    its lines) or a package's the order refunded itself (`ref` the refund number, `units` given).
    Booked once per `ref`, even when it gives back 0 points: the units it took count for the
    refunds after it."""
    order = await session.get(Order, order_no)
    if order is None:
        return 0
    spent, back, rows = await _spent_and_back(session, order_no)
    key = f"{ref}:refund"
    if spent == 0 or any(r.key == key for r in rows):
        return 0
    refunded: dict[int, int] = {}
    for row in rows:
        if row.kind == "refund":
            for line_no, count in row.detail.get("lines", {}).items():
                refunded[int(line_no)] = refunded.get(int(line_no), 0) + int(count)
    if units is None:
        found = await session.scalars(select(AfterSaleLine).where(AfterSaleLine.as_no == ref))
        units = {line.line_no: line.quantity for line in found}
    lines = list(await session.scalars(select(OrderLine).where(OrderLine.order_no == order_no)))
    shares = [
        LineShare(
            quantity=line.quantity,
            points_fen=points_fen_of({"allocations": line.allocations}),
            refunded_units=min(
                line.quantity, refunded.get(line.line_no, 0) + units.get(line.line_no, 0)
            ),
        )
        for line in lines
    ]
    due = points_back(spent, shares, back)
    detail = {"ref": ref, "lines": {str(k): v for k, v in units.items()}}
    customer_id = await record_of_order(session, order)
    booked = await book(
        session, customer_id, "refund", due, key, order_no=order_no, detail=detail, keep_zero=True
    )
    return due if booked else 0


@dataclass(frozen=True)
class Earned:
    points: int
    growth: int
    level_id: int | None


async def earn_for_order(session: AsyncSession, order_no: str) -> Earned:
    """A completed order earns points and growth value on the goods paid for; the growth may
    lift the customer's level (a row of level history)."""
    order = await session.get(Order, order_no)
    if order is None:
        return Earned(0, 0, None)
    terms = await rules(session)
    base = order.paid_fen - order.refunded_fen - order.freight_fen
    points = earned(base, terms.earn_per_yuan)
    growth = earned(base, terms.growth_per_yuan)
    customer_id = await record_of_order(session, order)
    await book(
        session, customer_id, "earn", points, f"{order_no}:earn", order_no=order_no,
        growth=growth, detail={"base_fen": max(0, base)},
    )  # fmt: skip
    level = await relevel(session, customer_id, order_no=order_no)
    return Earned(points, growth, level)


async def relevel(
    session: AsyncSession, customer_id: int, *, order_no: str | None = None
) -> int | None:
    """The level the account's growth reaches now; a change is written to the history."""
    held = await session.get(PointsAccount, customer_id, with_for_update=True)
    if held is None:
        return None
    found = await session.execute(select(MemberLevel.id, MemberLevel.growth_threshold))
    thresholds = {level_id: threshold for level_id, threshold in found}
    level = level_for(held.growth, thresholds)
    if level != held.level_id:
        session.add(
            LevelChange(
                customer_id=customer_id,
                from_level_id=held.level_id,
                to_level_id=level,
                growth=held.growth,
                order_no=order_no,
            )
        )
        held.level_id = level
        await session.flush()
    return level


async def adjust(
    session: AsyncSession, customer_id: int, points: int, key: str, reason: str, actor: str
) -> bool:
    """Staff add or take off points (never below 0: the balance's check refuses it)."""
    if points < 0:
        held = await session.scalar(
            select(PointsAccount.balance)
            .where(PointsAccount.customer_id == customer_id)
            .with_for_update()
        )
        if (held or 0) + points < 0:
            raise PointsNotApplicableError("insufficient", f"balance {held or 0}")
    return await book(
        session, customer_id, "adjust", points, f"adjust:{key}",
        detail={"reason": reason, "by": actor},
    )  # fmt: skip


# --- expiry -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpiredBatch:
    last_customer_id: int | None  # None: no customer after the batch
    customers: int
    points: int


async def expire_batch(
    session: AsyncSession, year: int, cutoff: datetime, after_customer_id: int, limit: int
) -> ExpiredBatch:
    """Expire, for up to `limit` accounts with a balance after `after_customer_id`, the points
    credited before `cutoff` and not used since (models.domain.points.expiring), booked once per
    customer and year (`expire:<year>`)."""
    accounts = list(
        await session.scalars(
            select(PointsAccount)
            .where(PointsAccount.customer_id > after_customer_id, PointsAccount.balance > 0)
            .order_by(PointsAccount.customer_id)
            .limit(limit)
            .with_for_update()
        )
    )
    customers = points = 0
    for held in accounts:
        credited = await session.scalar(
            select(func.coalesce(func.sum(PointsEntry.points), 0)).where(
                PointsEntry.customer_id == held.customer_id,
                PointsEntry.points > 0,
                PointsEntry.at < cutoff,
            )
        )
        debited = await session.scalar(
            select(func.coalesce(-func.sum(PointsEntry.points), 0)).where(
                PointsEntry.customer_id == held.customer_id, PointsEntry.points < 0
            )
        )
        due = expiring(int(credited or 0), int(debited or 0), held.balance)
        key = f"expire:{year}"
        detail = {"cutoff": cutoff.isoformat()}
        if due and await book(session, held.customer_id, "expire", -due, key, detail=detail):
            customers += 1
            points += due
    last = accounts[-1].customer_id if len(accounts) == limit else None
    return ExpiredBatch(last, customers, points)


_RELEVEL = text(
    """WITH target AS (
           SELECT a.customer_id, a.level_id AS was, a.growth,
                  (SELECT l.id FROM member_levels l WHERE l.growth_threshold <= a.growth
                   ORDER BY l.growth_threshold DESC LIMIT 1) AS now
           FROM points_accounts a FOR UPDATE),
       moved AS (
           UPDATE points_accounts a SET level_id = t.now FROM target t
           WHERE a.customer_id = t.customer_id AND t.was IS DISTINCT FROM t.now
           RETURNING t.customer_id, t.was, t.now, t.growth)
       INSERT INTO member_level_history (customer_id, from_level_id, to_level_id, growth)
       SELECT customer_id, was, now, growth FROM moved
       RETURNING id"""
)


async def update_account_level_ids(session: AsyncSession) -> int:
    """Every account's level again (the thresholds changed), in one statement: each change a
    row of level history. Returns how many accounts changed level."""
    return len((await session.execute(_RELEVEL)).all())
