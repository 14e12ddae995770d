"""The payment provider's `refund.succeeded` callbacks (DESIGN §6.6), written by the webhook
route once the signature is verified.

Each callback is stored once per provider refund id (duplicates and retries only count up
`copies`) and settled against our refund of the same number:
- ours, with the same provider refund id and amount → our refund is confirmed by the provider;
- ours, but a different amount or provider refund id → a difference for finance;
- none of ours yet, but it fits a payment of ours (same order, no more than is still refundable)
  → pending: our refund activity is between the provider's answer and its commit (or retrying
  after a lost answer); recording that refund settles the callback (`settle_pending`);
- none of ours, and no payment of ours it could belong to → a difference for finance.
A pending callback whose refund never gets recorded is the provider refunding behind our back:
the daily reconciliation lists it (`missing_in_ledger`) from the provider's statement.

Differences are rows of reconciliation_differences without a run (a run that later finds the
same difference takes it over). Callback and recording of one refund number are serialized by an
advisory lock, so whichever commits second sees the other."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.db import Payment, ReconciliationDifference, Refund, RefundCallback
from models.domain.reconciliation import DifferenceKind, business_day

LOCK_NAMESPACE = 0x5246_4342  # pg_advisory_xact_lock(namespace, hashtext(refund_no))
Outcome = Literal["confirmed", "pending", "difference", "duplicate"]


@dataclass(frozen=True)
class RefundNotice:
    """What a verified `refund.succeeded` callback says."""

    provider: str
    refund_id: str  # the provider's id of the refund
    refund_no: str  # our refund number, as we sent it
    payment_id: str
    order_no: str  # the merchant order number
    amount_fen: int
    currency: str
    occurred_at: datetime


async def record_refund_callback(session: AsyncSession, notice: RefundNotice) -> Outcome:
    """Store and settle the callback; the caller commits. A copy seen before is `duplicate`."""
    await _lock(session, notice.refund_no)
    if not await _stored(session, notice):
        return "duplicate"
    refund = await session.get(Refund, notice.refund_no, populate_existing=True)
    if refund is not None:
        return await _settle(session, notice, refund)
    if await _fits_a_payment(session, notice):
        return "pending"
    detail = f"no refund {notice.refund_no} of ours and no payment it could be against"
    return await _differs(session, notice, "missing_in_ledger", None, detail)


async def _stored(session: AsyncSession, notice: RefundNotice) -> bool:
    """True the first time this provider refund id is seen; later copies are only counted."""
    stored = await session.scalar(
        insert(RefundCallback)
        .values(
            provider_refund_id=notice.refund_id,
            provider=notice.provider,
            refund_no=notice.refund_no,
            payment_id=notice.payment_id,
            order_no=notice.order_no[:64],
            amount_fen=notice.amount_fen,
            currency=notice.currency,
            occurred_at=notice.occurred_at,
            outcome="pending",
        )
        .on_conflict_do_nothing()
        .returning(RefundCallback.provider_refund_id)
    )
    if stored is None:
        await session.execute(
            update(RefundCallback)
            .where(RefundCallback.provider_refund_id == notice.refund_id)
            .values(copies=RefundCallback.copies + 1)
        )
    return stored is not None


async def settle_pending(session: AsyncSession, refund_no: str) -> None:
    """Our refund was just recorded: settle a callback that came before it (the caller commits)."""
    await _lock(session, refund_no)
    refund = await session.get(Refund, refund_no, populate_existing=True)
    assert refund is not None, f"refund {refund_no} is not recorded"
    waiting = await session.scalars(
        select(RefundCallback).where(
            RefundCallback.refund_no == refund_no, RefundCallback.outcome == "pending"
        )
    )
    for callback in list(waiting):
        await _settle(session, _notice(callback), refund)


async def _settle(session: AsyncSession, notice: RefundNotice, refund: Refund) -> Outcome:
    if notice.amount_fen != refund.amount_fen:
        detail = (
            f"refund callback: the provider refunded {notice.amount_fen} fen as "
            f"{notice.refund_no}, our ledger has {refund.amount_fen} fen"
        )
        return await _differs(session, notice, "amount_mismatch", refund.amount_fen, detail)
    if notice.refund_id != refund.provider_refund_id or notice.order_no != refund.order_no:
        detail = (
            f"refund callback: {notice.refund_id} for {notice.order_no} names our refund "
            f"{notice.refund_no}, which is {refund.provider_refund_id} for {refund.order_no}"
        )
        return await _differs(session, notice, "missing_in_ledger", None, detail)
    now = datetime.now(UTC)
    await session.execute(
        update(Refund)
        .where(Refund.refund_no == refund.refund_no, Refund.confirmed_at.is_(None))
        .values(confirmed_at=now)
    )
    await _mark(session, notice, "confirmed", now)
    return "confirmed"


async def _differs(
    session: AsyncSession,
    notice: RefundNotice,
    kind: DifferenceKind,
    ours_fen: int | None,
    detail: str,
) -> Outcome:
    """A difference for finance, keyed as the reconciliation keys a refund's (our number)."""
    now = datetime.now(UTC)
    await session.execute(
        insert(ReconciliationDifference)
        .values(
            day=business_day(notice.occurred_at),
            kind=kind,
            entry_type="refund",
            reference=notice.refund_no[:64],
            order_no=notice.order_no[:64],
            provider_id=notice.refund_id,
            provider_amount_fen=notice.amount_fen,
            ledger_amount_fen=ours_fen,
            occurred_at=notice.occurred_at,
            detail=detail[:500],
            resolved=False,
            run_id=None,
        )
        .on_conflict_do_nothing()  # a run (or an earlier callback) found it already
    )
    await _mark(session, notice, "difference", now)
    return "difference"


async def _fits_a_payment(session: AsyncSession, notice: RefundNotice) -> bool:
    """A payment of ours for that order, with at least the amount still refundable."""
    payment = await session.scalar(
        select(Payment).where(
            Payment.payment_id == notice.payment_id,
            Payment.order_no == notice.order_no,
            Payment.provider == notice.provider,
            Payment.currency == notice.currency,
        )
    )
    if payment is None:
        return False
    refunded = await session.scalar(
        select(func.coalesce(func.sum(Refund.amount_fen), 0)).where(
            Refund.transaction_id == payment.transaction_id
        )
    )
    return notice.amount_fen <= payment.amount_fen - int(refunded or 0)


async def _mark(session: AsyncSession, notice: RefundNotice, outcome: str, at: datetime) -> None:
    await session.execute(
        update(RefundCallback)
        .where(RefundCallback.provider_refund_id == notice.refund_id)
        .values(outcome=outcome, settled_at=at)
    )


async def _lock(session: AsyncSession, refund_no: str) -> None:
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:namespace, hashtext(:refund_no))"),
        {"namespace": LOCK_NAMESPACE, "refund_no": refund_no},
    )


def _notice(callback: RefundCallback) -> RefundNotice:
    return RefundNotice(
        provider=callback.provider,
        refund_id=callback.provider_refund_id,
        refund_no=callback.refund_no,
        payment_id=callback.payment_id,
        order_no=callback.order_no,
        amount_fen=callback.amount_fen,
        currency=callback.currency,
        occurred_at=callback.occurred_at,
    )
