"""Webhooks from the outside world. The signature is verified before anything else; a forged
or stale call is refused and changes nothing. Verified payment and tracking events become
signals to workflows, which dedupe them (a provider's retries and duplicates carry the same
transaction id); a payment whose order's process has ended is refunded by a process of its own
(LatePaymentRefundWorkflow). A refund callback confirms our refund, once per provider refund id,
or is recorded as a difference for finance (services/refund_callbacks.py); either way it is
answered 200 so the provider stops retrying."""

from __future__ import annotations

import json
import time
from contextlib import suppress
from datetime import datetime
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.deps import Deps, Session
from api.errors import Problem
from api.routing import Routes
from api.schemas.types import TextParam
from api.workflow_calls import answer
from core.security import signature_valid
from models.contracts.order import LatePaymentInput, PaymentReceived
from models.contracts.shipment import TrackingEvent, TrackingSnapshot
from models.db import Order, Payment
from models.domain.presale import order_of
from services.refund_callbacks import RefundNotice, record_refund_callback
from workflows.after_sale import AfterSaleWorkflow
from workflows.late_payment import LatePaymentRefundWorkflow, late_payment_id
from workflows.order import OrderWorkflow
from workflows.shipment import ShipmentWorkflow

router = Routes(prefix="/v1/webhooks", tags=["webhooks"])
SIGNED: dict[int | str, dict[str, Any]] = {401: {"description": "bad or stale signature"}}
MAX_AGE_S = 300
M = TypeVar("M", bound=BaseModel)


class Ack(BaseModel):
    status: str


class PaymentEvent(BaseModel):
    event: str
    transaction_id: str | None = None
    payment_id: str
    merchant_order_no: str
    amount_fen: int
    currency: str
    occurred_at: datetime


class RefundEvent(BaseModel):
    event: str
    refund_id: str = Field(min_length=1, max_length=64)
    refund_no: str = Field(min_length=1, max_length=64)
    payment_id: str = Field(max_length=64)
    merchant_order_no: str
    amount_fen: int = Field(gt=0)
    currency: str = Field(max_length=3)
    occurred_at: datetime


class TrackingPush(BaseModel):
    event: str
    package_key: str
    tracking_no: str
    status: str
    events: list[TrackingEvent]


async def verified_body(request: Request, secret: str | None) -> dict[str, Any]:
    if not secret:
        raise Problem(503, "webhook secret not configured")
    timestamp = request.headers.get("x-sandbox-timestamp", "")
    signature = request.headers.get("x-sandbox-signature", "")
    raw = await request.body()
    if not signature_valid(secret.encode(), raw, timestamp, signature):
        raise Problem(401, "bad webhook signature", type_="/problems/bad-signature")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > MAX_AGE_S:
        raise Problem(401, "stale webhook timestamp", type_="/problems/bad-signature")
    try:
        body: dict[str, Any] = json.loads(raw)
    except ValueError as exc:
        raise Problem(422, "webhook body is not JSON") from exc
    return body


def parsed(model: type[M], body: dict[str, Any], what: str) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise Problem(422, f"unexpected {what}: {exc.error_count()} errors") from exc


@router.post("/payments/{provider}", responses=SIGNED)
async def payment_webhook(
    provider: TextParam, request: Request, deps: Deps, session: Session
) -> Ack:
    body = await verified_body(request, deps.payment_webhook_secret)
    if body.get("event") == "refund.succeeded":
        return await _refund_callback(session, provider, parsed(RefundEvent, body, "refund event"))
    event = parsed(PaymentEvent, body, "payment event")
    if event.event != "payment.succeeded" or event.transaction_id is None:
        return Ack(status="ignored")  # declines need no action here
    if event.amount_fen <= 0:
        raise Problem(422, "payment amount must be positive")
    payment = PaymentReceived(
        provider=provider,
        transaction_id=event.transaction_id,
        payment_id=event.payment_id,
        amount_fen=event.amount_fen,
        currency=event.currency,
        paid_at=event.occurred_at,
    )
    order_no = order_of(event.merchant_order_no)  # a presale's balance pays under its own key
    client = deps.require_temporal()
    return await deliver_payment(client, deps.task_queue, session, order_no, payment)


async def deliver_payment(
    client: Client, task_queue: str, session: AsyncSession, order_no: str, payment: PaymentReceived
) -> Ack:
    """Hand a payment the provider made to its order: a signal to the order's process (which
    dedupes by transaction id), or, once that process has ended, the late payment's refund.
    Answers only once the payment is durably handed over (the signal is in the workflow's
    history, or the refund's process started); raises Problem otherwise (503: retry). Shared by
    the webhook and the sweeper that redelivers what the provider's statement holds and the
    webhook never brought (workers/handoffs.py)."""
    handle = client.get_workflow_handle(f"order-{order_no}")
    try:
        await answer(
            handle.signal(OrderWorkflow.payment_received, payment),
            kind="order",
            ident=order_no,
        )
    except Problem as exc:  # its process has ended (or is gone): a process of its own refunds
        order = await session.get(Order, order_no)
        taken = await session.get(Payment, payment.transaction_id)
        await session.commit()
        if exc.status not in (404, 409) or order is None:
            raise
        if taken is not None:  # a late copy of a callback the order took: nothing to refund
            return Ack(status="duplicate")
        return await _late_payment(client, task_queue, order_no, payment)
    return Ack(status="accepted")


async def _late_payment(
    client: Client, task_queue: str, order_no: str, payment: PaymentReceived
) -> Ack:
    """Start the late payment's refund, once per transaction whatever the callback's copies."""
    # A copy of a callback whose refund has already run: nothing more to start.
    with suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            LatePaymentRefundWorkflow.run,
            LatePaymentInput(order_no=order_no, payment=payment),
            id=late_payment_id(payment.transaction_id),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    return Ack(status="late_payment")


async def _refund_callback(session: AsyncSession, provider: str, event: RefundEvent) -> Ack:
    notice = RefundNotice(
        provider=provider,
        refund_id=event.refund_id,
        refund_no=event.refund_no,
        payment_id=event.payment_id,
        order_no=order_of(event.merchant_order_no),
        amount_fen=event.amount_fen,
        currency=event.currency,
        occurred_at=event.occurred_at,
    )
    outcome = await record_refund_callback(session, notice)
    await session.commit()
    return Ack(status=outcome)


@router.post("/carriers/{carrier}", responses=SIGNED)
async def carrier_webhook(carrier: TextParam, request: Request, deps: Deps) -> Ack:
    body = await verified_body(request, deps.carrier_webhook_secret)
    push = parsed(TrackingPush, body, "tracking push")
    snapshot = TrackingSnapshot(
        tracking_no=push.tracking_no, status=push.status, events=push.events
    )
    client, key = deps.require_temporal(), push.package_key
    if key.startswith("AS"):  # a customer's return we follow: the key is the after-sale
        signal = client.get_workflow_handle(f"aftersale-{key}").signal(
            AfterSaleWorkflow.return_tracking, snapshot
        )
        await answer(signal, kind="after-sale", ident=key)
    else:
        handle = client.get_workflow_handle(f"shipment-{key}")
        await answer(handle.signal(ShipmentWorkflow.tracking, snapshot), kind="package", ident=key)
    return Ack(status="accepted")
