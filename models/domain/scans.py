"""The rules of a handheld's scans in a wave (DESIGN §6.4): what a pick scan, a short report and
a put-wall scan may do, decided from figures the caller has loaded. Pure: no database, no HTTP.
services/picking.py and services/put_wall.py load the figures, apply these rules and store
the answers."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal


class PickRefused(Exception):
    """A scan the rules refuse, with what the device should have done instead."""

    def __init__(self, code: str, message: str, expected: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.expected = expected or {}


class PickForbidden(Exception):
    """Another warehouse's task or wave."""


@dataclass(frozen=True)
class StopToPick:
    """The open stop a pick scan must match, as the device is told it."""

    stop_no: int
    location_code: str
    location_barcode: str
    sku_code: str
    sku_barcode: str
    remaining: int


def check_pick(stop: StopToPick, location_barcode: str, sku_barcode: str, quantity: int) -> None:
    """A pick scan matches the stop's location, then its SKU, and takes no more than remains."""
    expected = asdict(stop)
    if location_barcode != stop.location_barcode:
        raise PickRefused(
            "wrong_location", f"go to {stop.location_code} ({stop.location_barcode})", expected
        )
    if sku_barcode != stop.sku_barcode:
        raise PickRefused("wrong_sku", f"pick {stop.sku_code} ({stop.sku_barcode}) here", expected)
    if quantity > stop.remaining:
        raise PickRefused("over_pick", f"only {stop.remaining} more to pick here", expected)


def check_short(stop_no: int, remaining: int, found: int) -> PickRefused | None:
    """A short report must leave something missing: finding every unit is a normal pick (and
    a write-off of nothing is never a ledger row)."""
    expected = {"stop_no": stop_no, "remaining": remaining}
    if found > remaining:
        return PickRefused("over_pick", f"only {remaining} more to pick here", expected)
    if found == remaining:
        return PickRefused("nothing_short", "nothing is short: scan the units instead", expected)
    return None


def finished_status(short_stops: int) -> Literal["done", "short"]:
    """A task with no stop left open is finished: short if any of its stops came up short."""
    return "short" if short_stops else "done"


def refusal_answer(refusal: PickRefused) -> dict[str, Any]:
    """What the device is told of a refused scan: the rule it broke and what was expected."""
    return {
        "detail": str(refusal),
        "accepted": False,
        "error": refusal.code,
        "expected": refusal.expected,
    }


def unit_goes_on_wall(first_waiting_slot: int | None, picked: int, put: int) -> bool:
    """A unit goes into the first slot (lowest number) still waiting for its SKU, and only if
    the wave picked more of that SKU than is already on the wall: anything else was not picked
    in this wave and goes to the exception tote."""
    return first_waiting_slot is not None and picked > put


def slot_complete(units_waiting: int) -> bool:
    """A slot with every unit in is complete: its package can be packed."""
    return units_waiting == 0
