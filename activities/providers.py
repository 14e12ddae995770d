"""Adapters to the outside world (DESIGN §8): small protocols and their HTTP clients. Every call
has a timeout; provider-side idempotency keys come from our business numbers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Literal, Protocol

import httpx
from pydantic import BaseModel

from core.http import async_client
from models.contracts.order import ShippingAddress
from models.contracts.shipment import TrackingEvent, TrackingSnapshot


class ProviderError(Exception):
    """The provider refused the request for a business reason (4xx other than 408/429)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


class ProviderPayment(BaseModel):
    payment_id: str
    pay_token: str
    amount_fen: int
    currency: str


class ProviderPaymentState(BaseModel):
    """A payment as the provider's books show it: what it can vouch for."""

    payment_id: str
    status: str
    merchant_order_no: str
    transaction_id: str | None = None
    paid_fen: int = 0
    currency: str


class ProviderRefund(BaseModel):
    refund_id: str
    amount_fen: int


class ProviderStatementEntry(BaseModel):
    """One line of the provider's daily statement (a payment or a refund it booked)."""

    type: Literal["payment", "refund"]
    entry_id: str  # the transaction id of a payment, the provider's refund id of a refund
    refund_no: str | None = None  # a refund's number as we sent it
    payment_id: str | None = None  # the provider's payment (a refund's: the one it refunds)
    merchant_order_no: str
    amount_fen: int
    currency: str
    occurred_at: datetime


class PaymentProvider(Protocol):
    name: str

    async def create_payment(
        self, *, order_no: str, amount_fen: int, currency: str, notify_url: str
    ) -> ProviderPayment: ...

    async def refund(
        self, *, payment_id: str, refund_no: str, amount_fen: int, reason: str
    ) -> ProviderRefund: ...

    async def payment(self, payment_id: str) -> ProviderPaymentState:
        """The payment as the provider's books show it (ProviderError when it has none)."""
        ...

    async def transfer(
        self, *, transfer_key: str, payee_name: str, payee_account: str, amount_fen: int, memo: str
    ) -> ProviderTransfer: ...

    async def statement(self, *, start: datetime, end: datetime) -> list[ProviderStatementEntry]:
        """The entries of the provider's statement days that overlap [start, end)."""
        ...


class ProviderTransfer(BaseModel):
    transfer_id: str
    transfer_key: str
    amount_fen: int
    occurred_at: datetime


class CarrierWaybill(BaseModel):
    waybill_no: str
    tracking_no: str


class CarrierClient(Protocol):
    async def create_waybill(
        self,
        *,
        package_no: str,
        sender: ShippingAddress,
        receiver: ShippingAddress,
        weight_g: int,
        tracking_no: str | None,
        subscribe_url: str | None,
    ) -> CarrierWaybill: ...

    async def cancel_waybill(self, waybill_no: str) -> None:
        """Void a waybill not yet picked up; one already cancelled is success (a retry after a
        lost answer). ProviderError when the carrier refuses (already picked up, unknown)."""
        ...

    async def tracking(self, tracking_no: str) -> TrackingSnapshot: ...

    async def subscribe(self, *, tracking_no: str, reference: str, url: str) -> None: ...


def _raise_for(answer: httpx.Response) -> dict[str, Any]:
    if answer.status_code >= 500 or answer.status_code in (408, 429):
        answer.raise_for_status()  # infrastructure: the activity retries
    if answer.status_code >= 400:
        raise ProviderError(answer.status_code, answer.text[:500])
    body: dict[str, Any] = answer.json()
    return body


class SandboxPaymentProvider:
    """The sandbox provider's merchant API (sandbox/payments.py), over HTTP."""

    name = "sandbox"

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = async_client(base_url=base_url, timeout=timeout_s, transport=transport)

    async def create_payment(
        self, *, order_no: str, amount_fen: int, currency: str, notify_url: str
    ) -> ProviderPayment:
        answer = await self._http.post(
            "/v1/payments",
            json={
                "merchant_order_no": order_no,
                "amount_fen": amount_fen,
                "currency": currency,
                "notify_url": notify_url,
                "description": f"order {order_no}",
            },
            headers={"Idempotency-Key": f"pay-{order_no}-{amount_fen}"},
        )
        return ProviderPayment.model_validate(_raise_for(answer))

    async def refund(
        self, *, payment_id: str, refund_no: str, amount_fen: int, reason: str
    ) -> ProviderRefund:
        answer = await self._http.post(
            "/v1/refunds",
            json={
                "payment_id": payment_id,
                "refund_no": refund_no,
                "amount_fen": amount_fen,
                "reason": reason[:256],
            },
        )
        return ProviderRefund.model_validate(_raise_for(answer))

    async def payment(self, payment_id: str) -> ProviderPaymentState:
        answer = await self._http.get(f"/v1/payments/{payment_id}")
        return ProviderPaymentState.model_validate(_raise_for(answer))

    async def transfer(
        self, *, transfer_key: str, payee_name: str, payee_account: str, amount_fen: int, memo: str
    ) -> ProviderTransfer:
        """A bank transfer to a supplier; the key makes a retry the same transfer."""
        answer = await self._http.post(
            "/v1/transfers",
            json={
                "transfer_key": transfer_key,
                "payee_name": payee_name[:200],
                "payee_account": payee_account,
                "amount_fen": amount_fen,
                "memo": memo[:256],
            },
        )
        return ProviderTransfer.model_validate(_raise_for(answer))

    async def statement(self, *, start: datetime, end: datetime) -> list[ProviderStatementEntry]:
        """The sandbox's statement days are UTC dates: every day overlapping [start, end) is
        read whole, so entries a little outside the span come along."""
        entries: list[ProviderStatementEntry] = []
        for day in days_overlapping(start, end, UTC):
            body = _raise_for(await self._http.get(f"/v1/statements/{day.isoformat()}"))
            entries += [ProviderStatementEntry.model_validate(e) for e in body["entries"]]
        return entries

    async def aclose(self) -> None:
        await self._http.aclose()


