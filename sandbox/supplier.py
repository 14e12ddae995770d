"""The sandbox supplier portal: where houtai sends approved purchase orders (DESIGN §6.5).

An order is accepted once per PO number: sending the same PO again (a retried activity) answers
the order already taken (200), never a second one; the same number with different lines is a
409. Faults (latency, 503s, stalls) apply as on the other sandboxes."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from dataclasses import dataclass, field

from fastapi import FastAPI, Response
from pydantic import BaseModel, Field

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


class SupplierConfig(SandboxConfig):
    name: str = "供应商门户 (sandbox)"


class OrderLine(StrictModel):
    line_no: int = Field(ge=1)
    sku_code: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0)
    unit_price_fen: int = Field(ge=0)
    ship_to: str = Field(min_length=1, max_length=64, description="the receiving warehouse")


class OrderCreate(StrictModel):
    po_no: str = Field(min_length=1, max_length=32)
    supplier_code: str = Field(min_length=1, max_length=32)
    lines: list[OrderLine] = Field(min_length=1, max_length=1000)


class OrderAck(BaseModel):
    supplier_order_no: str
    po_no: str
    supplier_code: str
    lines: list[OrderLine]
    status: str = "accepted"
    accepted_at: dt.datetime


@dataclass
class Portal:
    clock: Clock
    orders: dict[str, OrderAck] = field(default_factory=dict)  # by PO number
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def take(self, body: OrderCreate) -> tuple[OrderAck, bool]:
        async with self._lock:
            if (done := self.orders.get(body.po_no)) is not None:
                if (done.supplier_code, done.lines) != (body.supplier_code, body.lines):
                    raise SandboxError(409, "PO number reused", "for a different order")
                return done, False
            ack = OrderAck(
                supplier_order_no=f"SO-SUP-{uuid.uuid4().hex[:10].upper()}",
                accepted_at=self.clock(),
                **body.model_dump(),
            )
            self.orders[body.po_no] = ack
            return ack, True


def create_supplier_app(config: SupplierConfig, *, clock: Clock = utc_now) -> FastAPI:
    portal = Portal(clock)
    faults = FaultInjector(config.faults, config.seed)
    webhooks = WebhookSender(config.webhook_secret.get_secret_value().encode(), config.webhook)
    app = sandbox_app(config.name, faults, webhooks, lambda path: path.startswith("/v1/"))
    app.state.portal = portal

    @app.post("/v1/orders", status_code=201)
    async def take_order(body: OrderCreate, response: Response) -> OrderAck:
        ack, created = await portal.take(body)
        if not created:
            response.status_code = 200
        return ack

    @app.get("/v1/orders/{po_no}")
    async def get_order(po_no: str) -> OrderAck:
        if (ack := portal.orders.get(po_no)) is None:
            raise SandboxError(404, "Unknown order", f"no order {po_no}")
        return ack

    return app
