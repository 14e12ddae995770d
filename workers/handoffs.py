"""Hand-offs that a crash, a timeout or an outside party that gave up can leave half done,
finished by a loop in the worker process (DESIGN §6: nothing may be lost). Each pass is
idempotent, so several workers may run it at once.

- Payments whose webhook never got through. The provider retries its webhook until it gets a
  2xx, but not for ever (the sandbox gives up after six attempts over some 15 s, real providers
  after hours): an API down longer than that (killed, restarting under load) leaves a payment
  the provider made and the order never heard of, awaiting payment until its deadline cancels
  it. So every pass reads the provider's own statement over the last `payment_lookback` and
  delivers each payment entry at least `payment_grace` old whose transaction houtai has not
  booked (nor recorded as a difference), of an order houtai has, that the provider's books hold
  paid (its payment read back: amount and currency from there), exactly as the webhook would
  (api/routes/webhooks.py `deliver_payment`): a signal to its order, which dedupes by
  transaction id and checks it against the provider's books, or the late payment's refund
  once the order's process has ended.
- Flash claims whose order never started. The gate commits a claim before the order's
  Update-with-Start (no buyer waits on the workflow while holding the sale's row): a start
  that failed where the API could not then tell whether the workflow exists (Temporal slow or
  away), a request cut off between the two, or an API killed there, leaves a unit carved for a
  buyer with no order to buy or pay for it. Every pass takes claims still `claimed` after
  `claim_grace` (an order reserves its claim within seconds of its start) and, for each whose
  order workflow Temporal says does not exist, gives the unit back (services/flash_sales.py
  `release_unstarted`: to the campaign while it is open). Should that order start after all,
  its reservation finds the claim released and refuses it: the unit ends as one order or back
  with the campaign, never both."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.providers import PaymentProvider, ProviderError, ProviderStatementEntry
from api.errors import Problem
from api.routes.webhooks import deliver_payment
from core.db import SessionFactory
from models.contracts.order import PaymentReceived
from models.db import FlashClaim, Order, Payment, ReconciliationDifference
from models.domain.presale import order_of
from services import flash_sales

log = logging.getLogger(__name__)
DESCRIBE_TIMEOUT = timedelta(seconds=10)
ACTOR = "system:handoffs"


@dataclass(frozen=True)
class HandoffPolicy:
    interval_s: float = 30.0
    payment_grace: timedelta = timedelta(seconds=60)  # the webhook's own retries come first
    payment_lookback: timedelta = timedelta(hours=6)
    # Far past the API's own wait for the start (UPDATE_RPC_TIMEOUT, 30 s): a start that still
    # came would find its claim released and be refused, never sold twice, but a buyer lost.
    claim_grace: timedelta = timedelta(seconds=120)
    batch: int = 200  # claims looked at per pass


@dataclass
class Swept:
    payments: list[str] = field(default_factory=list)  # transactions delivered to their order
    claims: list[str] = field(default_factory=list)  # orders whose claim went back


async def redeliver_payments(
    client: Client,
    task_queue: str,
    sessions: SessionFactory,
    provider: PaymentProvider,
    *,
    grace: timedelta,
    lookback: timedelta,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[str]:
    """Deliver the provider's payments that houtai never booked; the transactions delivered."""
    until = now()
    try:
        entries = await provider.statement(start=until - lookback, end=until)
    except ProviderError as exc:
        log.warning("payment sweep: no statement", extra={"error": str(exc)[:200]})
        return []
    due = [
        e
        for e in entries
        if e.type == "payment"
        and e.payment_id
        and until - lookback <= e.occurred_at <= until - grace
    ]
    if not due:
        return []
    transactions = [e.entry_id for e in due]
    async with sessions() as session:
        booked = set(
            await session.scalars(
                select(Payment.transaction_id).where(Payment.transaction_id.in_(transactions))
            )
        )
        booked |= set(  # a callback the provider's books did not vouch for: finance's already
            await session.scalars(
                select(ReconciliationDifference.reference).where(
                    ReconciliationDifference.entry_type == "payment",
                    ReconciliationDifference.reference.in_(transactions),
                )
            )
        )
        ours = set(
            await session.scalars(
                select(Order.order_no).where(
                    Order.order_no.in_({order_of(e.merchant_order_no) for e in due})
                )
            )
        )
    delivered: list[str] = []
    for entry in due:
        order_no = order_of(entry.merchant_order_no)
        if entry.entry_id in booked or order_no not in ours:
            continue
        payment = await _vouched(provider, entry)
        if payment is not None and await _deliver(client, task_queue, sessions, order_no, payment):
            delivered.append(entry.entry_id)
    return delivered


