"""Transfers between warehouses on the database side (DESIGN §6.9): the request (its rows and
the reservation at the source, so the units are not sold twice), releasing that reservation,
shipping (off the source's books, into the destination's in_transit), the receipt at the
destination, and the transfer's projection and timeline. The process itself is
TransferWorkflow's; units stay on the books exactly once at every step:

- requested / approved / picked: on hand at the source, reserved there for the transfer;
- in transit: `transfer_out` at the source, `transfer_shipped` raises the destination's
  in_transit by the same units;
- received: `transfer_arrived` lowers in_transit, `transfer_in` puts the good units on hand at
  the destination's receiving location and the damaged ones at its damage location (a blocked
  batch); units that never arrived leave in_transit as `transfer_lost`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.contracts.pricing import DemandLine
from models.contracts.transfers import (
    ShippedLine,
    TransferArrival,
    TransferRelease,
    TransferShipment,
    TransferStep,
)
from models.contracts.transfers import (
    TransferLine as Line,
)
from models.db import (
    Carrier,
    CarrierCutoff,
    Location,
    LocationStock,
    Reservation,
    Sku,
    Stock,
    StockMovement,
    Transfer,
    TransferEvent,
    TransferLine,
    Warehouse,
)
from services import pick_stock, reservations
from services.stock_ledger import BatchRef, Document, move_in_transit, move_on_hand

REF = "transfer"


class InvalidTransfer(Exception):
    """An input the transfer rules refuse; `field` names it (e.g. `lines.0.sku_id`), `code`
    its kind and `ctx` the values its message states (the API's 422 carries both)."""

    def __init__(self, field: str, message: str, code: str, **ctx: str | int) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code
        self.ctx = ctx


@dataclass(frozen=True)
class NewTransfer:
    transfer_no: str
    carrier_code: str
    lines: list[Line]
    existing: bool = False  # the same request key again: the transfer made the first time


async def create_transfer(
    session: AsyncSession,
    *,
    from_warehouse_id: int,
    to_warehouse_id: int,
    lines: Sequence[tuple[int, int]],
    requested_by: int,
    note: str,
    today: date,
    request_key: str | None = None,
) -> NewTransfer:
    """A transfer's rows, numbered `TR<business day><sequence>`, and its units reserved at the
    source, all in the caller's transaction. Raises InvalidTransfer, or OutOfStockError naming
    the SKUs the source cannot spare (nothing reserved then)."""
    if request_key is not None:
        found = await session.scalar(select(Transfer).where(Transfer.request_key == request_key))
        if found is not None:
            return NewTransfer(
                found.transfer_no, found.carrier_code, await lines_of(session, found.transfer_no),
                existing=True,
            )  # fmt: skip
    if from_warehouse_id == to_warehouse_id:
        raise InvalidTransfer(
            "to_warehouse_id", "a transfer goes to another warehouse", "same_warehouse"
        )
    for field, warehouse_id in (
        ("from_warehouse_id", from_warehouse_id),
        ("to_warehouse_id", to_warehouse_id),
    ):
        warehouse = await session.get(Warehouse, warehouse_id)
        if warehouse is None or not warehouse.active:
            raise InvalidTransfer(
                field,
                f"warehouse {warehouse_id} unknown or inactive",
                "unknown_warehouse",
                warehouse_id=warehouse_id,
            )
    if not lines:
        raise InvalidTransfer("lines", "a transfer needs lines", "no_lines")
    known = set(await session.scalars(select(Sku.id).where(Sku.id.in_([s for s, _ in lines]))))
    seen: set[int] = set()
    for n, (sku_id, _) in enumerate(lines):
        if sku_id not in known:
            raise InvalidTransfer(
                f"lines.{n}.sku_id", f"SKU {sku_id} does not exist", "unknown_sku", sku_id=sku_id
            )
        if sku_id in seen:
            raise InvalidTransfer(
                f"lines.{n}.sku_id", "each SKU once: merge the quantities", "sku_repeated"
            )
        seen.add(sku_id)
    carrier = await line_haul(session, from_warehouse_id)
    seq = int(await session.scalar(select(func.nextval("transfer_no_seq"))) or 0)
    transfer_no = f"TR{today:%Y%m%d}{seq:06d}"
    session.add(
        Transfer(
            transfer_no=transfer_no,
            from_warehouse_id=from_warehouse_id,
            to_warehouse_id=to_warehouse_id,
            carrier_code=carrier,
            requested_by=requested_by,
            request_key=request_key,
            note=note,
            reason="",
        )
    )
    await session.flush()
    made = [Line(line_no=n, sku_id=s, quantity=q) for n, (s, q) in enumerate(lines, start=1)]
    session.add_all(TransferLine(transfer_no=transfer_no, **ln.model_dump()) for ln in made)
    await session.flush()
    await reservations.reserve_package(
        session,
        transfer_no,
        transfer_no,
        from_warehouse_id,
        [DemandLine(line_no=ln.line_no, sku_id=ln.sku_id, quantity=ln.quantity) for ln in made],
        actor=f"user:{requested_by}",
    )
    return NewTransfer(transfer_no, carrier, made)


async def line_haul(session: AsyncSession, warehouse_id: int) -> str:
    """The carrier a transfer leaves the source with: the first active carrier with a cutoff
    there (waves are planned by carrier cutoff, DESIGN §6.4)."""
    code = await session.scalar(
        select(Carrier.code)
        .join(CarrierCutoff, CarrierCutoff.carrier_id == Carrier.id)
        .where(CarrierCutoff.warehouse_id == warehouse_id, Carrier.active)
        .order_by(Carrier.code)
        .limit(1)
    )
    if code is None:
        raise InvalidTransfer(
            "from_warehouse_id",
            f"warehouse {warehouse_id} has no carrier cutoff to ship with",
            "no_line_haul",
            warehouse_id=warehouse_id,
        )
    return str(code)


async def lines_of(session: AsyncSession, transfer_no: str) -> list[Line]:
    rows = await session.scalars(
        select(TransferLine)
        .where(TransferLine.transfer_no == transfer_no)
        .order_by(TransferLine.line_no)
    )
    return [Line(line_no=r.line_no, sku_id=r.sku_id, quantity=r.quantity) for r in rows]


async def release(session: AsyncSession, request: TransferRelease) -> int:
    """The reservation the transfer holds at the source is let go; returns the units."""
    return await reservations.release(
        session, request.transfer_no, request.reason, request.transfer_no, request.actor
    )


async def ship(session: AsyncSession, request: TransferShipment) -> list[ShippedLine]:
    """The picked units leave the source (`transfer_out`, from exactly the batches picked) and
    go in transit at the destination (`transfer_shipped`). Idempotent: a reservation consumed
    already is answered from the line's figures."""
    no = request.transfer_no
    shipped: list[ShippedLine] = []
    held_rows = (
        await session.scalars(
            select(Reservation)
            .where(Reservation.package_no == no)
            .order_by(Reservation.sku_id, Reservation.line_no)
            .with_for_update()
        )
    ).all()
    for held in held_rows:
        line = await session.get(TransferLine, (no, held.line_no), with_for_update=True)
        assert line is not None
        if held.status == "held":
            line.batches = await _take_picked(session, held, no, request.actor)
            line.shipped = held.quantity
            held.status = "consumed"
            if held.quantity:
                await move_in_transit(
                    session,
                    movement_type="transfer_shipped",
                    sku_id=held.sku_id,
                    warehouse_id=request.to_warehouse_id,
                    delta=held.quantity,
                    doc=Document(REF, no, request.actor, f"from warehouse "
                                 f"{request.from_warehouse_id}", f"{no}:shipped:{held.line_no}"),
                )  # fmt: skip
        if line.shipped:
            shipped.append(
                ShippedLine(line_no=line.line_no, sku_id=line.sku_id, quantity=line.shipped)
            )
    await session.flush()
    return shipped


async def _take_picked(
    session: AsyncSession, held: Reservation, no: str, actor: str
) -> list[dict[str, Any]]:
    """Transfer out the units picked for this reservation, batch by batch; the batches."""
    picked = await pick_stock.picked_allocations(session, no, held.line_no)
    total = sum(a.picked for a in picked)
    if total != held.quantity:
        raise AssertionError(f"transfer {no} line {held.line_no}: {total} picked, "
                             f"{held.quantity} held")  # fmt: skip
    batches: list[dict[str, Any]] = []
    for allocation in picked:
        row = await session.get(LocationStock, allocation.location_stock_id, with_for_update=True)
        assert row is not None
        row.quantity -= allocation.picked
        row.reserved -= allocation.picked
        allocation.status = "shipped"
        session.add(
            StockMovement(
                movement_type="transfer_out",
                sku_id=held.sku_id,
                warehouse_id=held.warehouse_id,
                location_id=allocation.location_id,
                batch_no=allocation.batch_no,
                on_hand_delta=-allocation.picked,
                reserved_delta=-allocation.picked,
                ref_type=REF,
                ref_no=no,
                actor=actor,
                idempotency_key=f"{no}:out:{held.line_no}:a{allocation.id}",
            )
        )
        batches.append(
            {
                "batch_no": allocation.batch_no,
                "production_date": _iso(row.production_date),
                "expiry_date": _iso(row.expiry_date),
                "quantity": allocation.picked,
            }
        )
    if total:
        await session.execute(
            update(Stock)
            .where(Stock.sku_id == held.sku_id, Stock.warehouse_id == held.warehouse_id)
            .values(on_hand=Stock.on_hand - total, reserved=Stock.reserved - total)
        )
    return batches


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


async def receiving_places(session: AsyncSession, warehouse_id: int) -> tuple[int, int | None]:
    """The destination's receiving location (where accepted units land) and damage location."""
    found: dict[str, int] = {}
    for kind, location_id in await session.execute(
        select(Location.kind, Location.id)
        .where(
            Location.warehouse_id == warehouse_id,
            Location.kind.in_(("receiving", "damage")),
            Location.active,
        )
        .order_by(Location.id.desc())
    ):
        found[kind] = location_id  # the first of each kind wins (ids descending)
    if "receiving" not in found:
        raise InvalidTransfer(
            "to_warehouse_id",
            f"warehouse {warehouse_id} has no receiving location",
            "no_receiving_location",
            warehouse_id=warehouse_id,
        )
    return found["receiving"], found.get("damage")


async def receive(session: AsyncSession, arrival: TransferArrival) -> None:
    """One receipt at the destination, in the caller's transaction; a receipt booked already
    changes nothing (every movement is keyed by the transfer and the line)."""
    no = arrival.transfer_no
    receiving, damage = await receiving_places(session, arrival.to_warehouse_id)
    if damage is None and any(line.damaged for line in arrival.lines):
        raise InvalidTransfer(
            "lines",
            f"warehouse {arrival.to_warehouse_id} has no damage location",
            "no_damage_location",
            warehouse_id=arrival.to_warehouse_id,
        )
    for line in arrival.lines:
        row = await session.get(TransferLine, (no, line.line_no), with_for_update=True)
        assert row is not None
        doc = Document(REF, no, arrival.actor)
        arrived = min(line.shipped, line.good + line.damaged)
        if arrived:
            await move_in_transit(session, movement_type="transfer_arrived", sku_id=line.sku_id,
                                  warehouse_id=arrival.to_warehouse_id, delta=-arrived,
                                  doc=_keyed(doc, f"{no}:arrived:{line.line_no}"))  # fmt: skip
        if line.short:
            await move_in_transit(
                session,
                movement_type="transfer_lost",
                sku_id=line.sku_id,
                warehouse_id=arrival.to_warehouse_id,
                delta=-line.short,
                doc=Document(REF, no, arrival.actor, "short on arrival: lost in transit",
                             f"{no}:lost:{line.line_no}"),
            )  # fmt: skip
        batches = list(row.batches) or [{"batch_no": f"TR-{no}", "quantity": line.good}]
        await _put(session, arrival, line.line_no, line.sku_id, receiving, batches, line.good,
                   "good")  # fmt: skip
        if line.damaged and damage is not None:
            await _put(session, arrival, line.line_no, line.sku_id, damage, batches, line.damaged,
                       "damaged")  # fmt: skip
        row.good, row.damaged, row.short, row.over = line.good, line.damaged, line.short, line.over
    await session.flush()


async def _put(
    session: AsyncSession,
    arrival: TransferArrival,
    line_no: int,
    sku_id: int,
    location_id: int,
    batches: list[dict[str, Any]],
    units: int,
    condition: str,
) -> None:
    """`units` on hand at `location_id`, into the batches they left the source in (in order;
    units over what was shipped go into the last one). Damaged batches are blocked."""
    left = units
    for n, batch in enumerate(batches):
        take = left if n == len(batches) - 1 else min(left, int(batch["quantity"]))
        if take <= 0:
            continue
        left -= take
        where = BatchRef(
            location_id,
            str(batch["batch_no"]),
            _day(batch.get("production_date")),
            _day(batch.get("expiry_date")),
        )
        await move_on_hand(
            session,
            movement_type="transfer_in",
            sku_id=sku_id,
            warehouse_id=arrival.to_warehouse_id,
            batch=where,
            quantity=take,
            doc=Document(REF, arrival.transfer_no, arrival.actor, f"received {condition}",
                         f"{arrival.transfer_no}:in:{line_no}:{condition}:{n}"),
        )  # fmt: skip
        if condition == "damaged":
            await session.execute(
                update(LocationStock)
                .where(
                    LocationStock.location_id == location_id,
                    LocationStock.sku_id == sku_id,
                    LocationStock.batch_no == where.batch_no,
                )
                .values(disabled=True)
            )


def _day(value: object) -> date | None:
    return date.fromisoformat(str(value)) if value else None


def _keyed(doc: Document, key: str) -> Document:
    return Document(doc.ref_type, doc.ref_no, doc.actor, doc.reason, key)


async def record_step(session: AsyncSession, step: TransferStep) -> None:
    """The transfer row and its lines' figures as the workflow sees them, plus a timeline row.
    Steps may land out of order: status_seq keeps the newest."""
    view = step.view
    changed = await session.execute(
        update(Transfer)
        .where(Transfer.transfer_no == step.transfer_no, Transfer.status_seq < step.seq)
        .values(
            status=step.status,
            status_seq=step.seq,
            wave_no=view.wave_no,
            receipt_key=view.receipt_key,
            reason=view.reason[:500],
        )
    )
    if changed.rowcount:  # type: ignore[attr-defined]
        for line in view.lines:
            await session.execute(
                update(TransferLine)
                .where(
                    TransferLine.transfer_no == step.transfer_no,
                    TransferLine.line_no == line.line_no,
                )
                .values(picked=line.picked)
            )
    await session.execute(
        insert(TransferEvent)
        .values(
            transfer_no=step.transfer_no,
            at=step.at,
            step=step.step,
            actor=f"{step.actor.kind}:{step.actor.name}"[:120],
            detail=dict(step.detail),
            idempotency_key=f"{step.seq:04d}-{step.step}"[:80],
        )
        .on_conflict_do_nothing(index_elements=["transfer_no", "idempotency_key"])
    )
