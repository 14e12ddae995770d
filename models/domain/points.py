"""Member levels and points as pure rules (DESIGN §6.7, §7). Points and growth value are
integers, money integer fen.

Pricing (`models.domain.pricing` calls these after the coupon, before gift lines are appended):

- Level discount (source `level`): the customer's level takes `discount_percent` % off the paid
  amount of every non-gift line (after item discounts, spend tiers and the coupon), rounded down
  to whole fen, allocated to lines like any discount (`models.domain.discounts.allocate`).
- Points discount (source `points`, source id 0): last of the discounts, on what the lines still
  cost. At most `max_percent` % of that may be paid with points; a point is worth
  `fen_per_point` fen. The points used are min(asked, the cap in whole points): asking for more
  than the cap spends the cap; asking for more than the balance is `PointsNotApplicableError`.
  The fen are allocated to lines in proportion, so a refund knows each line's share.

Earning (on completion): `earned(base_fen, per_yuan)` = ⌊base × per_yuan / 100⌋, for points and
growth value alike, on the goods actually paid for (paid − refunded − freight, never below 0).

Giving back on refunds (`points_back`): a cumulative floor like refunds of money
(`models.domain.refunds`, rule 2). After K of a line's n units were refunded, the line's points
fen given back are ⌊alloc × K / n⌋; the points given back for the whole order after a refund
are ⌊points_used × Σ line fen given back / Σ points fen⌋, and a refund gets that minus what
earlier refunds already gave. The refund that takes the last units gives back the rest, so all
refunds together give back exactly the points spent, never more.

Expiry (`expiring`): points live until the end of the year after the one they were credited in.
The yearly run at the start of year Y expires what was credited before 1 January Y−1 and not yet
used: debits (spent, expired, taken off) use the oldest points first, so
expired = min(balance, max(0, credited before the cutoff − all debits so far)).

Levels (`level_for`): the level with the highest threshold the growth value reaches (none
below the lowest threshold).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo

from models.contracts.pricing import (
    AppliedDiscount,
    MemberTerms,
    PointsOffer,
    PricedLine,
)
from models.domain.discounts import percent_of
from models.domain.promotions import spread

POINTS_SOURCE_ID = 0


class PointsNotApplicableError(Exception):
    """The points asked for cannot be spent (`reason`: insufficient)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        super().__init__(f"points not applicable: {reason}{f' ({detail})' if detail else ''}")


# --- pricing ------------------------------------------------------------------------------------


def apply_level_discount(
    lines: Sequence[PricedLine], member: MemberTerms | None
) -> tuple[list[PricedLine], list[AppliedDiscount]]:
    """The level's percentage off every non-gift line (see the module docstring)."""
    result = list(lines)
    if member is None or member.discount_percent == 0:
        return result, []
    eligible = [line for line in result if not line.is_gift and line.paid_fen > 0]
    off = percent_of(sum(line.paid_fen for line in eligible), member.discount_percent)
    if off == 0:
        return result, []
    result = spread(result, eligible, "level", member.level_id, off)
    return result, [
        AppliedDiscount(source="level", source_id=member.level_id, name=member.name, amount_fen=off)
    ]


def points_cap(base_fen: int, offer: PointsOffer) -> int:
    """The most points the order may take: `max_percent` % of `base_fen`, in whole points."""
    return percent_of(base_fen, offer.max_percent) // offer.fen_per_point


def apply_points(
    lines: Sequence[PricedLine], offer: PointsOffer | None
) -> tuple[list[PricedLine], list[AppliedDiscount], int]:
    """The points discount: lines, the applied discount and the points used."""
    result = list(lines)
    if offer is None:
        return result, [], 0
    if offer.requested > offer.balance:
        raise PointsNotApplicableError(
            "insufficient", f"asked {offer.requested}, balance {offer.balance}"
        )
    eligible = [line for line in result if not line.is_gift and line.paid_fen > 0]
    used = min(offer.requested, points_cap(sum(line.paid_fen for line in eligible), offer))
    if used == 0:
        return result, [], 0
    off = used * offer.fen_per_point
    result = spread(result, eligible, "points", POINTS_SOURCE_ID, off)
    applied = AppliedDiscount(source="points", source_id=POINTS_SOURCE_ID, amount_fen=off)
    return result, [applied], used


def points_fen_of(line: PricedLine | Mapping[str, object]) -> int:
    """The fen of the points discount a line bears (a priced line or a stored line's
    allocations as `{"allocations": [...]}`)."""
    allocations = (
        [a.model_dump() for a in line.allocations]
        if isinstance(line, PricedLine)
        else list(line.get("allocations", []))  # type: ignore[call-overload]
    )
    return sum(int(a["amount_fen"]) for a in allocations if a.get("source") == "points")


# --- earning, levels --------------------------------------------------------------------------


def earned(base_fen: int, per_yuan: int) -> int:
    """Points (or growth value) for `base_fen` fen paid at `per_yuan` per ¥1, rounded down."""
    return max(0, base_fen) * per_yuan // 100


def level_for(growth: int, thresholds: Mapping[int, int]) -> int | None:
    """The level id (from `{level_id: threshold}`) whose threshold is the highest reached."""
    reached = [(threshold, level) for level, threshold in thresholds.items() if threshold <= growth]
    return max(reached)[1] if reached else None


# --- giving back --------------------------------------------------------------------------------


class LineShare:
    """One order line as refunds of points see it: units bought, the points fen it bore, and
    units refunded so far (earlier refunds and this one)."""

    def __init__(self, quantity: int, points_fen: int, refunded_units: int) -> None:
        if not 0 <= refunded_units <= quantity:
            raise ValueError(f"refunded units {refunded_units} outside 0..{quantity}")
        self.quantity = quantity
        self.points_fen = points_fen
        self.refunded_units = refunded_units


def points_back(points_used: int, lines: Sequence[LineShare], already_back: int) -> int:
    """Points a refund gives back (see the module docstring): cumulative, never above the
    points spent, and the whole rest once every line is refunded."""
    total_fen = sum(line.points_fen for line in lines)
    if points_used == 0 or total_fen == 0:
        return 0
    back_fen = sum(line.points_fen * line.refunded_units // line.quantity for line in lines)
    due = points_used * back_fen // total_fen
    return max(0, min(points_used, due) - already_back)


# --- expiry -------------------------------------------------------------------------------------


def expiring(credited_before_cutoff: int, debited: int, balance: int) -> int:
    """Points a yearly run expires: credits older than the cutoff that debits (oldest first)
    have not used, never more than the balance."""
    return max(0, min(balance, credited_before_cutoff - debited))


def expiry_cutoff(year: int, tz: tzinfo) -> datetime:
    """The yearly run of `year` expires what was credited before 1 January of `year` − 1."""
    return datetime(year - 1, 1, 1, tzinfo=tz)


def expiry_year(now: datetime, tz: tzinfo) -> int:
    """The business year a run started at `now` is for (the schedule fires on 1 January)."""
    return now.astimezone(tz).year
