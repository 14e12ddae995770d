"""Payments and refunds on the database side (DESIGN §6.6): what the provider paid or refunded,
booked once per transaction or refund number — the payment or refund row, the money ledger's row,
the order's figures, a timeline step — and callbacks the provider does not vouch for.

Money ledger rule: every payment received is a + row, every refund a − row, one row per
document (unique by type and reference), so per order paid − refunded = Σ ledger."""

from __future__ import annotations

from typing import Any

from sqlalchemy import literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.contracts.order import Actor, PaymentReceived, RecordPaymentRequest, RefundRequest
from models.db import MoneyEntry, Order, OrderRefund, Payment, ReconciliationDifference, Refund
from models.domain.reconciliation import DifferenceKind, business_day
from services import notifications
from services.refund_callbacks import settle_pending
from services.timeline import add_event


def payment_one_statement(request: RecordPaymentRequest) -> bool:
    """Whether the payment is booked by one statement (an accepted one: not a late payment,
    which also tells finance): it may then commit on its own
    (`timeline.statements_commit_alone`)."""
    return request.accepted


async def record_payment(session: AsyncSession, request: RecordPaymentRequest) -> None:
    """A payment received, once per transaction: its row, the ledger's + row, the order's paid
    figure and a timeline step (also when it came too late to be accepted). Accepted: all in
    one statement, the ledger row and the order's figure only with a payment row just
    written (a retry books nothing twice)."""
    payment = request.payment
    row = (
        insert(Payment)
        .values(
            transaction_id=payment.transaction_id,
            provider=payment.provider,
            payment_id=payment.payment_id,
            order_no=request.order_no,
            amount_fen=payment.amount_fen,
            currency=payment.currency,
            accepted=request.accepted,
            paid_at=payment.paid_at,
        )
        .on_conflict_do_nothing()
        .returning(Payment.transaction_id)
    )

    async def timeline(*writes: Any) -> None:
        await add_event(
            session,
            order_no=request.order_no,
            step="payment_received" if request.accepted else "payment_not_accepted",
            actor=Actor(kind="provider", name=payment.provider),
            key=f"{request.order_no}:payment:{payment.transaction_id}",
            detail={"transaction_id": payment.transaction_id, "amount_fen": payment.amount_fen},
            at=request.at,
            with_writes=writes,
        )

    if payment_one_statement(request):
        paid = row.cte("payment_row")
        booked = select(paid.c.transaction_id)
        ledger = (
            insert(MoneyEntry)
            .from_select(
                ["order_no", "entry_type", "amount_fen", "ref_no"],
                select(
                    literal(request.order_no),
                    literal("payment"),
                    literal(payment.amount_fen),
                    paid.c.transaction_id,
                ),
            )
            .on_conflict_do_nothing(index_elements=["entry_type", "ref_no"])
            .cte("ledger_row")
        )
        order = (
            update(Order)
            .where(Order.order_no == request.order_no, booked.exists())
            .values(paid_fen=Order.paid_fen + payment.amount_fen)
            .cte("paid_order")
        )
        await timeline(paid, ledger, order)
        return
    inserted = await session.scalar(row)
    if inserted is not None:
        await _ledger(
            session, request.order_no, "payment", payment.amount_fen, payment.transaction_id
        )
        await session.execute(
            update(Order)
            .where(Order.order_no == request.order_no)
            .values(paid_fen=Order.paid_fen + payment.amount_fen)
        )
        await timeline()
        # after the order ended: refunded by itself, finance is told
        await notifications.raise_notice(
            session,
            notifications.Notice(
                kind="late_payment",
                ref=payment.transaction_id,
                detail=payment.provider,
                order_no=request.order_no,
                amount_fen=payment.amount_fen,
            ),
        )


async def payment_difference(
    session: AsyncSession,
    order_no: str,
    payment: PaymentReceived,
    kind: DifferenceKind,
    detail: str,
) -> None:
    """A callback the provider's books do not vouch for: a difference for finance (once per
    transaction) and a step on the order's timeline, never money of the order."""
    await session.execute(
        insert(ReconciliationDifference)
        .values(
            day=business_day(payment.paid_at),
            kind=kind,
            entry_type="payment",
            reference=payment.transaction_id[:64],
            order_no=order_no,
            provider_id=payment.payment_id[:64],
            provider_amount_fen=payment.amount_fen,  # what the callback claimed
            ledger_amount_fen=None,
            occurred_at=payment.paid_at,
            detail=detail[:500],
            resolved=False,
            run_id=None,
        )
        .on_conflict_do_nothing()  # a copy of the callback
    )
    await add_event(
        session,
        order_no=order_no,
        step="payment_difference",
        actor=Actor(kind="provider", name=payment.provider),
        key=f"{order_no}:payment-difference:{payment.transaction_id}",
        detail={
            "transaction_id": payment.transaction_id,
            "amount_fen": payment.amount_fen,
            "kind": kind,
        },
    )


async def record_refund(session: AsyncSession, request: RefundRequest, refund_id: str) -> None:
    """A refund the provider made, once per refund number: its row, a pending callback settled,
    the ledger's − row, the owed refund done, the order's refunded figure, a timeline step."""
    inserted = await session.scalar(
        insert(Refund)
        .values(
            refund_no=request.refund_no,
            order_no=request.order_no,
            transaction_id=request.transaction_id,
            provider_refund_id=refund_id,
            amount_fen=request.amount_fen,
            reason=request.reason[:500],
        )
        .on_conflict_do_nothing()
        .returning(Refund.refund_no)
    )
    if inserted is None:
        return
    await settle_pending(session, request.refund_no)  # its callback may have come first
    await _ledger(session, request.order_no, "refund", -request.amount_fen, request.refund_no)
    await session.execute(  # it was owed (pending or refused): now it is made
        update(OrderRefund).where(OrderRefund.refund_no == request.refund_no).values(status="done")
    )
    await session.execute(
        update(Order)
        .where(Order.order_no == request.order_no)
        .values(refunded_fen=Order.refunded_fen + request.amount_fen)
    )
    await add_event(
        session,
        order_no=request.order_no,
        step="refunded",
        actor=Actor(kind="system", name="refunds"),
        key=f"{request.order_no}:refund:{request.refund_no}",
        detail={
            "refund_no": request.refund_no,
            "amount_fen": request.amount_fen,
            "reason": request.reason[:200],
        },
    )


async def _ledger(
    session: AsyncSession, order_no: str, entry_type: str, amount_fen: int, ref_no: str
) -> None:
    await session.execute(
        insert(MoneyEntry)
        .values(order_no=order_no, entry_type=entry_type, amount_fen=amount_fen, ref_no=ref_no)
        .on_conflict_do_nothing(index_elements=["entry_type", "ref_no"])
    )
