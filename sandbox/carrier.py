"""Sandbox carrier: a 顺丰 / 中通-like express service on loopback.

Merchant API (subject to the configured faults, including `timeout_rate`: the work is done, the
answer comes late): create a waybill (idempotent by package_key: every call for a package gets
the same waybill, also after a stalled first call), cancel it before pickup (cancelling it again
answers the same cancelled waybill), and poll tracking. `GET /_sandbox/waybills/{waybill_no}`
shows the carrier's books on a waybill (how many cancels it was asked for).
`POST /_sandbox/tracking/{tracking_no}/events` plays the courier: it appends an event and pushes
a signed snapshot with the full event list to the waybill's subscribe_url (unless `push` is
false, then the caller has to poll). `POST /v1/tracking/{tracking_no}/subscriptions` lets anyone
follow a parcel it did not ship itself (a customer's return, 快递100-style): later events are
pushed to that URL too, with the subscriber's own reference as `package_key`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Annotated, Literal

import httpx
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

EventCode = Literal["picked_up", "in_transit", "out_for_delivery", "delivered", "lost", "refused"]
TrackingStatus = Literal["created", "cancelled", EventCode]

_DESCRIPTIONS: dict[str, str] = {
    "picked_up": "快件已揽收",
    "in_transit": "快件运输中",
    "out_for_delivery": "快件派送中",
    "delivered": "快件已签收",
    "lost": "快件丢失",
    "refused": "收件人拒收",
}


class CarrierConfig(SandboxConfig):
    name: str = "顺丰速运 (sandbox)"
    tracking_prefix: str = Field("SF", pattern=r"^[A-Z]{1,4}$")


class Party(StrictModel):
    name: str = Field(min_length=1, max_length=64)
    phone: str = Field(pattern=r"^[0-9+\-]{5,20}$")
    region_code: str = Field(pattern=r"^\d{6}$", description="administrative division code")
    address: str = Field(min_length=1, max_length=256)


class WaybillCreate(StrictModel):
    package_key: str = Field(min_length=1, max_length=64, description="the caller's package")
    carrier_service: str = Field(min_length=1, max_length=32)
    sender: Party
    receiver: Party
    weight_g: Annotated[int, Field(gt=0, strict=True)]
    tracking_no: str | None = Field(
        None, pattern=r"^[A-Z0-9]{6,32}$", description="from the shipper's pre-purchased range"
    )
    subscribe_url: str | None = Field(None, pattern=r"^https?://", max_length=2048)


class Label(BaseModel):
    format: Literal["text"] = "text"
    content: str


class WaybillView(BaseModel):
    waybill_no: str
    tracking_no: str
    package_key: str
    carrier_service: str
    status: Literal["created", "cancelled"] = "created"
    label: Label
    created_at: dt.datetime
    cancelled_at: dt.datetime | None = None


class TrackingEvent(BaseModel):
    code: EventCode
    description: str
    location: str
    occurred_at: dt.datetime


class Tracking(BaseModel):
    tracking_no: str
    waybill_no: str
    status: TrackingStatus
    events: list[TrackingEvent]


class EventCreate(StrictModel):
    code: EventCode
    description: str | None = Field(None, max_length=256)
    location: str = Field("", max_length=128)
    occurred_at: dt.datetime | None = Field(None, description="default: now")
    push: bool = Field(True, description="false: the carrier stays silent, the caller must poll")


class SubscriptionCreate(StrictModel):
    subscribe_url: str = Field(pattern=r"^https?://", max_length=2048)
    reference: str = Field(min_length=1, max_length=64, description="pushed as package_key")


@dataclass
class _Waybill:
    view: WaybillView
    subscribe_url: str | None
    events: list[TrackingEvent]
    followers: dict[str, str] | None = None  # reference → URL
    requests: int = 1  # calls that asked for this package's waybill
    cancel_requests: int = 0  # the carrier's books: every cancel asked for this waybill


class BookEntry(BaseModel):
    """A line of the carrier's own book: one waybill, and how often its package was asked for."""

    waybill_no: str
    tracking_no: str
    package_key: str
    status: TrackingStatus
    requests: int
    events: list[EventCode]


