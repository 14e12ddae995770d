"""A payment whose webhook never reaches `houtai up` (the provider gave up while the API was
away) still pays its order: the worker's hand-off sweep (workers/handoffs.py) finds it in the
provider's statement and delivers it, once."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.e2e.test_up_supervision import ADDRESS, SHOP
from tests.support.orders import known_customer_now
from tests.support.up import Up

pytestmark = pytest.mark.e2e
SWEPT_WITHIN_S = 240  # the sweep's grace (60 s) and interval (30 s), on a loaded machine


def test_up_delivers_a_payment_whose_webhook_was_lost(up: Up) -> None:
    up.start()
    sandbox = f"http://127.0.0.1:{up.ports['HOUTAI_EMBEDDED__SANDBOX_PAYMENTS_PORT']}"
    with httpx.Client(base_url=up.base, timeout=60) as http:
        sku = next(
            row["sku_id"]
            for row in http.get("/v1/stock", headers=SHOP, params={"limit": 500}).json()["data"]
            if row["sellable"] > 0
        )
        known_customer_now(http, 7)
        body = {"client_order_key": "lost-webhook", "customer_id": 7, "address": ADDRESS,
                "lines": [{"sku_id": sku, "quantity": 1}]}  # fmt: skip
        deadline = time.monotonic() + 90
        while (placed := http.post("/v1/orders", headers=SHOP, json=body)).status_code == 503:
            assert time.monotonic() < deadline, placed.text
        assert placed.status_code == 201, placed.text
        order_no = str(placed.json()["order_no"])
        payment = http.post(f"/v1/orders/{order_no}/payments", headers=SHOP)
        assert payment.status_code == 201, payment.text
        # The provider's webhooks are lost (an hour's delay: the test is over by then).
        faults = httpx.put(f"{sandbox}/_sandbox/faults", json={"webhook_delay_ms": 3_600_000})
        assert faults.status_code == 200, faults.text
        simulated = httpx.post(
            f"{sandbox}/v1/payments/{payment.json()['payment_id']}/simulate",
            json={"outcome": "succeeded"},
            timeout=30,
        )
        assert simulated.status_code == 200, simulated.text
        time.sleep(2)
        path = f"/v1/orders/{order_no}"
        assert http.get(path, headers=SHOP).json()["status"] == "awaiting_payment"

        deadline = time.monotonic() + SWEPT_WITHIN_S
        while (shown := http.get(path, headers=SHOP).json())["status"] == "awaiting_payment":
            assert time.monotonic() < deadline, f"{order_no} still awaiting payment"
            time.sleep(2)
        assert shown["status"] in ("paid", "fulfilling"), shown["status"]
        assert shown["paid_fen"] == shown["payable_fen"] and shown["refunded_fen"] == 0
