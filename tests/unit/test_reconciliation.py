"""The daily payment reconciliation of `models.domain.reconciliation` (DESIGN §6.6): the matching
key, the business day's boundaries, and, as properties, that a ledger compared with its own
statement shows nothing and that each planted change shows as exactly one difference."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from activities.providers import days_overlapping
from models.domain.reconciliation import (
    BUSINESS_TZ,
    MARGIN,
    DifferenceKind,
    EntryType,
    LedgerItem,
    StatementItem,
    business_window,
    lookup_window,
    previous_business_day,
    reconcile,
)

DAY = date(2026, 11, 21)
START, END = business_window(DAY)  # 2026-11-20 16:00Z .. 2026-11-21 16:00Z


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BUSINESS_TZ)


def paid(tx: str, fen: int, when: datetime, order: str = "SO1") -> StatementItem:
    return StatementItem(
        type="payment", entry_id=tx, order_no=order, amount_fen=fen, occurred_at=when
    )


def refunded(
    refund_id: str, refund_no: str | None, fen: int, when: datetime, order: str = "SO1"
) -> StatementItem:
    return StatementItem(
        type="refund",
        entry_id=refund_id,
        refund_no=refund_no,
        order_no=order,
        amount_fen=fen,
        occurred_at=when,
    )


def booked(
    kind: EntryType, ref: str, fen: int, when: datetime, provider_id: str | None = None
) -> LedgerItem:
    return LedgerItem(
        type=kind,
        reference=ref,
        order_no="SO1",
        amount_fen=fen,
        booked_at=when,
        provider_id=provider_id,
    )


# --- the matching key and the kinds --------------------------------------------------------


def test_payments_match_by_transaction_id_and_refunds_by_our_refund_number() -> None:
    statement = [paid("TX1", 9900, at(10)), refunded("RFP1", "SO1-R1", 2000, at(11))]
    ledger = [booked("payment", "TX1", 9900, at(10)), booked("refund", "SO1-R1", 2000, at(11))]

    outcome = reconcile(DAY, statement, ledger)

    assert outcome.differences == ()
    assert (outcome.statement_entries, outcome.ledger_entries, outcome.matched) == (2, 2, 2)


def test_each_kind_names_the_entry_and_both_amounts() -> None:
    statement = [
        paid("TX1", 9900, at(9)),  # the ledger books 9800
        paid("TX2", 500, at(10), order="PHANTOM"),  # not ours
        refunded("RFP9", None, 300, at(11)),  # a refund without our number: keyed by its id
    ]
    ledger = [
        booked("payment", "TX1", 9800, at(9)),
        booked("refund", "SO1-R1", 2000, at(12), provider_id="RFP1"),  # the provider omits it
    ]

    found = {(d.kind, d.reference): d for d in reconcile(DAY, statement, ledger).differences}

    assert sorted(found) == [
        ("amount_mismatch", "TX1"),
        ("missing_at_provider", "SO1-R1"),
        ("missing_in_ledger", "RFP9"),
        ("missing_in_ledger", "TX2"),
    ]
    mismatch = found["amount_mismatch", "TX1"]
    assert (mismatch.provider_amount_fen, mismatch.ledger_amount_fen) == (9900, 9800)
    assert "difference 100 fen" in mismatch.detail
    omitted = found["missing_at_provider", "SO1-R1"]
    assert (omitted.type, omitted.provider_amount_fen, omitted.ledger_amount_fen) == (
        "refund",
        None,
        2000,
    )
    assert omitted.provider_id == "RFP1"
    phantom = found["missing_in_ledger", "TX2"]
    assert (phantom.order_no, phantom.provider_amount_fen, phantom.ledger_amount_fen) == (
        "PHANTOM",
        500,
        None,
    )


def test_a_key_the_provider_lists_twice_counts_with_its_sum() -> None:
    statement = [paid("TX1", 9900, at(9)), paid("TX1", 9900, at(9, 1))]
    ledger = [booked("payment", "TX1", 9900, at(9))]

    [difference] = reconcile(DAY, statement, ledger).differences

    assert (difference.kind, difference.provider_amount_fen) == ("amount_mismatch", 19800)
    assert "2 times" in difference.detail


# --- which day ------------------------------------------------------------------------------


def test_the_business_day_is_shanghai_midnight_to_midnight() -> None:
    start, end = business_window(DAY)
    assert (start, end) == (datetime(2026, 11, 20, 16, tzinfo=UTC), START + timedelta(days=1))
    last = END - timedelta(microseconds=1)
    statement = [paid("TX-FIRST", 1, START), paid("TX-LAST", 1, last), paid("TX-NEXT", 1, END)]

    outcome = reconcile(DAY, statement, [])

    assert [d.reference for d in outcome.differences] == ["TX-FIRST", "TX-LAST"]
    [next_day] = reconcile(DAY + timedelta(days=1), statement, []).differences
    assert next_day.reference == "TX-NEXT"


def test_a_pair_belongs_to_the_providers_day_even_when_booked_after_midnight() -> None:
    """A refund the provider made at 23:59:59.9 and we recorded just after midnight."""
    provider_time = END - timedelta(milliseconds=100)
    statement = [refunded("RFP1", "SO1-R1", 2000, provider_time)]
    ledger = [booked("refund", "SO1-R1", 2000, END + timedelta(seconds=2))]

    today = reconcile(DAY, statement, ledger)
    tomorrow = reconcile(DAY + timedelta(days=1), statement, ledger)

    assert (today.differences, today.matched) == ((), 1)
    assert (tomorrow.differences, tomorrow.matched, tomorrow.ledger_entries) == ((), 0, 0)


def test_what_only_the_ledger_has_belongs_to_the_day_it_was_booked() -> None:
    ledger = [booked("payment", "TX1", 100, at(23, 59)), booked("payment", "TX2", 100, END)]

    [difference] = reconcile(DAY, [], ledger).differences

    assert (difference.kind, difference.reference) == ("missing_at_provider", "TX1")


def test_yesterday_is_the_business_days_yesterday() -> None:
    # 01:00 in Shanghai on the 22nd is still the 21st in UTC.
    assert previous_business_day(datetime(2026, 11, 21, 17, tzinfo=UTC)) == date(2026, 11, 21)
    assert previous_business_day(datetime(2026, 11, 21, 15, tzinfo=UTC)) == date(2026, 11, 20)


def test_the_sandboxs_utc_statements_cover_the_lookup_window() -> None:
    start, end = lookup_window(DAY)
    assert (start, end) == (START - MARGIN, END + MARGIN)
    assert days_overlapping(start, end, UTC) == [date(2026, 11, 20), date(2026, 11, 21)]
    assert days_overlapping(START, END, BUSINESS_TZ) == [DAY]


# --- properties -----------------------------------------------------------------------------

Entry = tuple[EntryType, str, int, int]  # type, reference, amount, seconds into the day


@st.composite
def days_entries(draw: st.DrawFn) -> list[Entry]:
    references = draw(st.lists(st.integers(0, 10**6), min_size=1, max_size=25, unique=True))
    return [
        (
            draw(st.sampled_from(["payment", "refund"])),
            f"REF{n}",
            draw(st.integers(1, 10**8)),
            draw(st.integers(0, 86_399)),
        )
        for n in references
    ]


def sides(entries: list[Entry]) -> tuple[list[StatementItem], list[LedgerItem]]:
    statement = [
        StatementItem(
            type=kind,
            entry_id=ref if kind == "payment" else f"RF-{ref}",
            refund_no=ref if kind == "refund" else None,
            order_no="SO1",
            amount_fen=fen,
            occurred_at=START + timedelta(seconds=s),
        )
        for kind, ref, fen, s in entries
    ]
    ledger = [booked(kind, ref, fen, START + timedelta(seconds=s)) for kind, ref, fen, s in entries]
    return statement, ledger


# Other days' entries, on one side only: looked up, never reported for DAY.
OTHER_DAYS = [paid("TX-YESTERDAY", 7, START - timedelta(hours=1)), paid("TX-TOMORROW", 7, END)]


@given(days_entries())
def test_a_ledger_against_its_own_statement_shows_no_difference(entries: list[Entry]) -> None:
    statement, ledger = sides(entries)

    outcome = reconcile(DAY, statement + OTHER_DAYS, ledger)

    assert outcome.differences == ()
    assert outcome.matched == outcome.statement_entries == outcome.ledger_entries == len(entries)


CHANGES: dict[str, DifferenceKind] = {
    "alter_amount": "amount_mismatch",
    "omit_at_provider": "missing_at_provider",
    "phantom_at_provider": "missing_in_ledger",
    "drop_from_ledger": "missing_in_ledger",
    "extra_in_ledger": "missing_at_provider",
}


@given(
    days_entries(),
    st.sampled_from(sorted(CHANGES)),
    st.integers(0, 10**6),
    st.integers(1, 10**6),
    st.integers(0, 86_399),
)
def test_each_planted_change_shows_as_exactly_one_difference_of_its_kind(
    entries: list[Entry], change: str, pick: int, delta: int, second: int
) -> None:
    statement, ledger = sides(entries)
    i = pick % len(entries)
    target = entries[i][1]
    if change == "alter_amount":
        amount = statement[i].amount_fen
        changed = amount + delta if delta % 2 or amount <= delta else amount - delta
        statement[i] = statement[i].model_copy(update={"amount_fen": changed})
    elif change == "omit_at_provider":
        del statement[i]
    elif change == "drop_from_ledger":
        del ledger[i]
    else:
        target = "NEW"
        when = START + timedelta(seconds=second)
        if change == "phantom_at_provider":
            statement.append(paid(target, delta, when))
        else:
            ledger.append(booked("refund", target, delta, when))

    [difference] = reconcile(DAY, statement + OTHER_DAYS, ledger).differences

    assert (difference.kind, difference.reference) == (CHANGES[change], target)