class Book(BaseModel):
    waybills: list[BookEntry]


class WaybillBooks(BaseModel):
    """What the carrier's books hold on a waybill (tests read it: `GET /_sandbox/waybills/…`)."""

    waybill: WaybillView
    cancel_requests: int


def _mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"


def _label(carrier: str, body: WaybillCreate, waybill_no: str, tracking_no: str) -> Label:
    s, r = body.sender, body.receiver
    lines = [
        f"{carrier} · {body.carrier_service}",
        f"运单号 {tracking_no}    waybill {waybill_no}",
        f"收 {r.name} {_mask_phone(r.phone)} [{r.region_code}]",
        f"   {r.address}",
        f"寄 {s.name} {_mask_phone(s.phone)} [{s.region_code}]",
        f"重量 {body.weight_g} g    包裹 {body.package_key}",
    ]
    return Label(content="\n".join(lines))


class Carrier:
    """The carrier's waybills and tracking, in memory, every change under one lock."""

    def __init__(
        self, config: CarrierConfig, transport: httpx.AsyncBaseTransport | None, clock: Clock
    ) -> None:
        self.config = config
        self.clock = clock
        self.faults = FaultInjector(config.faults, config.seed)
        secret = config.webhook_secret.get_secret_value().encode()
        self.webhooks = WebhookSender(secret, config.webhook, transport)
        self.waybills: dict[str, _Waybill] = {}  # by package_key
        self._by_tracking: dict[str, _Waybill] = {}
        self._by_waybill_no: dict[str, _Waybill] = {}
        self._lock = asyncio.Lock()

    def _new_number(self, prefix: str, taken: dict[str, _Waybill]) -> str:
        while True:
            number = f"{prefix}{secrets.randbelow(10**12):012d}"
            if number not in taken:
                return number

    async def create_waybill(self, body: WaybillCreate) -> tuple[WaybillView, bool]:
        async with self._lock:
            known = self.waybills.get(body.package_key)
            if known is not None:
                known.requests += 1
                return known.view, False
            if body.tracking_no is not None and body.tracking_no in self._by_tracking:
                detail = f"{body.tracking_no} is already on another package's waybill"
                raise SandboxError(409, "Tracking number in use", detail)
            tracking_no = body.tracking_no or self._new_number(
                self.config.tracking_prefix, self._by_tracking
            )
            waybill_no = self._new_number("WB", self._by_waybill_no)
            view = WaybillView(
                waybill_no=waybill_no,
                tracking_no=tracking_no,
                package_key=body.package_key,
                carrier_service=body.carrier_service,
                label=_label(self.config.name, body, waybill_no, tracking_no),
                created_at=self.clock(),
            )
            waybill = _Waybill(view, body.subscribe_url, [])
            self.waybills[body.package_key] = waybill
            self._by_tracking[tracking_no] = waybill
            self._by_waybill_no[waybill_no] = waybill
            return view, True

    async def cancel(self, waybill_no: str) -> WaybillView:
        async with self._lock:
            waybill = self._by_waybill_no.get(waybill_no)
            if waybill is None:
                raise SandboxError(404, "Unknown waybill", f"no waybill {waybill_no}")
            waybill.cancel_requests += 1
            if waybill.view.status == "cancelled":  # asked again: the same answer
                return waybill.view
            if waybill.events:
                detail = f"{waybill_no} is already {waybill.events[-1].code}"
                raise SandboxError(409, "Already picked up", detail)
            waybill.view.status = "cancelled"
            waybill.view.cancelled_at = self.clock()
            return waybill.view

    async def books(self, waybill_no: str) -> WaybillBooks:
        async with self._lock:
            waybill = self._by_waybill_no.get(waybill_no)
            if waybill is None:
                raise SandboxError(404, "Unknown waybill", f"no waybill {waybill_no}")
            return WaybillBooks(waybill=waybill.view, cancel_requests=waybill.cancel_requests)

    def _waybill_of(self, tracking_no: str) -> _Waybill:
        waybill = self._by_tracking.get(tracking_no)
        if waybill is None:
            raise SandboxError(404, "Unknown tracking number", f"no waybill for {tracking_no}")
        return waybill

    async def book(self) -> Book:
        async with self._lock:
            return Book(
                waybills=[
                    BookEntry(
                        waybill_no=w.view.waybill_no,
                        tracking_no=w.view.tracking_no,
                        package_key=w.view.package_key,
                        status=self._snapshot(w).status,
                        requests=w.requests,
                        events=[e.code for e in w.events],
                    )
                    for w in self.waybills.values()
                ]
            )

    async def tracking(self, tracking_no: str) -> Tracking:
        async with self._lock:
            return self._snapshot(self._waybill_of(tracking_no))

    @staticmethod
    def _snapshot(waybill: _Waybill) -> Tracking:
        events = list(waybill.events)
        status: TrackingStatus = events[-1].code if events else waybill.view.status
        view = waybill.view
        return Tracking(
            tracking_no=view.tracking_no, waybill_no=view.waybill_no, status=status, events=events
        )

    async def subscribe(self, tracking_no: str, body: SubscriptionCreate) -> Tracking:
        async with self._lock:
            waybill = self._waybill_of(tracking_no)
            waybill.followers = {**(waybill.followers or {}), body.reference: body.subscribe_url}
            return self._snapshot(waybill)

    async def add_event(self, tracking_no: str, body: EventCreate) -> Tracking:
        async with self._lock:
            waybill = self._waybill_of(tracking_no)
            if waybill.view.status == "cancelled":
                raise SandboxError(409, "Waybill cancelled", f"{tracking_no} was cancelled")
            event = TrackingEvent(
                code=body.code,
                description=body.description or _DESCRIPTIONS[body.code],
                location=body.location,
                occurred_at=body.occurred_at or self.clock(),
            )
            waybill.events.append(event)
            snapshot = self._snapshot(waybill)
        targets = dict(waybill.followers or {})
        if waybill.subscribe_url:
            targets[waybill.view.package_key] = waybill.subscribe_url
        for reference, url in targets.items() if body.push else ():
            payload = {
                "event": "tracking.updated",
                "package_key": reference,
                **snapshot.model_dump(mode="json"),
            }
            self.webhooks.dispatch(url, payload, self.faults.faults)
        return snapshot


