"""Daily payment reconciliation (DESIGN §6.6): the payment provider's statement against the money
ledger, compared as a pure function. Integer fen.

Matching key: (type, reference), type payment or refund.
- A payment's reference is the provider's transaction id. The ledger writes it as `ref_no` when a
  payment is recorded (activities/payments.py `record_payment`); the statement lists it as the
  entry's `transaction_id` (= its `entry_id`).
- A refund's reference is our refund number. The ledger writes it as `ref_no`
  (`refund_payment`), and we send it to the provider as the refund's own key, so the statement
  lists it back as the entry's `refund_no` (its `entry_id` is the provider's refund id). A refund
  the provider lists without a refund number of ours is keyed by the provider's id: it can only
  be missing in the ledger.
Amounts are compared as magnitudes: the ledger books refunds negative, the statement lists every
amount positive. A key listed twice on one side counts with the sum of its amounts.

Which day: a business day is a calendar day in Asia/Shanghai, [00:00, 24:00) at +08:00. A pair
(the statement entry and the ledger row of one key, or the one that exists) belongs to the day its
provider time falls on when the provider lists it, otherwise to the day of the ledger's time. Both
sides are read over the day widened by `MARGIN` on each side, so an entry the ledger booked a
little after the provider timed it (a refund is recorded after the provider answered) still finds
its other half instead of being reported twice.

Differences of a day: `missing_in_ledger` (the provider lists it, the ledger has no row),
`missing_at_provider` (the ledger has it, the statement does not), `amount_mismatch` (both, with
different amounts). Everything else of the day is matched.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.domain.business_day import BUSINESS_TZ

MARGIN = timedelta(hours=6)  # how much later than the provider the ledger may book an entry
EntryType = Literal["payment", "refund"]
DifferenceKind = Literal["missing_in_ledger", "missing_at_provider", "amount_mismatch"]
DIFFERENCE_KINDS: tuple[DifferenceKind, ...] = (
    "missing_in_ledger",
    "missing_at_provider",
    "amount_mismatch",
)
Fen = Annotated[int, Field(ge=0)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class StatementItem(_Frozen):
    """One entry of the provider's statement."""

    type: EntryType
    entry_id: str  # the provider's transaction id (payment) or refund id (refund)
    refund_no: str | None = None  # refunds: our refund number, as the provider lists it back
    order_no: str  # the merchant order number the provider lists
    amount_fen: Fen
    occurred_at: datetime

    @property
    def reference(self) -> str:
        return self.refund_no if self.type == "refund" and self.refund_no else self.entry_id


class LedgerItem(_Frozen):
    """One money-ledger row of an order (type payment or refund)."""

    type: EntryType
    reference: str  # money_ledger.ref_no
    order_no: str
    amount_fen: Fen  # the magnitude: refunds are booked negative
    booked_at: datetime  # the provider's time when we have it (payments), else when booked
    provider_id: str | None = None  # the transaction id / the provider's refund id


class Difference(_Frozen):
    kind: DifferenceKind
    type: EntryType
    reference: str
    order_no: str
    provider_id: str | None
    provider_amount_fen: int | None
    ledger_amount_fen: int | None
    occurred_at: datetime
    detail: str


class Reconciliation(_Frozen):
    day: date
    statement_entries: int  # keys of the day the provider lists
    ledger_entries: int  # keys of the day the ledger has
    matched: int
    differences: tuple[Difference, ...]


def business_window(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a business day."""
    start = datetime.combine(day, time(0), BUSINESS_TZ)
    return start, start + timedelta(days=1)


def lookup_window(day: date) -> tuple[datetime, datetime]:
    """What both sides are read over: the business day widened by MARGIN each side."""
    start, end = business_window(day)
    return start - MARGIN, end + MARGIN


def business_day(at: datetime) -> date:
    return at.astimezone(BUSINESS_TZ).date()


def previous_business_day(now: datetime) -> date:
    """The day a run at `now` reconciles by default: yesterday, business time."""
    return business_day(now) - timedelta(days=1)


Key = tuple[EntryType, str]


class _Side(_Frozen):
    amount_fen: int
    at: datetime
    order_no: str
    provider_id: str | None
    count: int


def _sides(items: Iterable[tuple[Key, int, datetime, str, str | None]]) -> dict[Key, _Side]:
    found: dict[Key, _Side] = {}
    for key, amount, at, order_no, provider_id in items:
        seen = found.get(key)
        if seen is None:
            found[key] = _Side(
                amount_fen=amount, at=at, order_no=order_no, provider_id=provider_id, count=1
            )
        else:
            found[key] = seen.model_copy(
                update={
                    "amount_fen": seen.amount_fen + amount,
                    "at": min(seen.at, at),
                    "count": seen.count + 1,
                }
            )
    return found


def reconcile(
    day: date, statement: Sequence[StatementItem], ledger: Sequence[LedgerItem]
) -> Reconciliation:
    """The differences of `day` between the statement and the ledger (each read over at least
    `lookup_window(day)`; entries of other days are only looked up, never reported)."""
    provider = _sides(
        ((e.type, e.reference), e.amount_fen, e.occurred_at, e.order_no, e.entry_id)
        for e in statement
    )
    ours = _sides(
        ((e.type, e.reference), e.amount_fen, e.booked_at, e.order_no, e.provider_id)
        for e in ledger
    )
    start, end = business_window(day)
    differences: list[Difference] = []
    counted = matched = listed = booked = 0
    for key in sorted(provider.keys() | ours.keys()):
        theirs, mine = provider.get(key), ours.get(key)
        deciding = theirs or mine
        assert deciding is not None
        if not start <= deciding.at < end:
            continue  # another day's
        counted += 1
        listed += theirs is not None
        booked += mine is not None
        found = _difference(key, theirs, mine)
        if found is None:
            matched += 1
        else:
            differences.append(found)
    return Reconciliation(
        day=day,
        statement_entries=listed,
        ledger_entries=booked,
        matched=matched,
        differences=tuple(differences),
    )


def _difference(key: Key, theirs: _Side | None, mine: _Side | None) -> Difference | None:
    kind_of, reference = key
    if theirs is not None and mine is not None and theirs.amount_fen == mine.amount_fen:
        return None
    if theirs is None:
        assert mine is not None
        kind: DifferenceKind = "missing_at_provider"
        detail = f"the ledger has {kind_of} {reference}; the provider's statement does not"
    elif mine is None:
        kind = "missing_in_ledger"
        detail = f"the provider lists {kind_of} {reference}; the ledger has no row for it"
    else:
        kind = "amount_mismatch"
        detail = (
            f"the provider lists {theirs.amount_fen} fen, the ledger {mine.amount_fen} fen "
            f"(difference {theirs.amount_fen - mine.amount_fen} fen)"
        )
    if theirs is not None and theirs.count > 1:
        detail += f"; the provider lists it {theirs.count} times"
    side = theirs or mine
    assert side is not None
    return Difference(
        kind=kind,
        type=kind_of,
        reference=reference,
        order_no=side.order_no,
        provider_id=(theirs.provider_id if theirs else None)
        or (mine.provider_id if mine else None),
        provider_amount_fen=theirs.amount_fen if theirs else None,
        ledger_amount_fen=mine.amount_fen if mine else None,
        occurred_at=side.at,
        detail=detail,
    )
