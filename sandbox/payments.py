"""Sandbox payment provider: an Alipay / WeChat Pay-like service on loopback.

Merchant API (subject to the configured faults): create a payment (idempotent by the
`Idempotency-Key` header and by merchant_order_no + amount), read it, refund it (idempotent by
refund_no, never more than was paid), and read the daily statement. The customer's side is
`POST /v1/payments/{id}/simulate` (no faults), which settles the payment and sends the signed
webhook to the payment's notify_url. `/_sandbox/...` routes steer the sandbox itself.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import httpx
from fastapi import FastAPI, Header, Response
from pydantic import BaseModel, Field

from sandbox.bank import add_bank_routes
from sandbox.common import (
    Clock,
    FaultInjector,
    SandboxConfig,
    SandboxError,
    StrictModel,
    WebhookSender,
    sandbox_app,
    utc_now,
)

Fen = Annotated[int, Field(gt=0, strict=True)]
PaymentStatus = Literal["pending", "succeeded", "declined"]


class PaymentConfig(SandboxConfig):
    currency: str = "CNY"
    refund_webhooks: bool = Field(True, description="also send refund.succeeded webhooks")


class RefundRefusals(StrictModel):
    """Refuse the next `count` refunds (not faults: a business refusal, 409), as a provider does
    when the merchant's balance cannot cover them."""

    count: int = Field(ge=0, le=100)
    reason: str = Field("merchant balance insufficient", max_length=256)


class PaymentCreate(StrictModel):
    merchant_order_no: str = Field(min_length=1, max_length=64)
    amount_fen: Fen
    currency: str = "CNY"
    notify_url: str = Field(pattern=r"^https?://", max_length=2048)
    description: str = Field("", max_length=256)


class PaymentView(BaseModel):
    payment_id: str
    pay_token: str
    status: PaymentStatus
    amount_fen: int
    currency: str
    merchant_order_no: str
    description: str
    transaction_id: str | None = None
    paid_fen: int = 0
    refunded_fen: int = 0
    created_at: dt.datetime
    paid_at: dt.datetime | None = None


class SimulateRequest(StrictModel):
    outcome: Literal["succeeded", "declined"]
    amount_fen: Fen | None = Field(None, description="charge this instead (wrong-amount callback)")


class SimulateResult(BaseModel):
    payment: PaymentView
    webhook: dict[str, Any]


class RefundCreate(StrictModel):
    payment_id: str
    refund_no: str = Field(min_length=1, max_length=64)
    amount_fen: Fen
    reason: str = Field("", max_length=256)


class RefundView(BaseModel):
    refund_id: str
    refund_no: str
    payment_id: str
    merchant_order_no: str
    status: Literal["succeeded"] = "succeeded"
    amount_fen: int
    currency: str
    reason: str
    occurred_at: dt.datetime


class StatementEntry(BaseModel):
    type: Literal["payment", "refund"]
    entry_id: str = Field(description="the transaction_id of a payment, the refund_id of a refund")
    transaction_id: str | None = Field(description="the payment's transaction")
    refund_id: str | None = None
    refund_no: str | None = None
    payment_id: str
    merchant_order_no: str
    amount_fen: int
    currency: str
    occurred_at: dt.datetime


class Statement(BaseModel):
    date: dt.date
    currency: str
    entries: list[StatementEntry]
    payments_fen: int
    refunds_fen: int
    net_fen: int


class MismatchCreate(StrictModel):
    """A difference planted in the published statement (the ledger of record is unchanged)."""

    kind: Literal["alter_amount", "phantom", "omit"]
    entry_id: str | None = Field(None, description="alter_amount / omit: the entry to change")
    amount_fen: Fen | None = Field(None, description="alter_amount / phantom: the amount shown")
    date: dt.date | None = Field(None, description="phantom: the statement day (default today)")
    type: Literal["payment", "refund"] = "payment"
    merchant_order_no: str = "PHANTOM"


@dataclass
class _Payment:
    view: PaymentView
    notify_url: str
    request_key: tuple[str, int, str]