def create_carrier_app(
    config: CarrierConfig,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock = utc_now,
) -> FastAPI:
    """The carrier as an ASGI app. `transport` routes tracking pushes (default: the network);
    `clock` stamps waybills and events."""
    carrier = Carrier(config, transport, clock)
    app = sandbox_app(
        "houtai sandbox carrier", carrier.faults, carrier.webhooks, lambda p: p.startswith("/v1/")
    )
    app.state.carrier = carrier

    @app.post("/v1/waybills", status_code=201)
    async def create_waybill(body: WaybillCreate, response: Response) -> WaybillView:
        view, created = await carrier.create_waybill(body)
        if not created:
            response.status_code = 200
        return view

    @app.post("/v1/waybills/{waybill_no}/cancel")
    async def cancel_waybill(waybill_no: str) -> WaybillView:
        return await carrier.cancel(waybill_no)

    @app.get("/_sandbox/waybills/{waybill_no}")
    async def books(waybill_no: str) -> WaybillBooks:
        return await carrier.books(waybill_no)

    @app.get("/v1/tracking/{tracking_no}")
    async def tracking(tracking_no: str) -> Tracking:
        return await carrier.tracking(tracking_no)

    @app.post("/v1/tracking/{tracking_no}/subscriptions", status_code=201)
    async def subscribe(tracking_no: str, body: SubscriptionCreate) -> Tracking:
        return await carrier.subscribe(tracking_no, body)

    @app.get("/_sandbox/waybills")
    async def book() -> Book:
        """The carrier's own book of every waybill it issued (to check a caller's figures)."""
        return await carrier.book()

    @app.post("/_sandbox/tracking/{tracking_no}/events", status_code=201)
    async def add_event(tracking_no: str, body: EventCreate) -> Tracking:
        return await carrier.add_event(tracking_no, body)

    return app
