"""A payment whose webhook never reaches `houtai up` (the provider gave up while the API was
away) still pays its order: the worker's hand-off sweep (workers/handoffs.py) finds it in the
provider's statement and delivers it, once. The chaos bench's case: the API killed, and back
later than the provider's last retry (six attempts over some 15 s in the sandbox)."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import httpx
import pytest

from tests.e2e.test_up_supervision import ADDRESS, SHOP
from tests.support.orders import known_customer_now
from tests.support.up import Up

pytestmark = pytest.mark.e2e
SWEPT_WITHIN_S = 120  # the sweep's grace and interval as set below, on a loaded machine


def sweeping_every_2_s(up: Up, *, grace_s: int) -> None:
    """The sweep's timings shortened for the test (30 s and 60 s by default)."""
    up.env["HOUTAI_WORKER__HANDOFF_INTERVAL_S"] = "2"
    up.env["HOUTAI_WORKER__HANDOFF_PAYMENT_GRACE_S"] = str(grace_s)


def test_up_delivers_a_payment_whose_webhook_was_lost(up: Up) -> None:
    sweeping_every_2_s(up, grace_s=5)
    up.start()
    sandbox = f"http://127.0.0.1:{up.ports['HOUTAI_EMBEDDED__SANDBOX_PAYMENTS_PORT']}"
    with httpx.Client(base_url=up.base, timeout=60) as http:
        order_no, payment = placed_with_payment(http, "lost-webhook")
        # The provider's webhooks are lost (an hour's delay: the test is over by then).
        faults = httpx.put(f"{sandbox}/_sandbox/faults", json={"webhook_delay_ms": 3_600_000})
        assert faults.status_code == 200, faults.text
        pay_at_provider(sandbox, payment)
        time.sleep(2)
        assert status_of(http, order_no) == "awaiting_payment"
        shown = paid_by_the_sweep(http, order_no)
        assert shown["paid_fen"] == shown["payable_fen"] and shown["refunded_fen"] == 0


def test_up_pays_an_order_whose_webhook_came_while_the_api_was_away(up: Up) -> None:
    """The API is killed as the customer pays, and its restart is held back (stopped before it
    listens) longer than the provider keeps retrying: every attempt is refused, the provider
    gives up, and the order is paid all the same."""
    sweeping_every_2_s(up, grace_s=20)  # after the provider's own retries (some 15 s)
    up.start()
    sandbox = f"http://127.0.0.1:{up.ports['HOUTAI_EMBEDDED__SANDBOX_PAYMENTS_PORT']}"
    with httpx.Client(base_url=up.base, timeout=60) as http:
        order_no, payment = placed_with_payment(http, "api-away")
        api = int(up.wait_for(r"api: started, pid (\d+)")[1])
        seen = len(up.output)
        os.kill(api, signal.SIGKILL)
        restarted = int(up.wait_for(r"api: restarted, pid (\d+)", after=seen)[1])
        os.kill(restarted, signal.SIGSTOP)  # not yet listening: the port refuses connections
        try:
            pay_at_provider(sandbox, payment)
            deadline = time.monotonic() + 60
            while not (given_up := webhook_attempts(sandbox)) or len(given_up) < 6:
                assert time.monotonic() < deadline, given_up
                time.sleep(1)
        finally:
            os.kill(restarted, signal.SIGCONT)
        assert all(a["status_code"] is None for a in given_up), given_up  # none got through
        shown = paid_by_the_sweep(http, order_no)
        assert shown["paid_fen"] == shown["payable_fen"] and shown["refunded_fen"] == 0
        assert len(webhook_attempts(sandbox)) == 6  # the provider never tried again


def placed_with_payment(http: httpx.Client, key: str) -> tuple[str, dict[str, Any]]:
    sku = next(
        row["sku_id"]
        for row in http.get("/v1/stock", headers=SHOP, params={"limit": 500}).json()["data"]
        if row["sellable"] > 0
    )
    known_customer_now(http, 7)
    body = {"client_order_key": key, "customer_id": 7, "address": ADDRESS,
            "lines": [{"sku_id": sku, "quantity": 1}]}  # fmt: skip
    deadline = time.monotonic() + 90
    while (placed := http.post("/v1/orders", headers=SHOP, json=body)).status_code == 503:
        assert time.monotonic() < deadline, placed.text
    assert placed.status_code == 201, placed.text
    order_no = str(placed.json()["order_no"])
    payment = http.post(f"/v1/orders/{order_no}/payments", headers=SHOP)
    assert payment.status_code == 201, payment.text
    return order_no, payment.json()


def pay_at_provider(sandbox: str, payment: dict[str, Any]) -> None:
    simulated = httpx.post(
        f"{sandbox}/v1/payments/{payment['payment_id']}/simulate",
        json={"outcome": "succeeded"},
        timeout=30,
    )
    assert simulated.status_code == 200, simulated.text


def webhook_attempts(sandbox: str) -> list[dict[str, Any]]:
    """The provider's attempts to deliver payment.succeeded webhooks."""
    log = httpx.get(f"{sandbox}/_sandbox/deliveries", timeout=30).json()
    return [d for d in log if d["event"] == "payment.succeeded"]


def status_of(http: httpx.Client, order_no: str) -> str:
    return str(http.get(f"/v1/orders/{order_no}", headers=SHOP).json()["status"])


def paid_by_the_sweep(http: httpx.Client, order_no: str) -> dict[str, Any]:
    deadline = time.monotonic() + SWEPT_WITHIN_S
    while True:
        try:
            shown: dict[str, Any] = http.get(f"/v1/orders/{order_no}", headers=SHOP).json()
        except httpx.TransportError:  # the API is still coming back
            shown = {"status": "awaiting_payment"}
        if shown["status"] != "awaiting_payment":
            break
        assert time.monotonic() < deadline, f"{order_no} still awaiting payment"
        time.sleep(2)
    assert shown["status"] in ("paid", "fulfilling"), shown["status"]
    return shown