class PaymentProvider:
    """The provider's books, in memory, every change under one lock."""

    def __init__(
        self, config: PaymentConfig, transport: httpx.AsyncBaseTransport | None, clock: Clock
    ) -> None:
        self.config = config
        self.clock = clock
        self.faults = FaultInjector(config.faults, config.seed)
        secret = config.webhook_secret.get_secret_value().encode()
        self.webhooks = WebhookSender(secret, config.webhook, transport)
        self.payments: dict[str, _Payment] = {}
        self.refunds: dict[str, RefundView] = {}
        self.entries: list[StatementEntry] = []
        self.mismatches: list[MismatchCreate] = []
        self.phantoms: list[StatementEntry] = []
        self.refusals = RefundRefusals(count=0)
        self._by_order: dict[str, str] = {}
        self._by_key: dict[str, tuple[tuple[str, int, str], str]] = {}
        self._lock = asyncio.Lock()

    def payment(self, payment_id: str) -> _Payment:
        if payment_id not in self.payments:
            raise SandboxError(404, "Unknown payment", f"no payment {payment_id}")
        return self.payments[payment_id]

    async def create_payment(self, body: PaymentCreate, key: str) -> tuple[PaymentView, bool]:
        if body.currency != self.config.currency:
            raise SandboxError(422, "Unsupported currency", f"only {self.config.currency}")
        request_key = (body.merchant_order_no, body.amount_fen, body.currency)
        async with self._lock:
            if key in self._by_key:
                seen, payment_id = self._by_key[key]
                if seen != request_key:
                    raise SandboxError(409, "Idempotency-Key reused", "for a different request")
                return self.payments[payment_id].view, False
            if body.merchant_order_no in self._by_order:
                existing = self.payments[self._by_order[body.merchant_order_no]]
                if existing.request_key != request_key:
                    detail = f"{existing.view.amount_fen} fen already asked for this order"
                    raise SandboxError(409, "Order already has a payment", detail)
                self._by_key[key] = (request_key, existing.view.payment_id)
                return existing.view, False
            view = PaymentView(
                payment_id=f"pay_{uuid.uuid4().hex[:24]}",
                pay_token=f"ptk_{secrets.token_urlsafe(24)}",
                status="pending",
                amount_fen=body.amount_fen,
                currency=body.currency,
                merchant_order_no=body.merchant_order_no,
                description=body.description,
                created_at=self.clock(),
            )
            self.payments[view.payment_id] = _Payment(view, body.notify_url, request_key)
            self._by_order[body.merchant_order_no] = view.payment_id
            self._by_key[key] = (request_key, view.payment_id)
            return view, True

    async def simulate(self, payment_id: str, body: SimulateRequest) -> SimulateResult:
        async with self._lock:
            payment = self.payment(payment_id)
            view = payment.view
            if view.status == "succeeded":
                raise SandboxError(409, "Already paid", f"{payment_id} has already succeeded")
            now = self.clock()
            view.status = body.outcome
            if body.outcome == "succeeded":
                view.transaction_id = f"TX{now:%Y%m%d}{uuid.uuid4().hex[:20].upper()}"
                view.paid_fen = body.amount_fen or view.amount_fen
                view.paid_at = now
                self.entries.append(self._entry(view, "payment", view.paid_fen, now))
            webhook = {
                "event": f"payment.{body.outcome}",
                "notify_id": uuid.uuid4().hex,
                "transaction_id": view.transaction_id,
                "payment_id": view.payment_id,
                "merchant_order_no": view.merchant_order_no,
                "amount_fen": body.amount_fen or view.amount_fen,
                "currency": view.currency,
                "occurred_at": now.isoformat(),
            }
            result = SimulateResult(payment=view.model_copy(), webhook=webhook)
        self.webhooks.dispatch(payment.notify_url, webhook, self.faults.faults)
        return result

    async def refund(self, body: RefundCreate) -> tuple[RefundView, bool]:
        async with self._lock:
            if body.refund_no in self.refunds:
                known = self.refunds[body.refund_no]
                if (known.payment_id, known.amount_fen) != (body.payment_id, body.amount_fen):
                    raise SandboxError(409, "refund_no reused", "for a different refund")
                return known, False
            if self.refusals.count > 0:
                self.refusals.count -= 1
                raise SandboxError(409, "Refund refused", self.refusals.reason)
            payment = self.payment(body.payment_id)
            view = payment.view
            if view.status != "succeeded":
                raise SandboxError(409, "Payment not paid", f"{view.payment_id} is {view.status}")
            refundable = view.paid_fen - view.refunded_fen
            if body.amount_fen > refundable:
                detail = f"{body.amount_fen} fen asked, {refundable} fen refundable"
                raise SandboxError(409, "Refund exceeds payment", detail, refundable_fen=refundable)
            now = self.clock()
            refund = RefundView(
                refund_id=f"RF{now:%Y%m%d}{uuid.uuid4().hex[:20].upper()}",
                refund_no=body.refund_no,
                payment_id=view.payment_id,
                merchant_order_no=view.merchant_order_no,
                amount_fen=body.amount_fen,
                currency=view.currency,
                reason=body.reason,
                occurred_at=now,
            )
            view.refunded_fen += body.amount_fen
            self.refunds[body.refund_no] = refund
            self.entries.append(self._entry(view, "refund", body.amount_fen, now, refund))
        if self.config.refund_webhooks:
            webhook = {"event": "refund.succeeded", **refund.model_dump(mode="json")}
            self.webhooks.dispatch(payment.notify_url, webhook, self.faults.faults)
        return refund, True

    @staticmethod
    def _entry(
        view: PaymentView,
        kind: Literal["payment", "refund"],
        amount: int,
        at: dt.datetime,
        refund: RefundView | None = None,
    ) -> StatementEntry:
        return StatementEntry(
            type=kind,
            entry_id=refund.refund_id if refund else view.transaction_id or "",
            transaction_id=view.transaction_id,
            refund_id=refund.refund_id if refund else None,
            refund_no=refund.refund_no if refund else None,
            payment_id=view.payment_id,
            merchant_order_no=view.merchant_order_no,
            amount_fen=amount,
            currency=view.currency,
            occurred_at=at,
        )

    async def plant_mismatch(self, body: MismatchCreate) -> MismatchCreate:
        async with self._lock:
            if body.kind != "omit" and body.amount_fen is None:
                raise SandboxError(422, "amount_fen required", f"{body.kind} needs amount_fen")
            if body.kind == "phantom":
                phantom = self._phantom(body, body.date or self.clock().date())
                self.phantoms.append(phantom)
                entry_id, day = phantom.entry_id, phantom.occurred_at.date()
            else:
                target = next((e for e in self.entries if e.entry_id == body.entry_id), None)
                if target is None:
                    raise SandboxError(404, "Unknown entry", f"no statement entry {body.entry_id}")
                self.mismatches.append(body)
                entry_id, day = target.entry_id, target.occurred_at.astimezone(dt.UTC).date()
            return body.model_copy(update={"entry_id": entry_id, "date": day})

    def _phantom(self, body: MismatchCreate, day: dt.date) -> StatementEntry:
        prefix = "TX" if body.type == "payment" else "RF"
        entry_id = f"{prefix}PHANTOM{uuid.uuid4().hex[:12].upper()}"
        return StatementEntry(
            type=body.type,
            entry_id=entry_id,
            transaction_id=entry_id if body.type == "payment" else None,
            refund_id=entry_id if body.type == "refund" else None,
            payment_id=f"pay_phantom_{entry_id[-12:].lower()}",
            merchant_order_no=body.merchant_order_no,
            amount_fen=body.amount_fen or 0,
            currency=self.config.currency,
            occurred_at=dt.datetime.combine(day, dt.time(12, 0), dt.UTC),
        )

    async def statement(self, day: dt.date) -> Statement:
        async with self._lock:
            entries = [
                e
                for e in [*self.entries, *self.phantoms]
                if e.occurred_at.astimezone(dt.UTC).date() == day
            ]
            for m in self.mismatches:
                if m.kind == "omit":
                    entries = [e for e in entries if e.entry_id != m.entry_id]
                else:
                    update = {"amount_fen": m.amount_fen}
                    entries = [
                        e.model_copy(update=update) if e.entry_id == m.entry_id else e
                        for e in entries
                    ]
        payments = sum(e.amount_fen for e in entries if e.type == "payment")
        refunds = sum(e.amount_fen for e in entries if e.type == "refund")
        return Statement(
            date=day,
            currency=self.config.currency,
            entries=entries,
            payments_fen=payments,
            refunds_fen=refunds,
            net_fen=payments - refunds,
        )


