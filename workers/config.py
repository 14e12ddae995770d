"""Settings → the payloads and clients the API and workers are built with (composition only)."""

from __future__ import annotations

from activities.providers import SandboxCarrier, SandboxPaymentProvider, SandboxSupplier
from core.settings import Settings

PAYMENT_WEBHOOK = "/v1/webhooks/payments/{provider}"
CARRIER_WEBHOOK = "/v1/webhooks/carriers/{carrier}"


def payment_provider(settings: Settings) -> SandboxPaymentProvider:
    return SandboxPaymentProvider(settings.payments.url, timeout_s=settings.payments.timeout_s)


def carrier_client(settings: Settings) -> SandboxCarrier:
    return SandboxCarrier(settings.carrier.url, timeout_s=settings.carrier.timeout_s)


def supplier_client(settings: Settings) -> SandboxSupplier:
    return SandboxSupplier(settings.supplier.url, timeout_s=settings.supplier.timeout_s)


def payment_notify_url(settings: Settings) -> str:
    path = PAYMENT_WEBHOOK.format(provider=settings.payments.provider)
    return settings.public_url.rstrip("/") + path


def tracking_webhook_url(settings: Settings) -> str:
    return settings.public_url.rstrip("/") + CARRIER_WEBHOOK.format(carrier="sandbox")
