"""Wave planning rules (models/domain/waves.py): cutoffs in the warehouse's zone, earliest
deadline first, grouping by profile and zone, caps, release reasons, late and unplannable
packages flagged; and properties over random candidate sets."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from models.domain.waves import (
    Candidate,
    CandidateLine,
    Cutoff,
    ReleasePolicy,
    WaveCaps,
    WavePlan,
    next_cutoff,
    plan_waves,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
CUTOFFS = (Cutoff(carrier_code="SF", at=time(12, 0)), Cutoff(carrier_code="SF", at=time(18, 0)),
           Cutoff(carrier_code="YTO", at=time(16, 0)))  # fmt: skip
POLICY = ReleasePolicy(lead_time=timedelta(hours=1), urgency_margin=timedelta(minutes=30),
                       max_age=timedelta(minutes=45))  # fmt: skip
# 09:00 in Shanghai is 01:00 UTC.
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def cst(hour: int, minute: int = 0, day: int = 23) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def package(
    no: str,
    *lines: tuple[int, int, str],
    carrier: str = "SF",
    waited: int = 0,
    ship_by: datetime | None = None,
) -> Candidate:
    return Candidate(
        package_no=no,
        carrier_code=carrier,
        lines=tuple(CandidateLine(sku_id=s, quantity=q, zone=z) for s, q, z in lines),
        waiting_since=NOW - timedelta(minutes=waited),
        ship_by=ship_by,
    )


DEFAULT_CAPS = WaveCaps()


def plan(*candidates: Candidate, caps: WaveCaps = DEFAULT_CAPS, now: datetime = NOW) -> WavePlan:
    return plan_waves(candidates, now=now, cutoffs=CUTOFFS, zone=SHANGHAI, caps=caps, policy=POLICY)


def test_the_next_cutoff_is_the_first_one_a_wave_released_now_can_make() -> None:
    lead = timedelta(hours=1)
    assert next_cutoff("SF", CUTOFFS, NOW, SHANGHAI, lead) == cst(12)
    assert next_cutoff("SF", CUTOFFS, cst(11, 0), SHANGHAI, lead) == cst(12)  # exactly in time
    assert next_cutoff("SF", CUTOFFS, cst(11, 1), SHANGHAI, lead) == cst(18)
    assert next_cutoff("SF", CUTOFFS, cst(17, 30), SHANGHAI, lead) == cst(12, day=24)
    # Just after midnight UTC is morning in Shanghai: the day is the warehouse's.
    assert next_cutoff("YTO", CUTOFFS, datetime(2026, 11, 23, 23, 30, tzinfo=UTC), SHANGHAI,
                       lead) == cst(16, day=24)  # fmt: skip
    assert next_cutoff("ZTO", CUTOFFS, NOW, SHANGHAI, lead) is None


def test_groups_by_cutoff_profile_and_zone_earliest_deadline_first() -> None:
    result = plan(
        package("P-YTO", (1, 1, "A"), carrier="YTO", waited=50),
        package("P-1U", (1, 1, "A"), waited=50),
        package("P-1L", (2, 3, "A"), waited=50),
        package("P-ML-A", (1, 1, "A"), (2, 1, "A"), waited=50),
        package("P-ML-X", (1, 1, "A"), (3, 1, "B"), waited=50),
    )
    shown = [(w.cutoff, w.carrier_code, w.profile, w.zone, w.package_nos) for w in result.waves]
    assert shown == [
        (cst(12), "SF", "multi_line", "A", ("P-ML-A",)),
        (cst(12), "SF", "multi_line", "mixed", ("P-ML-X",)),
        (cst(12), "SF", "single_line", "A", ("P-1L",)),
        (cst(12), "SF", "single_unit", "A", ("P-1U",)),
        (cst(16), "YTO", "single_unit", "A", ("P-YTO",)),
    ]
    assert all(w.release == "old" for w in result.waves)  # waited 50 min ≥ 45
    assert result.flagged == ()


def test_caps_split_a_group_and_full_waves_are_released_the_rest_held() -> None:
    caps = WaveCaps(max_orders=10, max_lines=10, max_units=5)
    # P1 has waited longest (9 min), P5 least (5 min): oldest first.
    result = plan(*(package(f"P{i}", (i, 2, "A"), waited=10 - i) for i in range(1, 6)), caps=caps)
    assert [(w.package_nos, w.units, w.release) for w in result.waves] == [
        (("P1", "P2"), 4, "full"),  # P3 would make 6 units: the wave is full
        (("P3", "P4"), 4, "full"),
        (("P5",), 2, None),  # young, not urgent: held for the next run
    ]
    assert [w.package_nos for w in result.released] == [("P1", "P2"), ("P3", "P4")]


def test_a_wave_near_its_cutoff_is_released_as_urgent() -> None:
    # 10:31: cutoff 12:00 − 1 h lead − 30 min margin = 10:30 has passed.
    fresh = package("P1", (1, 1, "A")).model_copy(update={"waiting_since": cst(10, 20)})
    late = plan(fresh, now=cst(10, 31))
    early = plan(fresh, now=cst(10, 29))
    assert [w.release for w in late.waves] == ["urgent"]
    assert [w.release for w in early.waves] == [None]


def test_a_package_bigger_than_a_cap_gets_a_wave_of_its_own() -> None:
    caps = WaveCaps(max_orders=5, max_lines=5, max_units=3)
    result = plan(package("BIG", (1, 7, "A")), package("P2", (2, 1, "A")), caps=caps)
    assert [(w.package_nos, w.release) for w in result.waves] == [
        (("BIG",), "full"),
        (("P2",), None),
    ]


def test_late_and_unplannable_packages_are_flagged() -> None:
    result = plan(
        package("LATE", (1, 1, "A"), ship_by=cst(11, 30)),  # the 12:00 truck is the earliest
        package("FINE", (2, 1, "A"), ship_by=cst(12, 0)),
        package("NOWHERE", (3, 1, "A"), carrier="ZTO"),
    )
    reasons = {f.package_no: f.reason for f in result.flagged}
    assert set(reasons) == {"LATE", "NOWHERE"}
    assert "next cutoff" in reasons["LATE"] and "ZTO" in reasons["NOWHERE"]
    planned = {no for w in result.waves for no in w.package_nos}
    assert planned == {"LATE", "FINE"}  # late is still planned; no cutoff is not


lines_st = st.lists(
    st.tuples(st.integers(1, 20), st.integers(1, 4), st.sampled_from("AB")), min_size=1, max_size=3
)
candidates_st = st.lists(
    st.tuples(lines_st, st.sampled_from(["SF", "YTO"]), st.integers(0, 90)), max_size=25
)
caps_st = st.builds(WaveCaps, max_orders=st.integers(1, 6), max_lines=st.integers(3, 10),
                    max_units=st.integers(4, 15))  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(candidates_st, caps_st, st.integers(0, 23 * 60))
def test_every_package_is_planned_once_and_waves_respect_the_caps(
    raw: list[tuple[list[tuple[int, int, str]], str, int]], caps: WaveCaps, minute: int
) -> None:
    packages = [package(f"P{i}", *lines, carrier=carrier, waited=waited)
                for i, (lines, carrier, waited) in enumerate(raw)]  # fmt: skip
    now = cst(0) + timedelta(minutes=minute)
    result = plan(*packages, caps=caps, now=now)
    planned = [no for w in result.waves for no in w.package_nos]
    assert sorted(planned) == sorted(p.package_no for p in packages)
    by_no = {p.package_no: p for p in packages}
    cutoffs = [w.cutoff for w in result.waves]
    assert cutoffs == sorted(cutoffs)  # earliest deadline first
    for wave in result.waves:
        members = [by_no[no] for no in wave.package_nos]
        assert {(m.carrier_code, m.profile, m.zone) for m in members} == {
            (wave.carrier_code, wave.profile, wave.zone)
        }
        assert wave.cutoff >= now + POLICY.lead_time
        if len(members) > 1:  # only a lone oversized package may exceed a cap
            assert len(members) <= caps.max_orders
            assert wave.lines <= caps.max_lines and wave.units <= caps.max_units
        if wave.release is None:
            assert now - min(m.waiting_since for m in members) < POLICY.max_age
            assert now < wave.cutoff - POLICY.lead_time - POLICY.urgency_margin
    held = [w for w in result.waves if not w.released]
    keys = [(w.cutoff, w.carrier_code, w.profile, w.zone) for w in held]
    assert len(keys) == len(set(keys))  # at most one partial wave per group is held
