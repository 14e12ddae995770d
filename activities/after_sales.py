"""Activities of after-sales (DESIGN §6.3): the projection of each step (the after-sale's row,
its lines when it opens, one timeline row of its order). A retried step writes nothing twice:
rows are keyed, and a status only moves forward (status_seq)."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity

from activities.orders import add_event, business_error
from core.db import SessionFactory
from models.contracts.after_sale import AfterSaleInput, AfterSaleStep, ReturnInbound
from models.db import (
    AfterSale,
    AfterSaleLine,
    Location,
    LocationStock,
    PickAllocation,
    Reservation,
)
from services.stock_ledger import BatchRef, Document, move_on_hand


class AfterSaleActivities:
    def __init__(self, session_factory: SessionFactory) -> None:
        self._sessions = session_factory

    @activity.defn
    async def record_after_sale_step(self, step: AfterSaleStep) -> None:
        async with self._sessions() as session:
            if step.opened is not None:
                await _open(session, step, step.opened)
            await session.execute(
                update(AfterSale)
                .where(AfterSale.as_no == step.as_no, AfterSale.status_seq < step.seq)
                .values(**_changes(step))
            )
            await add_event(
                session,
                order_no=step.order_no,
                step=f"after_sale_{step.step}",
                actor=step.actor,
                key=f"{step.as_no}:{step.seq:03d}-{step.step}",
                seq=0,
                detail={"as_no": step.as_no, **step.detail},
                at=step.at,
            )
            await session.commit()

    @activity.defn
    async def receive_return(self, inbound: ReturnInbound) -> int:
        """Returned units back on hand (return_in): sellable ones into the batch and location
        they were picked from, damaged ones into the warehouse's damage location as a blocked
        batch (on hand, never sold). Idempotent per after-sale and line. Returns units."""
        async with self._sessions() as session:
            damage = await session.scalar(
                select(Location.id)
                .where(Location.warehouse_id == inbound.warehouse_id, Location.kind == "damage")
                .order_by(Location.id)
                .limit(1)
            )
            units = 0
            for line, sku_id in inbound.lines:
                source = await _shipped_from(session, inbound, line.line_no, sku_id)
                back = (line.line_no, sku_id)
                units += await _put_back(session, inbound, back, source, line.sellable, "sellable")
                if line.damaged and damage is None:
                    raise business_error(
                        "InvalidInputError",
                        f"warehouse {inbound.warehouse_id} has no damage location",
                    )
                place = replace(source, location_id=damage or source.location_id)
                units += await _put_back(session, inbound, back, place, line.damaged, "damaged")
            await session.commit()
        return units


async def _put_back(
    session: AsyncSession,
    inbound: ReturnInbound,
    line: tuple[int, int],
    where: BatchRef,
    count: int,
    condition: str,
) -> int:
    """`count` units of (line, SKU) back on hand at `where`; damaged ones blocked there."""
    if not count:
        return 0
    line_no, sku_id = line
    await move_on_hand(
        session,
        movement_type="return_in",
        sku_id=sku_id,
        warehouse_id=inbound.warehouse_id,
        batch=where,
        quantity=count,
        doc=Document(
            ref_type="after_sale",
            ref_no=inbound.as_no,
            actor=f"{inbound.actor.kind}:{inbound.actor.name}",
            reason=f"return received {condition}",
            idempotency_key=f"return:{inbound.as_no}:{line_no}:{condition}",
        ),
    )
    if condition == "damaged":
        await session.execute(
            update(LocationStock)
            .where(
                LocationStock.location_id == where.location_id,
                LocationStock.sku_id == sku_id,
                LocationStock.batch_no == where.batch_no,
            )
            .values(disabled=True)
        )
    return count


async def _shipped_from(
    session: AsyncSession, inbound: ReturnInbound, line_no: int, sku_id: int
) -> BatchRef:
    """The batch and location the line's units were picked from in the receiving warehouse (the
    last one), else that warehouse's receiving location with a return batch."""
    packages = select(Reservation.package_no).where(
        Reservation.order_no == inbound.order_no, Reservation.line_no == line_no
    )
    picked = await session.scalar(
        select(LocationStock)
        .join(PickAllocation, PickAllocation.location_stock_id == LocationStock.id)
        .where(
            PickAllocation.package_no.in_(packages),
            PickAllocation.line_no == line_no,
            PickAllocation.status == "shipped",
            LocationStock.warehouse_id == inbound.warehouse_id,  # a line from two warehouses
        )
        .order_by(PickAllocation.id.desc())
        .limit(1)
    )
    if picked is not None:
        return BatchRef(
            location_id=picked.location_id,
            batch_no=picked.batch_no,
            production_date=picked.production_date,
            expiry_date=picked.expiry_date,
        )
    receiving = await session.scalar(
        select(Location.id)
        .where(Location.warehouse_id == inbound.warehouse_id, Location.kind == "receiving")
        .order_by(Location.id)
        .limit(1)
    )
    assert receiving is not None, f"warehouse {inbound.warehouse_id} has no receiving location"
    return BatchRef(location_id=receiving, batch_no=f"RET-{inbound.as_no}")


async def _open(session: AsyncSession, step: AfterSaleStep, opened: AfterSaleInput) -> None:
    await session.execute(_opened(step, opened).on_conflict_do_nothing())
    for line in opened.quote.lines:
        await session.execute(
            insert(AfterSaleLine)
            .values(
                as_no=step.as_no,
                line_no=line.line_no,
                sku_id=line.sku_id,
                quantity=line.quantity,
                amount_fen=line.amount_fen,
            )
            .on_conflict_do_nothing()
        )


def _changes(step: AfterSaleStep) -> dict[str, object]:
    """What the step changes on the after-sale's row."""
    changes: dict[str, object] = {
        "status": step.status,
        "status_seq": step.seq,
        "last_progress_at": step.at,
    }
    if step.step in ("approved", "rejected", "auto_approved"):
        changes |= {
            "decided_by": f"{step.actor.kind}:{step.actor.name}",
            "decision_reason": str(step.detail.get("reason") or "") or None,
        }
    if step.refund_no is not None:
        changes["refund_no"] = step.refund_no
    if step.shipped_back is not None:
        changes["return_carrier"] = step.shipped_back.carrier_code
        changes["return_tracking_no"] = step.shipped_back.tracking_no
    return changes


def _opened(step: AfterSaleStep, opened: AfterSaleInput) -> Insert:
    quote = opened.quote
    return insert(AfterSale).values(
        as_no=opened.as_no,
        order_no=opened.order_no,
        type=opened.type,
        status=step.status,
        status_seq=0,
        reason=opened.reason,
        evidence_urls=opened.evidence_urls,
        goods_fen=quote.goods_fen,
        freight_fen=quote.freight_fen,
        refund_fen=quote.total_fen,
        return_coupons=quote.return_coupons,
        requested_by=f"{opened.requested_by.kind}:{opened.requested_by.name}",
        requested_at=step.at,
        sla_due_at=step.sla_due_at,
        last_progress_at=step.at,
        return_warehouse_id=opened.return_warehouse_id,
    )
