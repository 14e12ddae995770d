"""Wave planning (DESIGN §6.4, issue 4): which released outbound packages are picked together.

Pure: the caller gives the candidates (packages waiting for a wave), the warehouse's carrier
cutoffs in its own time zone, the caps and the release policy, and the time now.

Rules:
- Each candidate's *cutoff* is the first cutoff of its carrier that a wave released now can
  still make: now + lead time ≤ cutoff (cutoffs are wall-clock times in the warehouse's zone,
  every day). A carrier without cutoffs has none: the candidate is flagged, never planned.
- Candidates are grouped by (cutoff, carrier, profile, zone) and groups are taken earliest
  cutoff first (earliest deadline first). Profile: single-unit, single-line, multi-line. Zone:
  the one zone of all its lines, else "mixed".
- Inside a group, oldest first; waves are filled up to the caps (orders, lines, units). A
  candidate larger than a cap on its own gets a wave to itself rather than never being picked.
- A wave is released when it is full (the next candidate does not fit, or a cap is reached),
  urgent (now ≥ its cutoff − lead time − urgency margin), or old (its oldest candidate waited
  max_age); when staff plan now (`release_all`), every wave is released ("manual"). Otherwise
  it is held for the next planning run.
- A candidate whose promised ship-by is before the cutoff it can still make is flagged late —
  it is still planned (it should leave as soon as it can), but staff see it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from operator import attrgetter
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

Profile = Literal["single_unit", "single_line", "multi_line"]
Reason = Literal["full", "urgent", "old", "manual"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


@dataclass(frozen=True, slots=True)
class CandidateLine:
    """A plain dataclass: planning makes one per line of every waiting package."""

    sku_id: int
    quantity: int
    zone: str

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise ValueError("a line holds at least one unit")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A plain dataclass: planning makes one per waiting package. Its units, profile and zone
    are worked out once, when it is made (a plan asks each several times)."""

    package_no: str
    carrier_code: str
    lines: tuple[CandidateLine, ...]  # one at least
    waiting_since: datetime  # released to the warehouse
    ship_by: datetime | None = None  # the promise to the customer, if any
    units: int = field(init=False, compare=False)
    profile: Profile = field(init=False, compare=False)
    zone: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        lines = self.lines
        if len(lines) == 1:  # most packages
            line = lines[0]
            units, zone = line.quantity, line.zone
            profile: Profile = "single_unit" if units == 1 else "single_line"
        elif lines:
            units = sum(line.quantity for line in lines)
            profile = "multi_line"
            zones = {line.zone for line in lines}
            zone = zones.pop() if len(zones) == 1 else "mixed"
        else:
            raise ValueError("a candidate has one line at least")
        object.__setattr__(self, "units", units)
        object.__setattr__(self, "profile", profile)
        object.__setattr__(self, "zone", zone)

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> Candidate:
        """A copy with some fields changed, as when it was a pydantic model."""
        return replace(self, **(update or {}))


class Cutoff(_Frozen):
    carrier_code: str
    at: time  # wall clock in the warehouse's time zone, every day


class WaveCaps(_Frozen):
    max_orders: int = Field(default=50, gt=0)
    max_lines: int = Field(default=200, gt=0)
    max_units: int = Field(default=500, gt=0)


class ReleasePolicy(_Frozen):
    lead_time: timedelta = timedelta(hours=1)  # picking + packing before the truck leaves
    urgency_margin: timedelta = timedelta(minutes=30)  # release this much before it must
    max_age: timedelta = timedelta(minutes=45)  # nobody waits longer for a fuller wave
    release_all: bool = False  # staff "plan now": what would be held is released ("manual")


class PlannedWave(_Frozen):
    cutoff: datetime
    carrier_code: str
    profile: Profile
    zone: str
    package_nos: tuple[str, ...]
    lines: int
    units: int
    release: Reason | None  # None: held for the next run

    @property
    def released(self) -> bool:
        return self.release is not None


class Flagged(_Frozen):
    package_no: str
    reason: str


class WavePlan(_Frozen):
    waves: tuple[PlannedWave, ...]
    flagged: tuple[Flagged, ...]

    @property
    def released(self) -> tuple[PlannedWave, ...]:
        return tuple(w for w in self.waves if w.released)


