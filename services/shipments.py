"""The package's projection on the database side (DESIGN §6.2): its status per step (only
forward: status_seq), the fields a step sets, and one timeline row of its order. In the caller's
transaction; the timeline row is keyed, so a retried step writes it once."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from models.contracts.shipment import ShipmentStep
from models.db import Package
from services import notifications
from services.notifications import Notice
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
    await _notify(session, step)


_EXCEPTION_DONE = ("shipped", "cancelled", "delivered")


async def _notify(session: AsyncSession, step: ShipmentStep) -> None:
    """A package held at the scale waits on a supervisor; a lost, refused or short package on a
    decision (DESIGN §6.2, §6.10). Done when the override or the decision is in."""
    ref = step.package_no
    if step.status == "weight_hold" and step.step == "weight_hold":
        await notifications.raise_notice(
            session,
            Notice(
                kind="weight_hold",
                ref=ref,
                step=f"held-{step.seq}",
                detail=step.hold_reason or "",
                warehouse_id=await _warehouse(session, ref),
                order_no=step.order_no,
            ),
        )
    elif step.status == "exception" and not step.step.startswith("decided_"):
        await notifications.raise_notice(
            session,
            Notice(
                kind="parcel_exception",
                ref=ref,
                step=f"{step.step}-{step.seq}",
                detail=step.hold_reason or str(step.detail.get("code") or step.step),
                warehouse_id=await _warehouse(session, ref),
                order_no=step.order_no,
            ),
        )
    done: list[str] = []  # resolved in one statement: this runs with every step
    if step.status != "weight_hold":
        done.append("weight_hold")
    if step.step.startswith("decided_") or step.status in _EXCEPTION_DONE:
        done.append("parcel_exception")
    if step.status in _EXCEPTION_DONE:  # gone out (or not at all): no longer late
        done.append("late_package")
    if done:
        await notifications.resolve(session, done, ref, step.at)


async def _warehouse(session: AsyncSession, package_no: str) -> int | None:
    package = await session.get(Package, package_no)
    return package.warehouse_id if package is not None else None
