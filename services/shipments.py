"""The package's projection on the database side (DESIGN §6.2): its status per step (only
forward: status_seq), the fields a step sets, and one timeline row of its order. In the caller's
transaction; the timeline row is keyed, so a retried step writes it once."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from models.contracts.shipment import ShipmentStep
from models.db import Package
from services import notifications
from services.notifications import Notice
from services.timeline import add_event, status_step


def one_statement(step: ShipmentStep) -> bool:
    """Whether the step is written by one statement (every step but those raising a notice):
    it may then commit on its own (`timeline.statements_commit_alone`)."""
    return _notice(step) is None


async def record_step(session: AsyncSession, step: ShipmentStep) -> None:
    """The step on the package's row and on its order's timeline, and the notifications it
    settles: one statement (one round trip), after the notice it raises, if any."""
    notice = _notice(step)
    if notice is not None:
        warehouse_id = await _warehouse(session, step.package_no)
        await notifications.raise_notice(session, replace(notice, warehouse_id=warehouse_id))
    writes = [
        status_step(
            Package,
            Package.package_no == step.package_no,
            status=step.status,
            seq=step.seq,
            **step.package_fields(),
        )
    ]
    if done := _settled(step):
        writes.append(notifications.resolving(done, step.package_no, step.at).cte("settled"))
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
        with_writes=writes,
    )


_EXCEPTION_DONE = ("shipped", "cancelled", "delivered")


def _notice(step: ShipmentStep) -> Notice | None:
    """A package held at the scale waits on a supervisor; a lost, refused or short package on a
    decision (DESIGN §6.2, §6.10). (Its warehouse is filled in when raised.)"""
    ref = step.package_no
    if step.status == "weight_hold" and step.step == "weight_hold":
        return Notice(
            kind="weight_hold",
            ref=ref,
            step=f"held-{step.seq}",
            detail=step.hold_reason or "",
            order_no=step.order_no,
        )
    if step.status == "exception" and not step.step.startswith("decided_"):
        return Notice(
            kind="parcel_exception",
            ref=ref,
            step=f"{step.step}-{step.seq}",
            detail=step.hold_reason or str(step.detail.get("code") or step.step),
            order_no=step.order_no,
        )
    return None


def _settled(step: ShipmentStep) -> list[str]:
    """The kinds of notification of the package the step is done with: the override or the
    decision is in."""
    done: list[str] = []
    if step.status != "weight_hold":
        done.append("weight_hold")
    if step.step.startswith("decided_") or step.status in _EXCEPTION_DONE:
        done.append("parcel_exception")
    if step.status in _EXCEPTION_DONE:  # gone out (or not at all): no longer late
        done.append("late_package")
    return done


async def _warehouse(session: AsyncSession, package_no: str) -> int | None:
    package = await session.get(Package, package_no)
    return package.warehouse_id if package is not None else None
