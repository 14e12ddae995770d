"""The package's projection on the database side (DESIGN §6.2): its status per step (only
forward: status_seq), the fields a step sets, and one timeline row of its order. In the caller's
transaction; the timeline row is keyed, so a retried step writes it once."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from models.contracts.shipment import ShipmentStep
from models.db import Package
from services.timeline import add_event


async def record_step(session: AsyncSession, step: ShipmentStep) -> None:
    """The step on the package's row and on its order's timeline."""
    package = Package.package_no == step.package_no
    await session.execute(
        update(Package)
        .where(package, Package.status_seq < step.seq)
        .values(status=step.status, status_seq=step.seq)
    )
    if fields := step.package_fields():
        await session.execute(update(Package).where(package).values(**fields))
    await add_event(
        session,
        order_no=step.order_no,
        package_no=step.package_no,
        step=step.step,
        actor=step.actor,
        key=f"{step.package_no}:{step.key}",
        seq=step.seq,
        detail=dict(step.detail),
        at=step.at,
    )
