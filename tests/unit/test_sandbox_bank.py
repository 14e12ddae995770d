"""The sandbox bank on the payment provider's host: a transfer per key, never two, and the
provider client's transfer call (with its timeout) against the real app."""

from __future__ import annotations

import httpx
import pytest

from activities.providers import ProviderError, SandboxPaymentProvider
from sandbox.payments import PaymentConfig, create_payment_app

BODY = {
    "transfer_key": "PAY-PO1",
    "payee_name": "上海良源食品有限公司",
    "payee_account": "SUP001",
    "amount_fen": 12_345,
}


def _client() -> httpx.AsyncClient:
    app = create_payment_app(PaymentConfig(webhook_secret="s" * 40))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bank")


async def test_a_transfer_key_makes_one_transfer() -> None:
    async with _client() as bank:
        first = await bank.post("/v1/transfers", json=BODY)
        again = await bank.post("/v1/transfers", json=BODY)
        other = await bank.post("/v1/transfers", json={**BODY, "amount_fen": 1})
        listed = (await bank.get("/v1/transfers")).json()
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["transfer_id"] == first.json()["transfer_id"]
    assert other.status_code == 409
    assert [t["amount_fen"] for t in listed] == [12_345]


async def test_the_provider_client_pays_once_per_key() -> None:
    app = create_payment_app(PaymentConfig(webhook_secret="s" * 40))
    provider = SandboxPaymentProvider("http://bank", transport=httpx.ASGITransport(app=app))
    try:
        paid = await provider.transfer(
            transfer_key="PAY-PO2", payee_name="供应商", payee_account="SUP002", amount_fen=500,
            memo="PO2",
        )  # fmt: skip
        repeat = await provider.transfer(
            transfer_key="PAY-PO2", payee_name="供应商", payee_account="SUP002", amount_fen=500,
            memo="PO2",
        )  # fmt: skip
        with pytest.raises(ProviderError):
            await provider.transfer(
                transfer_key="PAY-PO2", payee_name="供应商", payee_account="SUP002", amount_fen=1,
                memo="PO2",
            )  # fmt: skip
    finally:
        await provider.aclose()
    assert repeat == paid
    assert len(app.state.bank.transfers) == 1
