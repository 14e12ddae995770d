"""Every client of an outside service shares the process's one TLS context (core/http.py)."""

from __future__ import annotations

import ssl

import httpx

from activities.providers import SandboxCarrier, SandboxPaymentProvider, SandboxSupplier
from core.http import async_client, tls_context


def _context_of(client: httpx.AsyncClient) -> ssl.SSLContext:
    transport = client._transport
    assert isinstance(transport, httpx.AsyncHTTPTransport)
    context = transport._pool._ssl_context
    assert context is not None
    return context


async def test_clients_share_one_context_that_still_verifies_servers() -> None:
    shared = tls_context()
    assert shared.verify_mode == ssl.CERT_REQUIRED and shared.check_hostname
    assert shared.cert_store_stats()["x509_ca"] > 0  # the CA bundle is loaded
    first, second = async_client(timeout=1), async_client(base_url="http://x.test", timeout=1)
    async with first, second:
        assert _context_of(first) is shared and _context_of(second) is shared
    async with httpx.AsyncClient() as plain:  # what each client would otherwise build
        assert _context_of(plain) is not shared


async def test_the_providers_clients_use_the_shared_context() -> None:
    shared = tls_context()
    for provider in (
        SandboxPaymentProvider("http://pay.test"),
        SandboxCarrier("http://carrier.test"),
        SandboxSupplier("http://supplier.test"),
    ):
        try:
            assert _context_of(provider._http) is shared
        finally:
            await provider.aclose()