def create_payment_app(
    config: PaymentConfig,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock = utc_now,
) -> FastAPI:
    """The provider as an ASGI app. `transport` routes webhook delivery (default: the network);
    `clock` stamps payments, refunds and statements."""
    provider = PaymentProvider(config, transport, clock)
    app = sandbox_app(
        "houtai sandbox payment provider",
        provider.faults,
        provider.webhooks,
        lambda path: path.startswith("/v1/") and not path.endswith("/simulate"),
    )
    app.state.provider = provider
    _payment_routes(app, provider)
    _refund_and_statement_routes(app, provider)
    app.state.bank = add_bank_routes(app, clock)
    return app


def _payment_routes(app: FastAPI, provider: PaymentProvider) -> None:
    @app.post("/v1/payments", status_code=201)
    async def create_payment(
        body: PaymentCreate,
        response: Response,
        idempotency_key: Annotated[str, Header(min_length=1, max_length=128)],
    ) -> PaymentView:
        view, created = await provider.create_payment(body, idempotency_key)
        if not created:
            response.status_code = 200
        return view

    @app.get("/v1/payments/{payment_id}")
    async def get_payment(payment_id: str) -> PaymentView:
        return provider.payment(payment_id).view

    @app.post("/v1/payments/{payment_id}/simulate")
    async def simulate(payment_id: str, body: SimulateRequest) -> SimulateResult:
        return await provider.simulate(payment_id, body)


def _refund_and_statement_routes(app: FastAPI, provider: PaymentProvider) -> None:
    @app.post("/v1/refunds", status_code=201)
    async def create_refund(body: RefundCreate, response: Response) -> RefundView:
        refund, created = await provider.refund(body)
        if not created:
            response.status_code = 200
        return refund

    @app.get("/v1/statements/{day}")
    async def statement(day: dt.date) -> Statement:
        return await provider.statement(day)

    @app.put("/_sandbox/refund-refusals")
    async def refuse_refunds(body: RefundRefusals) -> RefundRefusals:
        provider.refusals = body.model_copy()
        return provider.refusals

    @app.post("/_sandbox/statement-mismatch", status_code=201)
    async def plant_mismatch(body: MismatchCreate) -> MismatchCreate:
        return await provider.plant_mismatch(body)
