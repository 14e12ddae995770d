"""The rules of a handheld's scans (models/domain/scans.py): pick, short report, put wall."""

from __future__ import annotations

import pytest

from models.domain.scans import (
    PickRefused,
    StopToPick,
    check_pick,
    check_short,
    finished_status,
    refusal_answer,
    slot_complete,
    unit_goes_on_wall,
)

STOP = StopToPick(
    stop_no=3,
    location_code="A-01-02",
    location_barcode="LOC0102",
    sku_code="TEA-01",
    sku_barcode="690000000001",
    remaining=2,
)


def test_a_matching_scan_of_what_remains_is_a_pick() -> None:
    check_pick(STOP, "LOC0102", "690000000001", 2)  # raises on refusal
    with pytest.raises(PickRefused) as one_more:
        check_pick(STOP, "LOC0102", "690000000001", 3)
    assert one_more.value.code == "over_pick"


def test_the_location_is_checked_before_the_sku_and_says_where_to_go() -> None:
    with pytest.raises(PickRefused) as refused:
        check_pick(STOP, "LOC9999", "wrong", 1)
    assert refused.value.code == "wrong_location"
    assert str(refused.value) == "go to A-01-02 (LOC0102)"
    assert refused.value.expected == {
        "stop_no": 3,
        "location_code": "A-01-02",
        "location_barcode": "LOC0102",
        "sku_code": "TEA-01",
        "sku_barcode": "690000000001",
        "remaining": 2,
    }
    with pytest.raises(PickRefused) as sku:
        check_pick(STOP, "LOC0102", "wrong", 1)
    assert (sku.value.code, str(sku.value)) == ("wrong_sku", "pick TEA-01 (690000000001) here")


def test_a_short_report_must_leave_units_missing() -> None:
    assert check_short(3, remaining=4, found=1) is None
    assert check_short(3, remaining=4, found=0) is None
    everything = check_short(3, remaining=4, found=4)
    assert everything is not None and everything.code == "nothing_short"
    too_many = check_short(3, remaining=4, found=5)
    assert too_many is not None and too_many.code == "over_pick"
    assert too_many.expected == {"stop_no": 3, "remaining": 4}


def test_a_finished_task_is_short_when_any_stop_came_up_short() -> None:
    assert finished_status(0) == "done"
    assert finished_status(2) == "short"


def test_a_refusal_tells_the_device_the_rule_and_what_was_expected() -> None:
    refusal = PickRefused("nothing_short", "nothing is short", {"stop_no": 1, "remaining": 2})
    assert refusal_answer(refusal) == {
        "detail": "nothing is short",
        "accepted": False,
        "error": "nothing_short",
        "expected": {"stop_no": 1, "remaining": 2},
    }


def test_a_unit_goes_on_the_wall_only_to_a_waiting_slot_and_only_if_picked_in_the_wave() -> None:
    assert unit_goes_on_wall(4, picked=3, put=2)
    assert not unit_goes_on_wall(4, picked=3, put=3)  # every picked unit is already on the wall
    assert not unit_goes_on_wall(None, picked=3, put=0)  # no slot waits for the SKU
    assert slot_complete(0) and not slot_complete(1)