def days_overlapping(start: datetime, end: datetime, tz: tzinfo) -> list[date]:
    """The calendar days in `tz` that [start, end) touches."""
    first = start.astimezone(tz).date()
    last = (end - timedelta(microseconds=1)).astimezone(tz).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _party(address: ShippingAddress) -> dict[str, str]:
    return {
        "name": address.name[:64],
        "phone": address.phone,
        "region_code": address.region_code,
        "address": address.detail[:256],
    }


class SandboxCarrier:
    """The sandbox carrier (sandbox/carrier.py), over HTTP."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 10.0,
        service: str = "standard",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = async_client(base_url=base_url, timeout=timeout_s, transport=transport)
        self._service = service

    async def create_waybill(
        self,
        *,
        package_no: str,
        sender: ShippingAddress,
        receiver: ShippingAddress,
        weight_g: int,
        tracking_no: str | None,
        subscribe_url: str | None,
    ) -> CarrierWaybill:
        body: dict[str, Any] = {
            "package_key": package_no,
            "carrier_service": self._service,
            "sender": _party(sender),
            "receiver": _party(receiver),
            "weight_g": weight_g,
        }
        if tracking_no:
            body["tracking_no"] = tracking_no
        if subscribe_url:
            body["subscribe_url"] = subscribe_url
        return CarrierWaybill.model_validate(
            _raise_for(await self._http.post("/v1/waybills", json=body))
        )

    async def cancel_waybill(self, waybill_no: str) -> None:
        body = _raise_for(await self._http.post(f"/v1/waybills/{waybill_no}/cancel"))
        if body.get("status") != "cancelled":
            raise ProviderError(200, f"waybill {waybill_no} is {body.get('status')}")

    async def tracking(self, tracking_no: str) -> TrackingSnapshot:
        body = _raise_for(await self._http.get(f"/v1/tracking/{tracking_no}"))
        return TrackingSnapshot(
            tracking_no=body["tracking_no"],
            status=body["status"],
            events=[
                TrackingEvent(
                    code=e["code"],
                    description=e.get("description", ""),
                    location=e.get("location", ""),
                    occurred_at=datetime.fromisoformat(e["occurred_at"]),
                )
                for e in body["events"]
            ],
        )

    async def subscribe(self, *, tracking_no: str, reference: str, url: str) -> None:
        """Follow a parcel we did not ship (a customer's return): pushes come to `url`."""
        _raise_for(
            await self._http.post(
                f"/v1/tracking/{tracking_no}/subscriptions",
                json={"subscribe_url": url, "reference": reference},
            )
        )

    async def aclose(self) -> None:
        await self._http.aclose()


class SupplierAck(BaseModel):
    supplier_order_no: str
    po_no: str
    accepted_at: datetime


class SupplierClient(Protocol):
    async def send_order(
        self, *, po_no: str, supplier_code: str, lines: list[dict[str, Any]]
    ) -> SupplierAck: ...


class SandboxSupplier:
    """The sandbox supplier portal (sandbox/supplier.py), over HTTP, with a timeout."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = async_client(base_url=base_url, timeout=timeout_s, transport=transport)

    async def send_order(
        self, *, po_no: str, supplier_code: str, lines: list[dict[str, Any]]
    ) -> SupplierAck:
        """The PO number makes a retry the same order at the supplier."""
        answer = await self._http.post(
            "/v1/orders", json={"po_no": po_no, "supplier_code": supplier_code, "lines": lines}
        )
        return SupplierAck.model_validate(_raise_for(answer))

    async def aclose(self) -> None:
        await self._http.aclose()
