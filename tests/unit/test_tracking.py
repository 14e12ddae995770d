"""What a carrier's tracking means (models/domain/shipping.py): the latest of out-of-order pushes,
and a shipped package's status. Shared by the shipment and the after-sale's return parcel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.contracts.shipment import TrackingEvent, TrackingSnapshot
from models.domain.shipping import latest_tracking, package_status

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _snapshot(status: str, *codes: str) -> TrackingSnapshot:
    events = [
        TrackingEvent(code=code, occurred_at=T0 + timedelta(hours=n))
        for n, code in enumerate(codes)
    ]
    return TrackingSnapshot(tracking_no="SF100", status=status, events=events)


def test_a_longer_push_replaces_what_is_held() -> None:
    held = _snapshot("in_transit", "picked_up")
    pushed = _snapshot("in_transit", "picked_up", "in_transit")
    assert latest_tracking(held, pushed) is pushed


def test_an_older_push_arriving_late_is_ignored() -> None:
    held = _snapshot("delivered", "picked_up", "in_transit", "delivered")
    late = _snapshot("in_transit", "picked_up", "in_transit")
    assert latest_tracking(held, late) is held


def test_a_push_of_the_same_length_changes_nothing() -> None:
    held = _snapshot("in_transit", "picked_up")
    again = _snapshot("lost", "lost")
    assert latest_tracking(held, again) is held


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("delivered", "delivered"),
        ("lost", "exception"),
        ("refused", "exception"),
        ("in_transit", "shipped"),
        ("picked_up", "shipped"),
    ],
)
def test_a_shipped_package_takes_its_status_from_the_tracking_code(code: str, status: str) -> None:
    assert package_status(_snapshot(code, code)) == status
