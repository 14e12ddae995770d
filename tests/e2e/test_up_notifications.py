"""Notifications under `houtai up` as a user runs it: the demo's channels point at the sandbox
robots and mail server it starts, so a PO submitted over HTTP reaches the approvers' 企业微信 robot
and mailbox through the worker's outbox, once each."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support.up import Up
from workers.seed import DEMO_PASSWORD

pytestmark = pytest.mark.e2e


def signed(http: httpx.Client, username: str) -> dict[str, str]:
    login = http.post("/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def test_a_submitted_po_reaches_the_approvers_robot_and_mailbox_under_up(up: Up) -> None:
    up.start()
    assert "demo notification channels" in up.text
    robots = f"http://127.0.0.1:{up.ports['HOUTAI_EMBEDDED__SANDBOX_ROBOTS_PORT']}"
    with httpx.Client(base_url=up.base, timeout=30) as http:
        buyer = signed(http, "purchasing")
        supplier = http.get("/v1/suppliers", headers=buyer).json()["data"][0]["id"]
        product = http.get(f"/v1/suppliers/{supplier}/products", headers=buyer).json()["data"][0]
        warehouse = http.get("/v1/warehouses", headers=buyer).json()["data"][0]["id"]
        line = {"sku_id": product["sku_id"], "warehouse_id": warehouse, "quantity": 10,
                "unit_price_fen": 1000}  # fmt: skip
        created = http.post(
            "/v1/purchase-orders", json={"supplier_id": supplier, "lines": [line]}, headers=buyer
        )
        assert created.status_code == 201, created.text
        po_no = created.json()["po_no"]
        assert http.post(f"/v1/purchase-orders/{po_no}/submit", headers=buyer).status_code == 200

        deadline = time.monotonic() + 60
        with httpx.Client(base_url=robots, timeout=10) as sandbox:
            while True:
                messages = sandbox.get("/_sandbox/messages").json()["messages"]
                mails = sandbox.get("/_sandbox/mails").json()["mails"]
                robot = [m for m in messages if po_no in m["content"]]
                mailed = [m for m in mails if po_no in m["subject"]]
                if (robot and mailed) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
        assert [m["robot"] for m in robot] == ["purchasing_manager"]
        assert [m["recipients"] for m in mailed] == [["purchasing_manager@houtai.example"]]
    assert up.stop() == 0
