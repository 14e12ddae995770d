"""The after-sale's projection on the database side (DESIGN §6.3): its row and lines when it
opens, its status per step (only forward: status_seq), and one timeline row of its order. In the
caller's transaction; rows are keyed, so a retried step writes nothing twice."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.contracts.after_sale import AfterSaleInput, AfterSaleStep
from models.db import AfterSale, AfterSaleLine
from services import notifications
from services.notifications import Notice
from services.timeline import add_event


async def record_step(session: AsyncSession, step: AfterSaleStep) -> None:
    """The step on the after-sale's row (opening it first) and on its order's timeline."""
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
    await _notify(session, step)


async def _notify(session: AsyncSession, step: AfterSaleStep) -> None:
    """A request waits on customer service (and its auto-approval is told to them); a refund
    the provider refused waits on a retry; a returned parcel delivered to the warehouse waits on
    its inspection there, the after-sale stuck until then (DESIGN §6.3, §6.10)."""
    ref = step.as_no
    if step.opened is not None:
        await notifications.raise_notice(
            session,
            Notice(
                kind="after_sale_decision",
                ref=ref,
                detail=step.opened.reason,
                order_no=step.order_no,
                amount_fen=step.opened.quote.total_fen,
            ),
        )
    if step.step in ("approved", "rejected", "auto_approved", "withdrawn", "closed"):
        await notifications.resolve(session, "after_sale_decision", ref, step.at)
    if step.step == "auto_approved":  # nobody decided in time: told, nothing to do
        notice = Notice(kind="after_sale_decision", ref=ref, step="auto_approved",
                        order_no=step.order_no)  # fmt: skip
        if await notifications.raise_notice(session, notice) is not None:
            await notifications.resolve(session, "after_sale_decision", ref, step.at)
    if step.step == "refund_refused":
        await notifications.raise_notice(
            session,
            Notice(
                kind="refund_refused",
                ref=ref,
                step=f"refused-{step.seq}",
                detail=str(step.detail.get("reason") or ""),
                order_no=step.order_no,
            ),
        )
    elif step.step in ("refund_retried", "refunded", "closed"):
        await notifications.resolve(session, "refund_refused", ref, step.at)
    if step.step == "return_delivered":  # the parcel is at the warehouse: someone inspects it
        warehouse = await session.scalar(
            select(AfterSale.return_warehouse_id).where(AfterSale.as_no == ref)
        )
        await notifications.raise_notice(
            session,
            Notice(kind="return_inspection", ref=ref, warehouse_id=warehouse,
                   order_no=step.order_no),
        )  # fmt: skip
    elif step.step in ("return_received", "closed", "withdrawn"):
        await notifications.resolve(session, "return_inspection", ref, step.at)


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