def next_cutoff(
    carrier_code: str,
    cutoffs: Sequence[Cutoff],
    now: datetime,
    zone: ZoneInfo,
    lead_time: timedelta,
) -> datetime | None:
    """The first cutoff of the carrier, today or on a later day in the warehouse's zone, that
    a wave released now makes: now + lead_time ≤ cutoff. None if the carrier has no cutoffs."""
    times = sorted(c.at for c in cutoffs if c.carrier_code == carrier_code)
    if not times:
        return None
    ready = now + lead_time
    today = now.astimezone(zone).date()
    for day in range(0, 8):
        on: date = today + timedelta(days=day)
        for at in times:
            cutoff = datetime.combine(on, at, zone)
            if cutoff >= ready:
                return cutoff.astimezone(UTC)
    raise AssertionError("unreachable: a daily cutoff is always within a week")


def plan_waves(
    candidates: Iterable[Candidate],
    *,
    now: datetime,
    cutoffs: Sequence[Cutoff],
    zone: ZoneInfo,
    caps: WaveCaps,
    policy: ReleasePolicy,
) -> WavePlan:
    flagged: list[Flagged] = []
    groups: dict[tuple[datetime, str, Profile, str], list[Candidate]] = {}
    per_carrier: dict[str, datetime | None] = {}  # the same for every candidate of a carrier
    for candidate in candidates:
        carrier = candidate.carrier_code
        if carrier not in per_carrier:
            per_carrier[carrier] = next_cutoff(carrier, cutoffs, now, zone, policy.lead_time)
        cutoff = per_carrier[carrier]
        if cutoff is None:
            reason = f"no cutoff configured for carrier {candidate.carrier_code}"
            flagged.append(Flagged(package_no=candidate.package_no, reason=reason))
            continue
        if candidate.ship_by is not None and candidate.ship_by < cutoff:
            flagged.append(
                Flagged(
                    package_no=candidate.package_no,
                    reason=f"late: promised to ship by {candidate.ship_by.isoformat()}, "
                    f"the next cutoff it can make is {cutoff.isoformat()}",
                )
            )
        key = (cutoff, carrier, candidate.profile, candidate.zone)
        group = groups.get(key)
        if group is None:
            group = groups[key] = []
        group.append(candidate)
    waves: list[PlannedWave] = []
    for key in sorted(groups):  # earliest deadline first; inside a group, oldest first
        group = sorted(groups[key], key=_AGE)
        waves += _fill(key, group, now, caps, policy)
    return WavePlan(waves=tuple(waves), flagged=tuple(flagged))


_AGE = attrgetter("waiting_since", "package_no")


def _fill(
    key: tuple[datetime, str, str, str],
    group: list[Candidate],
    now: datetime,
    caps: WaveCaps,
    policy: ReleasePolicy,
) -> list[PlannedWave]:
    cutoff, carrier, profile, zone = key
    urgent = now >= cutoff - policy.lead_time - policy.urgency_margin
    waves: list[PlannedWave] = []
    current: list[Candidate] = []
    lines = units = 0  # of `current`

    def close(full: bool) -> None:
        oldest = min(c.waiting_since for c in current)
        release: Reason | None = (
            "full" if full else "urgent" if urgent else "old" if now - oldest >= policy.max_age
            else "manual" if policy.release_all else None
        )  # fmt: skip
        waves.append(
            PlannedWave(
                cutoff=cutoff,
                carrier_code=carrier,
                profile=profile,
                zone=zone,
                package_nos=tuple(c.package_no for c in current),
                lines=lines,
                units=units,
                release=release,
            )
        )

    for candidate in group:
        more_lines, more_units = len(candidate.lines), candidate.units
        fits = (
            len(current) < caps.max_orders
            and lines + more_lines <= caps.max_lines
            and units + more_units <= caps.max_units
        )
        if current and not fits:
            close(full=True)
            current, lines, units = [], 0, 0
        current.append(candidate)
        lines, units = lines + more_lines, units + more_units
        if len(current) >= caps.max_orders or lines >= caps.max_lines or units >= caps.max_units:
            close(full=True)
            current, lines, units = [], 0, 0
    if current:
        close(full=False)
    return waves
