"""Pure shipping rules: weight tolerance at the pack station, what a carrier's tracking means."""

from __future__ import annotations

from collections.abc import Sequence

from models.contracts.order import PackageLine
from models.contracts.pricing import PricedLine
from models.contracts.shipment import ShipmentStatus, TrackingSnapshot

# Tracking codes after which staff decide (reship or refund) instead of waiting for delivery.
EXCEPTION_CODES = frozenset({"lost", "refused"})


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


def latest_tracking(held: TrackingSnapshot, pushed: TrackingSnapshot) -> TrackingSnapshot:
    """Carrier pushes (and polls) carry the full list of events and may arrive out of order:
    the longest list is the latest."""
    return pushed if len(pushed.events) > len(held.events) else held


def package_status(snapshot: TrackingSnapshot) -> ShipmentStatus:
    """A shipped package's status as its tracking says."""
    if snapshot.status == "delivered":
        return "delivered"
    if snapshot.status in EXCEPTION_CODES:
        return "exception"
    return "shipped"
