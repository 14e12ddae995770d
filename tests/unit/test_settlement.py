"""Three-way match, payable and due dates of `models.domain.settlement` (DESIGN §6.5, §6.6)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.domain.purchasing import (
    LineFigures,
    PoFigures,
    PoLine,
    Receipt,
    ReceiptLine,
    ReturnLine,
    po_figures,
)
from models.domain.settlement import (
    InvoiceLine,
    MatchResult,
    MatchTolerance,
    PaymentTerms,
    due_date,
    parse_payment_terms,
    three_way_match,
)

# --- Three-way match ------------------------------------------------------------------------

PO = [
    PoLine(line_no=1, sku_id=101, warehouse_id=1, quantity=100, unit_price_fen=1250),
    PoLine(line_no=2, sku_id=102, warehouse_id=1, quantity=40, unit_price_fen=3000),
    PoLine(line_no=3, sku_id=103, warehouse_id=2, quantity=10, unit_price_fen=800),
]
SKU = {1: 101, 2: 102, 3: 103}


def rl(line_no: int, accepted: int, rejected: int = 0) -> ReceiptLine:
    return ReceiptLine(
        line_no=line_no,
        sku_id=SKU[line_no],
        received=accepted + rejected,
        accepted=accepted,
        rejected=rejected,
    )


# Received 108 (5 rejected, returned), 39 and 4: expected 135,000 + 117,000 + 3,200 = 255,200 fen;
# the return credits 5 × 1,250 = 6,250 fen.
RECEIPTS = [
    Receipt(lines=(rl(1, 38, 2), rl(1, 17, 3), rl(2, 20))),
    Receipt(lines=(rl(1, 48), rl(3, 4))),
    Receipt(lines=(rl(2, 19),)),
]
FIGURES = po_figures(PO, RECEIPTS, [ReturnLine(line_no=1, quantity=5)])
NO_RETURN = po_figures(PO, RECEIPTS)
STRICT = MatchTolerance(fen=100)


def inv(line_no: int | None, quantity: int, price: int, sku: int | None = None) -> InvoiceLine:
    sku_id = sku if sku is not None else SKU[line_no or 0]
    return InvoiceLine(line_no=line_no, sku_id=sku_id, quantity=quantity, unit_price_fen=price)


EXACT = [inv(1, 108, 1250), inv(2, 39, 3000), inv(3, 4, 800)]


def found(result: MatchResult) -> list[tuple[str, int | None, int]]:
    return [(d.kind, d.line_no, d.difference_fen) for d in result.discrepancies]


def test_exact_invoice_matches_and_the_return_credit_reduces_the_payable() -> None:
    result = three_way_match(PO, FIGURES, EXACT, STRICT)
    assert result.matched
    assert (result.expected_fen, result.invoiced_fen, result.credit_fen) == (
        255_200,
        255_200,
        6_250,
    )
    assert result.payable_fen == 248_950  # = 103 kept × 1,250 + 117,000 + 3,200
    assert result.unapplied_credit_fen == 0
    assert [(ln.line_no, ln.expected_fen, ln.difference_fen) for ln in result.lines] == [
        (1, 135_000, 0),
        (2, 117_000, 0),
        (3, 3_200, 0),
    ]
    assert three_way_match(PO, NO_RETURN, EXACT, STRICT).payable_fen == 255_200


def test_every_discrepancy_is_listed_with_its_amount() -> None:
    invoice = [
        inv(1, 108, 1250),
        inv(2, 39, 3100),  # price +100 × 39 = +3,900
        inv(3, 6, 800),  # 2 units more than received: +1,600
        inv(None, 2, 500, sku=999),  # not on the PO: +1,000
    ]
    result = three_way_match(PO, FIGURES, invoice, STRICT)
    assert not result.matched
    assert found(result) == [
        ("price_mismatch", 2, 3_900),
        ("quantity_mismatch", 3, 1_600),
        ("not_on_po", None, 1_000),
        ("total_mismatch", None, 6_500),
    ]
    messages = [d.message for d in result.discrepancies]
    assert messages[0] == (
        "PO line 2 (SKU 102): invoiced 120900 fen for 39 units, 117000 fen at the PO price 3000 fen"
    )
    assert messages[1] == "PO line 3 (SKU 103): invoiced 6 units, received 4"
    assert messages[2] == "invoice line for SKU 999, 1000 fen, names no PO line"
    assert result.payable_fen == 261_700 - 6_250


def test_quantity_and_price_parts_add_up_to_the_line_difference() -> None:
    # 5 × 900 = 4,500 vs 4 × 800 = 3,200: +1,300 = 1 unit × 800 + 5 × 100.
    result = three_way_match(PO, FIGURES, [*EXACT[:2], inv(3, 5, 900)], STRICT)
    assert found(result)[:2] == [("quantity_mismatch", 3, 800), ("price_mismatch", 3, 500)]


def test_a_received_line_not_invoiced_and_unapplied_credit() -> None:
    result = three_way_match(PO, FIGURES, [inv(3, 4, 800)], STRICT)
    assert found(result) == [
        ("not_invoiced", 1, -135_000),
        ("not_invoiced", 2, -117_000),
        ("total_mismatch", None, -252_000),
    ]
    assert (result.payable_fen, result.unapplied_credit_fen) == (0, 6_250 - 3_200)


def test_invoice_lines_naming_the_wrong_po_line_are_not_on_the_po() -> None:
    invoice = [*EXACT, inv(2, 1, 1250, sku=101), inv(9, 1, 10, sku=104), inv(None, 5, 0, sku=5)]
    result = three_way_match(PO, FIGURES, invoice, MatchTolerance(fen=5_000))
    assert found(result) == [("not_on_po", 2, 1_250), ("not_on_po", 9, 10)]  # the 0-fen sample
    assert [d.message for d in result.discrepancies] == [
        "invoice line for SKU 101, 1250 fen, names PO line 2, which is SKU 102",
        "invoice line for SKU 104, 10 fen, names PO line 9, which does not exist",
    ]


def test_percentage_tolerance_is_rounded_down_per_line_and_on_the_total() -> None:
    percent = MatchTolerance(basis_points=100)  # 1 %: line 2 may differ by ⌊1,170⌋ fen
    within = three_way_match(PO, FIGURES, [EXACT[0], inv(2, 39, 3030), EXACT[2]], percent)
    assert within.matched
    assert within.lines[1].difference_fen == 1_170
    beyond = three_way_match(PO, FIGURES, [EXACT[0], inv(2, 39, 3031), EXACT[2]], percent)
    assert found(beyond) == [("price_mismatch", 2, 1_209)]  # the total allows 2,552


@pytest.mark.parametrize(
    ("expected", "allowed"), [(50_000, 500), (10_000, 100), (5_000, 100), (0, 100), (99, 100)]
)
def test_tolerance_is_the_larger_of_fen_and_basis_points_rounded_down(
    expected: int, allowed: int
) -> None:
    assert MatchTolerance(fen=100, basis_points=100).allowed(expected) == allowed
    assert MatchTolerance(basis_points=100).allowed(expected) == expected // 100


def test_both_tolerances_configured_forgive_up_to_the_larger_only() -> None:
    tolerance = MatchTolerance(fen=100, basis_points=50)  # line 2: max(100, 585) = 585 fen
    within = three_way_match(PO, FIGURES, [EXACT[0], inv(2, 39, 3015), EXACT[2]], tolerance)
    assert within.matched  # +585
    beyond = three_way_match(PO, FIGURES, [EXACT[0], inv(2, 39, 3016), EXACT[2]], tolerance)
    assert found(beyond) == [("price_mismatch", 2, 624)]


def test_small_line_differences_can_still_fail_the_total() -> None:
    # Each line is 90 fen over (within 100), split over two invoice lines; the total is 270 over.
    invoice = [
        inv(1, 107, 1250),
        inv(1, 1, 1340),
        inv(2, 38, 3000),
        inv(2, 1, 3090),
        inv(3, 3, 800),
        inv(3, 1, 890),
    ]
    result = three_way_match(PO, FIGURES, invoice, STRICT)
    assert [ln.invoiced_quantity for ln in result.lines] == [108, 39, 4]
    assert found(result) == [("total_mismatch", None, 270)]
    assert result.discrepancies[0].message == "invoice total 255470 fen vs 255200 fen expected"


def test_match_refuses_figures_of_another_po() -> None:
    with pytest.raises(ValueError, match="not of these PO lines"):
        three_way_match(PO[:2], FIGURES, EXACT, STRICT)


@st.composite
def po_and_figures(draw: st.DrawFn) -> tuple[list[PoLine], PoFigures]:
    count = draw(st.integers(1, 4))
    lines, figures = [], []
    for no in range(1, count + 1):
        price, received = draw(st.integers(0, 10_000)), draw(st.integers(0, 50))
        lines.append(
            PoLine(line_no=no, sku_id=no, warehouse_id=1, quantity=10, unit_price_fen=price)
        )
        rejected = draw(st.integers(0, received))
        figures.append(
            LineFigures(
                line_no=no,
                sku_id=no,
                warehouse_id=1,
                ordered=10,
                received=received,
                accepted=received - rejected,
                rejected=rejected,
                returned=draw(st.integers(0, received)),
            )
        )
    return lines, PoFigures(lines=tuple(figures))


@given(po_and_figures())
def test_an_invoice_of_what_was_received_matches_and_pays_for_what_was_kept(
    case: tuple[list[PoLine], PoFigures],
) -> None:
    lines, figures = case
    invoice = [
        InvoiceLine(
            line_no=po.line_no,
            sku_id=po.sku_id,
            quantity=f.received,
            unit_price_fen=po.unit_price_fen,
        )
        for po, f in zip(lines, figures.lines, strict=True)
        if f.received
    ]
    result = three_way_match(lines, figures, invoice, MatchTolerance())
    assert result.matched
    kept = sum(
        po.unit_price_fen * (f.received - f.returned)
        for po, f in zip(lines, figures.lines, strict=True)
    )
    assert result.payable_fen == kept


@given(
    po_and_figures(),
    st.lists(st.tuples(st.integers(-3, 3), st.integers(-50, 50)), min_size=4, max_size=4),
    st.integers(0, 2_000),
    st.integers(0, 500),
)
def test_discrepancies_explain_every_difference_and_tolerance_only_forgives(
    case: tuple[list[PoLine], PoFigures],
    changes: list[tuple[int, int]],
    fen: int,
    basis_points: int,
) -> None:
    lines, figures = case
    invoice = [
        InvoiceLine(
            line_no=po.line_no,
            sku_id=po.sku_id,
            quantity=f.received + dq,
            unit_price_fen=max(0, po.unit_price_fen + dp),
        )
        for po, f, (dq, dp) in zip(lines, figures.lines, changes, strict=False)
        if f.received + dq > 0
    ]
    tolerance = MatchTolerance(fen=fen, basis_points=basis_points)
    result = three_way_match(lines, figures, invoice, tolerance)
    for line in result.lines:
        parts = [d.difference_fen for d in result.discrepancies if d.line_no == line.line_no]
        assert sum(parts) in (0, line.difference_fen)  # forgiven, or explained exactly
        if abs(line.difference_fen) > tolerance.allowed(line.expected_fen):
            assert sum(parts) == line.difference_fen
    assert (
        result.payable_fen - result.unapplied_credit_fen == result.invoiced_fen - result.credit_fen
    )
    assert min(result.payable_fen, result.unapplied_credit_fen) == 0
    looser = MatchTolerance(fen=fen * 2 + 1, basis_points=basis_points * 2)
    wider = three_way_match(lines, figures, invoice, looser)
    assert len(wider.discrepancies) <= len(result.discrepancies)
    if result.matched:
        assert wider.matched


# --- Payment terms --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "invoiced", "due"),
    [
        ("net 30", date(2024, 1, 15), date(2024, 2, 14)),
        ("net 30", date(2024, 1, 31), date(2024, 3, 1)),  # leap year: Feb has 29 days
        ("net 30", date(2023, 1, 31), date(2023, 3, 2)),
        ("net 60", date(2024, 12, 31), date(2025, 3, 1)),
        ("net 0", date(2024, 5, 5), date(2024, 5, 5)),
        ("month-end + 30", date(2024, 2, 10), date(2024, 3, 30)),  # from Feb 29
        ("month-end + 30", date(2023, 2, 10), date(2023, 3, 30)),  # from Feb 28
        ("month-end + 30", date(2024, 1, 31), date(2024, 3, 1)),  # invoiced on the month end
        ("month-end + 0", date(2024, 12, 5), date(2024, 12, 31)),
        ("月结60天", date(2024, 12, 1), date(2025, 3, 1)),
        ("月结", date(2100, 2, 1), date(2100, 2, 28)),  # 2100 is not a leap year
        ("month-end + 15", date(2000, 2, 3), date(2000, 3, 15)),  # 2000 is: from Feb 29
    ],
)
def test_due_dates(text: str, invoiced: date, due: date) -> None:
    assert due_date(invoiced, parse_payment_terms(text)) == due


@pytest.mark.parametrize(
    ("text", "basis", "days"),
    [
        ("net 30", "net", 30),
        ("NET60", "net", 60),
        (" Net 45 days ", "net", 45),
        ("month-end + 30", "month_end", 30),
        ("Month end+30", "month_end", 30),
        ("EOM+15", "month_end", 15),
        ("eom", "month_end", 0),
        ("月结30天", "month_end", 30),
        ("月结 60", "month_end", 60),
    ],
)
def test_parse_payment_terms(text: str, basis: str, days: int) -> None:
    terms = parse_payment_terms(text)
    assert (terms.basis, terms.days) == (basis, days)


@pytest.mark.parametrize("text", ["30", "net", "net -5", "prepaid", "net 30 net 30", ""])
def test_unknown_payment_terms_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="unknown payment terms"):
        parse_payment_terms(text)


@given(
    st.sampled_from(["net", "month_end"]),
    st.integers(0, 365),
    st.dates(date(1990, 1, 1), date(2200, 12, 31)),
)
def test_terms_round_trip_and_due_dates_are_calendar_days_from_the_start(
    basis: str, days: int, invoiced: date
) -> None:
    terms = PaymentTerms.model_validate({"basis": basis, "days": days})
    assert parse_payment_terms(str(terms)) == terms
    due = due_date(invoiced, terms)
    start = due - timedelta(days=days)
    if basis == "net":
        assert start == invoiced
    else:  # the last day of the invoice's month
        assert (start.year, start.month) == (invoiced.year, invoiced.month)
        assert (start + timedelta(days=1)).day == 1
    assert due >= invoiced