async def _vouched(
    provider: PaymentProvider, entry: ProviderStatementEntry
) -> PaymentReceived | None:
    """The payment as the provider's books hold it (the statement lists, the payment itself is
    what a provider vouches for): None when they do not hold it paid with that transaction."""
    assert entry.payment_id is not None
    try:
        books = await provider.payment(entry.payment_id)
    except (ProviderError, httpx.HTTPError):
        return None
    if (
        books.status != "succeeded"
        or books.transaction_id != entry.entry_id
        or books.merchant_order_no != entry.merchant_order_no
    ):
        return None
    return PaymentReceived(
        provider=provider.name,
        transaction_id=entry.entry_id,
        payment_id=books.payment_id,
        amount_fen=books.paid_fen,
        currency=books.currency,
        paid_at=entry.occurred_at,
    )


async def _deliver(
    client: Client,
    task_queue: str,
    sessions: SessionFactory,
    order_no: str,
    payment: PaymentReceived,
) -> bool:
    try:
        async with sessions() as session:
            ack = await deliver_payment(client, task_queue, session, order_no, payment)
    except (Problem, RPCError) as exc:  # Temporal busy or away: the next pass tries again
        log.warning(
            "payment sweep: not delivered",
            extra={
                "order_no": order_no,
                "transaction_id": payment.transaction_id,
                "error": str(exc),
            },
        )
        return False
    log.warning(
        "payment delivered by the sweep: its webhook never got through",
        extra={
            "order_no": order_no,
            "transaction_id": payment.transaction_id,
            "status": ack.status,
        },
    )
    return True


async def release_orphan_claims(
    client: Client, sessions: SessionFactory, *, grace: timedelta, batch: int = 200
) -> list[str]:
    """Give back the flash claims whose order never started; their order numbers."""
    async with sessions() as session:
        stale = list(
            await session.scalars(
                select(FlashClaim.order_no)
                .where(
                    FlashClaim.status == "claimed",
                    FlashClaim.claimed_at < func.now() - grace,
                )
                .order_by(FlashClaim.claimed_at)
                .limit(batch)
            )
        )
    released: list[str] = []
    for order_no in stale:
        try:
            await client.get_workflow_handle(f"order-{order_no}").describe(
                rpc_timeout=DESCRIBE_TIMEOUT
            )
            continue  # its order runs: it reserves the claim, or gives it back if it refuses
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                continue  # Temporal cannot say now: the next pass asks again
        async with sessions() as session:
            if await flash_sales.release_unstarted(session, order_no, actor=ACTOR):
                await session.commit()
                released.append(order_no)
                log.warning(
                    "flash claim given back by the sweep: its order never started",
                    extra={"order_no": order_no},
                )
    return released


class HandoffSweeper:
    def __init__(
        self,
        client: Client,
        task_queue: str,
        sessions: SessionFactory,
        provider: PaymentProvider | None,
        policy: HandoffPolicy | None = None,
    ) -> None:
        self.client, self.task_queue, self.sessions = client, task_queue, sessions
        self.provider = provider
        self.policy = policy or HandoffPolicy()

    async def sweep(self) -> Swept:
        policy, swept = self.policy, Swept()
        if self.provider is not None:
            swept.payments = await redeliver_payments(
                self.client,
                self.task_queue,
                self.sessions,
                self.provider,
                grace=policy.payment_grace,
                lookback=policy.payment_lookback,
            )
        swept.claims = await release_orphan_claims(
            self.client, self.sessions, grace=policy.claim_grace, batch=policy.batch
        )
        return swept

    async def run(self, stop: asyncio.Event) -> None:
        """A pass every `interval_s` until `stop`; a pass that fails is logged, not fatal."""
        while not stop.is_set():
            try:
                await self.sweep()
            except Exception:  # the database or a provider away: the next pass tries again
                log.exception("hand-off sweep failed")
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.policy.interval_s)
