"""Receipts, PO figures, in-transit, replenishment and stock counts (DESIGN §5, §6.5; issue 5)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from models.domain.purchasing import (
    InTransitChange,
    InvalidReceiptError,
    OverDeliveryError,
    OverDeliveryTolerance,
    PoFigures,
    PoLine,
    Receipt,
    ReceiptExtra,
    ReceiptLine,
    ReturnLine,
    apply_receipt,
    apply_return,
    check_receipt,
    closing_release,
    empty_figures,
    in_transit_removed,
    po_figures,
)

# Line 1: 100 × SKU 101 for warehouse 1; line 2: 40 × SKU 102 for warehouse 1; line 3: 10 × SKU
# 103 for warehouse 2. Tolerance 5 % or 2 units, whichever is more: at most 105, 42 and 12.
PO = [
    PoLine(line_no=1, sku_id=101, warehouse_id=1, quantity=100, unit_price_fen=1250),
    PoLine(line_no=2, sku_id=102, warehouse_id=1, quantity=40, unit_price_fen=3000),
    PoLine(line_no=3, sku_id=103, warehouse_id=2, quantity=10, unit_price_fen=800),
]
TOLERANCE = OverDeliveryTolerance(percent=5, units=2)
SKU = {1: 101, 2: 102, 3: 103}


def rl(line_no: int, accepted: int, rejected: int = 0, **batch: object) -> ReceiptLine:
    return ReceiptLine.model_validate(
        {
            "line_no": line_no,
            "sku_id": SKU[line_no],
            "received": accepted + rejected,
            "accepted": accepted,
            "rejected": rejected,
            **batch,
        }
    )


def figures_of(figures: PoFigures) -> dict[int, tuple[int, int, int, int, int, int, int]]:
    """line → (ordered, received, accepted, rejected, returned, open, over)."""
    return {
        f.line_no: (f.ordered, f.received, f.accepted, f.rejected, f.returned, f.open, f.over)
        for f in figures.lines
    }


def moved(changes: Iterable[InTransitChange]) -> list[tuple[int, int, int, int]]:
    """(line, sku, warehouse, units) of each in-transit change."""
    return [(c.line_no, c.sku_id, c.warehouse_id, c.quantity) for c in changes]


def three_deliveries() -> tuple[PoFigures, list[list[tuple[int, int, int, int]]]]:
    """Issue 5: one delivery with QC rejects, one over within tolerance with a sample, one short."""
    figures, removed = empty_figures(PO), []
    first = Receipt(
        lines=(rl(1, 38, 2, batch_no="B1"), rl(1, 17, 3, batch_no="B2"), rl(2, 20)),
    )
    second = Receipt(
        lines=(rl(1, 48), rl(3, 4)),
        extras=(ReceiptExtra(sku_id=999, quantity=3, kind="sample"),),
    )
    third = Receipt(lines=(rl(2, 19),), extras=(ReceiptExtra(sku_id=998, quantity=1, kind="gift"),))
    for receipt in (first, second, third):
        outcome = apply_receipt(figures, receipt, TOLERANCE)
        figures = outcome.figures
        removed.append(moved(outcome.in_transit_removed))
    return figures, removed


def test_three_deliveries_give_exact_figures_and_in_transit() -> None:
    figures, removed = three_deliveries()
    assert figures_of(figures) == {
        1: (100, 108, 103, 5, 0, 0, 3),  # 60 (55 accepted) then 48: 3 over, within 105
        2: (40, 39, 39, 0, 0, 1, 0),  # short by 1
        3: (10, 4, 4, 0, 0, 6, 0),
    }
    assert figures.totals.model_dump() == {
        "ordered": 150,
        "received": 151,
        "accepted": 146,
        "rejected": 5,
        "returned": 0,
        "open": 7,
        "over": 3,
    }
    assert figures.extras == 4  # the sample and the gift, outside the line figures
    assert not figures.fully_received
    # Receipt 1 takes 55 and 20 off; receipt 2 only the 45 still open on line 1 (not 48).
    assert removed == [
        [(1, 101, 1, 55), (2, 102, 1, 20)],
        [(1, 101, 1, 45), (3, 103, 2, 4)],
        [(2, 102, 1, 19)],
    ]
    # Closing short releases what is open, per warehouse; 143 received + 7 released = 150 sent.
    assert moved(closing_release(figures)) == [(2, 102, 1, 1), (3, 103, 2, 6)]


def test_figures_serialise_with_open_over_and_totals() -> None:
    figures, _ = three_deliveries()
    dumped = figures.model_dump()
    assert dumped["lines"][1]["open"] == 1
    assert dumped["lines"][0]["over"] == 3
    assert dumped["totals"]["open"] == 7
    assert dumped["fully_received"] is False
    assert PoFigures.model_validate(dumped) == figures


def test_purchase_return_counts_on_the_line_and_does_not_reopen_it() -> None:
    figures, _ = three_deliveries()
    after = apply_return(figures, [ReturnLine(line_no=1, quantity=5)])
    assert figures_of(after)[1] == (100, 108, 103, 5, 5, 0, 3)
    assert after.totals.returned == 5
    assert closing_release(after) == closing_release(figures)


def test_a_return_beyond_what_arrived_is_refused_naming_the_line() -> None:
    figures, _ = three_deliveries()
    figures = apply_return(figures, [ReturnLine(line_no=3, quantity=3)])
    with pytest.raises(InvalidReceiptError) as refused:
        apply_return(
            figures, [ReturnLine(line_no=3, quantity=1), ReturnLine(line_no=3, quantity=1)]
        )
    assert refused.value.problems == [
        "return for PO line 3 (SKU 103): 2 more would exceed received 4 (returned 3 so far)"
    ]
    with pytest.raises(InvalidReceiptError, match="PO line 9: the PO has no such line"):
        apply_return(figures, [ReturnLine(line_no=9, quantity=1)])
    with pytest.raises(InvalidReceiptError, match="no lines"):
        apply_return(figures, [])


def test_over_delivery_beyond_tolerance_names_the_line_and_its_figures() -> None:
    figures, _ = three_deliveries()
    with pytest.raises(OverDeliveryError) as refused:
        apply_receipt(figures, Receipt(lines=(rl(1, 3), rl(2, 3))), TOLERANCE)
    # Line 1: 103 + 3 > 105. Line 2: 39 + 3 = 42, exactly the limit, so it is not named.
    [line] = refused.value.lines
    assert (line.line_no, line.sku_id, line.ordered, line.received) == (1, 101, 100, 108)
    assert (line.accepted, line.incoming, line.max_accepted) == (103, 3, 105)
    assert str(refused.value) == (
        "over-delivery beyond tolerance: PO line 1 (SKU 101): ordered 100, received 108 "
        "(accepted 103) so far, this receipt accepts 3, at most 105 may be accepted in all"
    )


def test_the_limit_is_reached_exactly_and_rejected_units_do_not_count() -> None:
    figures, _ = three_deliveries()
    # Line 1 may take 2 more; 50 rejected units go back to the supplier and do not count.
    outcome = apply_receipt(figures, Receipt(lines=(rl(1, 2, 50),)), TOLERANCE)
    assert figures_of(outcome.figures)[1] == (100, 160, 105, 55, 0, 0, 5)
    assert outcome.in_transit_removed == ()  # nothing was open on line 1


def test_fully_received_po_releases_nothing_at_closing() -> None:
    figures, _ = three_deliveries()
    outcome = apply_receipt(figures, Receipt(lines=(rl(2, 1), rl(3, 6))), TOLERANCE)
    assert outcome.figures.fully_received
    assert outcome.figures.totals.open == 0
    assert moved(outcome.in_transit_removed) == [(2, 102, 1, 1), (3, 103, 2, 6)]
    assert closing_release(outcome.figures) == []


def test_rejected_units_stay_open_and_in_transit() -> None:
    outcome = apply_receipt(empty_figures(PO), Receipt(lines=(rl(3, 6, 4),)), TOLERANCE)
    assert figures_of(outcome.figures)[3] == (10, 10, 6, 4, 0, 4, 0)
    assert moved(outcome.in_transit_removed) == [(3, 103, 2, 6)]
    assert moved(closing_release(outcome.figures)) == [
        (1, 101, 1, 100),
        (2, 102, 1, 40),
        (3, 103, 2, 4),
    ]


@pytest.mark.parametrize(
    ("ordered", "percent", "units", "maximum"),
    [
        (100, 5, 2, 105),
        (40, 5, 2, 42),
        (10, 5, 2, 12),
        (99, 5, 0, 103),
        (7, 0, 0, 7),
        (3, 50, 1, 4),
    ],
)
def test_tolerance_is_the_larger_of_percent_rounded_down_and_units(
    ordered: int, percent: int, units: int, maximum: int
) -> None:
    # 99 × 5 % = 4.95 → 4; 3 × 50 % = 1.5 → 1.
    assert OverDeliveryTolerance(percent=percent, units=units).max_accepted(ordered) == maximum


def test_structural_problems_are_all_named_at_once() -> None:
    receipt = Receipt(
        lines=(
            ReceiptLine(line_no=7, sku_id=101, received=1, accepted=1, rejected=0),
            ReceiptLine(line_no=2, sku_id=101, received=5, accepted=4, rejected=0),
            rl(3, 1, production_date=date(2025, 3, 1), expiry_date=date(2025, 2, 1)),
        )
    )
    with pytest.raises(InvalidReceiptError) as refused:
        check_receipt(empty_figures(PO), receipt, TOLERANCE)
    assert refused.value.problems == [
        "receipt line for PO line 7 (SKU 101): the PO has no such line; receive it as an extra",
        "receipt line for PO line 2 (SKU 101): the PO line is SKU 102",
        "receipt line for PO line 2 (SKU 101): received 5 ≠ accepted 4 + rejected 0",
        "SKU 103 batch '': expiry 2025-02-01 is before production 2025-03-01",
    ]
    with pytest.raises(InvalidReceiptError, match="no lines"):
        check_receipt(empty_figures(PO), Receipt(), TOLERANCE)


def test_structural_problems_come_before_tolerance() -> None:
    wrong_sku = ReceiptLine(line_no=3, sku_id=1, received=1, accepted=1, rejected=0)
    receipt = Receipt(lines=(rl(3, 50), wrong_sku))  # line 3 also far over its tolerance
    with pytest.raises(InvalidReceiptError):
        check_receipt(empty_figures(PO), receipt, TOLERANCE)


def test_extras_only_receipt_changes_no_line() -> None:
    outcome = apply_receipt(
        empty_figures(PO), Receipt(extras=(ReceiptExtra(sku_id=5, quantity=2),)), TOLERANCE
    )
    assert outcome.figures.extras == 2
    assert outcome.figures.lines == empty_figures(PO).lines
    assert outcome.in_transit_removed == ()


def test_po_lines_must_be_distinct_and_quantities_positive() -> None:
    with pytest.raises(ValueError, match="distinct"):
        empty_figures([PO[0], PO[0]])
    with pytest.raises(ValueError, match="distinct"):
        empty_figures([])
    with pytest.raises(ValidationError):
        ReceiptLine(line_no=1, sku_id=101, received=0, accepted=0, rejected=0)
    with pytest.raises(ValidationError):
        ReceiptLine(line_no=1, sku_id=101, received=1, accepted=2, rejected=-1)


def test_po_figures_recompute_history_without_rechecking_tolerance() -> None:
    receipts = [Receipt(lines=(rl(3, 20),)), Receipt(lines=(rl(1, 30, 1),))]
    figures = po_figures(PO, receipts, [ReturnLine(line_no=1, quantity=1)])
    assert figures_of(figures) == {
        1: (100, 31, 30, 1, 1, 70, 0),
        2: (40, 0, 0, 0, 0, 40, 0),
        3: (10, 20, 20, 0, 0, 0, 10),
    }
    with pytest.raises(OverDeliveryError):
        apply_receipt(empty_figures(PO), receipts[0], TOLERANCE)


@pytest.mark.parametrize(
    ("ordered", "before", "now", "removed"),
    [(10, 0, 4, 4), (10, 4, 6, 6), (10, 4, 9, 6), (10, 10, 3, 0), (10, 12, 1, 0), (10, 3, 0, 0)],
)
def test_in_transit_removed_never_exceeds_what_is_open(
    ordered: int, before: int, now: int, removed: int
) -> None:
    assert in_transit_removed(ordered, before, now) == removed


# --- Figures: property ---------------------------------------------------------------------


@st.composite
def po_history(
    draw: st.DrawFn,
) -> tuple[list[PoLine], OverDeliveryTolerance, list[Receipt], list[list[ReturnLine]]]:
    count = draw(st.integers(1, 4))
    lines = [
        PoLine(
            line_no=no,
            sku_id=100 + no,
            warehouse_id=draw(st.integers(1, 2)),
            quantity=draw(st.integers(1, 60)),
            unit_price_fen=draw(st.integers(0, 5000)),
        )
        for no in range(1, count + 1)
    ]
    tolerance = OverDeliveryTolerance(
        percent=draw(st.integers(0, 20)), units=draw(st.integers(0, 3))
    )
    receipt_line = (
        st.tuples(st.integers(1, count), st.integers(0, 40), st.integers(0, 5))
        .filter(lambda t: t[1] + t[2] > 0)
        .map(
            lambda t: ReceiptLine(
                line_no=t[0], sku_id=100 + t[0], received=t[1] + t[2], accepted=t[1], rejected=t[2]
            )
        )
    )
    extra = st.builds(ReceiptExtra, sku_id=st.just(999), quantity=st.integers(1, 3))
    receipts = draw(
        st.lists(
            st.builds(
                Receipt,
                lines=st.lists(receipt_line, min_size=1, max_size=4).map(tuple),
                extras=st.lists(extra, max_size=1).map(tuple),
            ),
            max_size=6,
        )
    )
    returns = draw(
        st.lists(
            st.lists(
                st.builds(ReturnLine, line_no=st.integers(1, count), quantity=st.integers(1, 10)),
                min_size=1,
                max_size=2,
            ),
            max_size=3,
        )
    )
    return lines, tolerance, receipts, returns


@given(po_history())
def test_figures_always_add_up_and_in_transit_balances(
    case: tuple[list[PoLine], OverDeliveryTolerance, list[Receipt], list[list[ReturnLine]]],
) -> None:
    po, tolerance, receipts, returns = case
    figures = empty_figures(po)
    removed = {line.line_no: 0 for line in po}
    accepted_receipts = []
    for receipt in receipts:
        incoming = {line.line_no: 0 for line in po}
        for part in receipt.lines:
            incoming[part.line_no] += part.accepted
        too_many = any(
            line.accepted + incoming[line.line_no] > tolerance.max_accepted(line.ordered)
            and incoming[line.line_no] > 0
            for line in figures.lines
        )
        if too_many:
            with pytest.raises(OverDeliveryError):
                apply_receipt(figures, receipt, tolerance)
            continue
        outcome = apply_receipt(figures, receipt, tolerance)
        figures = outcome.figures
        accepted_receipts.append(receipt)
        for change in outcome.in_transit_removed:
            removed[change.line_no] += change.quantity
    applied_returns = []
    for lines in returns:
        try:
            figures = apply_return(figures, lines)
            applied_returns += lines
        except InvalidReceiptError:
            continue
    released = {change.line_no: change.quantity for change in closing_release(figures)}
    for line in figures.lines:
        assert line.received == line.accepted + line.rejected
        assert line.open == max(0, line.ordered - line.accepted)
        assert line.ordered + line.over == line.accepted + line.open
        assert line.accepted <= tolerance.max_accepted(line.ordered)
        assert 0 <= line.returned <= line.received
        # What a PO line put in transit (ordered) leaves by receipts or at closing, exactly.
        assert removed[line.line_no] + released.get(line.line_no, 0) == line.ordered
        assert released.get(line.line_no, 0) == line.open
    totals = figures.totals
    for name in ("ordered", "received", "accepted", "rejected", "returned", "open", "over"):
        assert getattr(totals, name) == sum(getattr(line, name) for line in figures.lines)
    assert totals.ordered + totals.over == totals.accepted + totals.open
    assert figures.fully_received == (totals.open == 0)
    assert figures.extras == sum(e.quantity for r in accepted_receipts for e in r.extras)
    assert po_figures(po, accepted_receipts, applied_returns) == figures
