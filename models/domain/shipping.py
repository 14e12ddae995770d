"""Pure shipping rules: weight tolerance at the pack station."""

from __future__ import annotations

from collections.abc import Sequence

from models.contracts.order import PackageLine
from models.contracts.pricing import PricedLine


def weight_tolerance_g(expected_g: int, tolerance_g: int, tolerance_pct: int) -> int:
    """max(tolerance_g, tolerance_pct % of the expected weight), rounded up to whole grams."""
    return max(tolerance_g, -(-expected_g * tolerance_pct // 100))


def weight_within_tolerance(
    expected_g: int, measured_g: int, tolerance_g: int, tolerance_pct: int
) -> bool:
    return abs(measured_g - expected_g) <= weight_tolerance_g(
        expected_g, tolerance_g, tolerance_pct
    )


def package_value(lines: Sequence[PricedLine], package_lines: Sequence[PackageLine]) -> int:
    """What the customer paid for a package's goods: each order line's paid amount in
    proportion to the units the package carries (floor; the order keeps any odd fen)."""
    paid = {line.line_no: (line.paid_fen, line.quantity) for line in lines}
    total = 0
    for part in package_lines:
        paid_fen, quantity = paid[part.line_no]
        total += paid_fen * part.quantity // quantity
    return total
