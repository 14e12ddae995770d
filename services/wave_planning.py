"""Wave planning in PostgreSQL (DESIGN §6.4, issue 4 item 2).

- `register_outbound`: a released package becomes an outbound order waiting for a wave, with
  the ship-by its promise gives (a package whose next reachable cutoff is later is flagged).
- `plan`: takes the warehouse's waiting outbound orders with FOR UPDATE SKIP LOCKED (two
  planners never take the same one), plans them with `models.domain.waves`, writes the released
  waves and builds them in the same transaction (`services.wave_building`: allocation, routed
  tasks, put-wall slots), so a wave is never seen without its tasks. A retried run (same plan
  key) returns the waves it made.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import collector
from models.contracts.waves import OutboundRequest, PlannedWaveRef, PlanRequest, PlanResult
from models.db import (
    Carrier,
    CarrierCutoff,
    Location,
    LocationStock,
    OutboundOrder,
    Reservation,
    Wave,
)
from models.domain.waves import (
    Candidate,
    CandidateLine,
    Cutoff,
    ReleasePolicy,
    WaveCaps,
    plan_waves,
)
from services import notifications, wave_building
from services.wave_building import warehouse_zone

UNKNOWN_ZONE = "-"


async def register_outbound(
    session: AsyncSession, request: OutboundRequest, *, ship_by: datetime | None = None
) -> None:
    await session.execute(
        pg_insert(OutboundOrder)
        .values(
            package_no=request.package_no,
            order_no=request.order_no,
            warehouse_id=request.warehouse_id,
            carrier_code=request.carrier_code,
            released_at=request.released_at,
            ship_by=ship_by,
            status="waiting",
        )
        .on_conflict_do_nothing(index_elements=["package_no"])
    )


async def plan(session: AsyncSession, request: PlanRequest) -> PlanResult:
    # Planning keeps a few objects per package until it is done: without the pause, Python's
    # cyclic collector walked the whole process again and again (core/collector.py).
    with collector.paused():
        return await _plan(session, request)


async def _plan(session: AsyncSession, request: PlanRequest) -> PlanResult:
    made = (
        await session.scalars(
            select(Wave).where(Wave.plan_key == request.plan_key).order_by(Wave.wave_no)
        )
    ).all()
    if made:
        return PlanResult(waves=[_ref(w) for w in made], held=0, flagged=0)
    zone = await warehouse_zone(session, request.warehouse_id)
    # The waiting packages with their held lines in one statement (one round trip, no list of
    # 10,000 package numbers sent back), locked on the outbound rows only.
    rows = (
        await session.execute(
            select(
                OutboundOrder.package_no,
                OutboundOrder.carrier_code,
                OutboundOrder.released_at,
                OutboundOrder.ship_by,
                Reservation.line_no,
                Reservation.sku_id,
                Reservation.quantity,
            )
            .join(
                Reservation,
                (Reservation.package_no == OutboundOrder.package_no)
                & (Reservation.status == "held"),
                isouter=True,
            )
            .where(
                OutboundOrder.warehouse_id == request.warehouse_id,
                OutboundOrder.status == "waiting",
            )
            .order_by(OutboundOrder.released_at, OutboundOrder.package_no, Reservation.line_no)
            # Scheduled runs skip what another run holds; "plan now" waits for it instead, so
            # it never misses a package shown released (DESIGN §6): one the other run planned
            # is no longer waiting once it may look at it.
            .with_for_update(of=OutboundOrder, skip_locked=not request.release_all)
        )
    ).all()
    if not rows:
        return PlanResult(waves=[], held=0, flagged=0)
    zones = await _sku_zones(session, request.warehouse_id)
    lines: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    waiting: dict[str, tuple[str, datetime, datetime | None]] = {}
    for package_no, carrier, released_at, ship_by, line_no, sku, quantity in rows:
        waiting.setdefault(package_no, (carrier, released_at, ship_by))
        if line_no is not None:
            lines[package_no].append((line_no, sku, quantity))
    # Plain dataclasses (rows of the database, valid there: quantities > 0, one line at least):
    # a pydantic model per package was most of the cost of 10,000 candidates. Lines are alike
    # (frozen): one object for each SKU and quantity.
    shared: dict[tuple[int, int], CandidateLine] = {}
    candidates = []
    for package_no, (carrier, released_at, ship_by) in waiting.items():
        its = lines.get(package_no)
        if not its:  # a package whose units were all released has nothing to pick
            continue
        own: list[CandidateLine] = []
        for _, sku, q in its:
            line = shared.get((sku, q))
            if line is None:
                zone_of = zones.get(sku, UNKNOWN_ZONE)
                line = shared[sku, q] = CandidateLine(sku_id=sku, quantity=q, zone=zone_of)
            own.append(line)
        candidates.append(Candidate(package_no=package_no, carrier_code=carrier,
                                    lines=tuple(own), waiting_since=released_at,
                                    ship_by=ship_by))  # fmt: skip
    rules = request.rules
    result = plan_waves(
        candidates,
        now=request.now,
        cutoffs=await _cutoffs(session, request.warehouse_id),
        zone=zone,
        caps=WaveCaps(
            max_orders=rules.max_orders, max_lines=rules.max_lines, max_units=rules.max_units
        ),
        policy=ReleasePolicy(
            lead_time=rules.lead_time,
            urgency_margin=rules.urgency_margin,
            max_age=rules.max_age,
            release_all=request.release_all,
        ),
    )
    day = request.now.astimezone(zone)
    released = result.released
    numbers = (
        await session.scalars(
            text("SELECT nextval('wave_seq') FROM generate_series(1, :n)"), {"n": len(released)}
        )
    ).all()
    waves: list[tuple[object, ...]] = [
        (f"WV{day:%Y%m%d}{seq:06d}", request.warehouse_id, request.plan_key, planned.carrier_code,
         planned.cutoff, planned.profile, planned.zone, planned.release or "full", "picking",
         len(planned.package_nos), planned.lines, planned.units, True, False)
        for seq, planned in zip(numbers, released, strict=True)
    ]  # fmt: skip
    if result.flagged:
        await session.execute(
            text(
                "UPDATE outbound_orders o SET flag_reason = v.reason "
                "FROM unnest(CAST(:packages AS text[]), CAST(:reasons AS text[])) AS v(p, reason) "
                "WHERE o.package_no = v.p"
            ),
            {
                "packages": [f.package_no for f in result.flagged],
                "reasons": [f.reason[:300] for f in result.flagged],
            },
        )
        await notifications.raise_many(  # told once per package (DESIGN §6.10: a late package)
            session,
            [
                notifications.Notice(kind="late_package", ref=f.package_no, step="flagged",
                                     detail=f.reason, warehouse_id=request.warehouse_id)
                for f in result.flagged
            ],
        )  # fmt: skip
    refs = [
        PlannedWaveRef(
            wave_no=str(wave[0]),
            warehouse_id=request.warehouse_id,
            cutoff_at=planned.cutoff,
            orders=len(planned.package_nos),
        )
        for wave, planned in zip(waves, released, strict=True)
    ]
    if waves:
        # Written and built in one go: the waves (built, in this transaction) and their packages
        # are written while their lines are allocated and their tasks routed.
        members = [(r.wave_no, p) for r, planned in zip(refs, released, strict=True)
                   for p in planned.package_nos]  # fmt: skip
        await wave_building.write_and_build(
            session,
            wave_building.NewWaves(
                warehouse_id=request.warehouse_id,
                today=day.date(),
                columns=_WAVE_COLUMNS,
                rows=waves,
                members=members,
                lines=lines,  # read above: the same transaction, the same rows
            ),
            max_stops=rules.task_max_stops,
            max_units=rules.task_max_units,
        )
    held = sum(len(w.package_nos) for w in result.waves if not w.released)
    return PlanResult(waves=refs, held=held, flagged=len(result.flagged))


_WAVE_COLUMNS = ("wave_no", "warehouse_id", "plan_key", "carrier_code", "cutoff_at", "profile",
                 "zone", "release_reason", "status", "orders", "lines", "units", "built",
                 "escalated")  # fmt: skip


def _ref(wave: Wave) -> PlannedWaveRef:
    return PlannedWaveRef(
        wave_no=wave.wave_no,
        warehouse_id=wave.warehouse_id,
        cutoff_at=wave.cutoff_at,
        orders=wave.orders,
    )


async def _sku_zones(session: AsyncSession, warehouse_id: int) -> dict[int, str]:
    """The zone each SKU is mostly picked from: where most of its free units are."""
    rows = await session.execute(
        select(LocationStock.sku_id, Location.zone)
        .join(Location, Location.id == LocationStock.location_id)
        .where(
            LocationStock.warehouse_id == warehouse_id,
            LocationStock.quantity > LocationStock.reserved,
            Location.kind == "storage",
        )
        .order_by(LocationStock.sku_id, (LocationStock.quantity - LocationStock.reserved).desc())
    )
    zones: dict[int, str] = {}
    for sku_id, zone in rows:
        zones.setdefault(sku_id, zone)
    return zones


async def _cutoffs(session: AsyncSession, warehouse_id: int) -> list[Cutoff]:
    rows = await session.execute(
        select(Carrier.code, CarrierCutoff.cutoff_local)
        .join(Carrier, Carrier.id == CarrierCutoff.carrier_id)
        .where(CarrierCutoff.warehouse_id == warehouse_id, Carrier.active)
    )
    return [Cutoff(carrier_code=code, at=at) for code, at in rows]
