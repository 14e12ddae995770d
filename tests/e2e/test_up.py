"""`houtai up` as a user runs it: a subprocess on free ports, probed only over HTTP, stopped with
Ctrl-C (SIGINT), started again on the same data."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time

import httpx
import pytest

from tests.support import totp
from tests.support.orders import known_customer_now
from tests.support.up import READY_TIMEOUT_S, Up
from workers.embedded import port_open
from workers.seed import DEMO_PASSWORD, DEMO_STOREFRONT_KEY

pytestmark = pytest.mark.e2e


def admin_sign_in(up: Up) -> dict[str, str]:
    """The demo admin's password and a fresh code of its published TOTP secret."""
    return {
        "username": "admin",
        "password": DEMO_PASSWORD,
        "totp_code": totp.code_now(up, "admin"),
    }


def test_up_serves_the_back_office_stops_cleanly_and_keeps_its_data(up: Up) -> None:
    seconds = up.start()
    assert seconds < READY_TIMEOUT_S
    for expected in (
        "/console",
        "/docs",
        "Temporal UI",
        "admin",
        DEMO_PASSWORD,
        DEMO_STOREFRONT_KEY,
    ):
        assert expected in up.text, expected

    with httpx.Client(base_url=up.base, timeout=30) as http:
        assert http.get("/readyz?deep=true").status_code == 200
        assert "houtai_csrf" in http.get("/console/login").headers["set-cookie"]
        login = http.post("/v1/auth/login", json=admin_sign_in(up))
        assert login.status_code == 200, login.text
        staff = {"Authorization": f"Bearer {login.json()['access_token']}"}
        assert http.get("/v1/skus", headers=staff).json()["count"] >= 45
        shop = {"X-API-Key": DEMO_STOREFRONT_KEY}
        stock = http.get("/v1/stock", headers=shop, params={"limit": 500}).json()
        assert sum(row["on_hand"] for row in stock["data"]) > 0
        assert_an_order_is_placed_and_paid(http, up.ports["HOUTAI_EMBEDDED__SANDBOX_PAYMENTS_PORT"])
        # The embedded Temporal keeps its state in SQLite with a write-ahead log.
        store = up.data_dir / "temporal.sqlite"
        with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        created = http.post(
            "/v1/categories", json={"code": "e2e-kept", "name": "重启后仍在"}, headers=staff
        )
        assert created.status_code == 201, created.text

    assert up.stop() == 0
    assert "stopped" in up.text
    assert_json_lines(up, "api", "Uvicorn running on")
    assert_json_lines(up, "worker", "worker polling")
    for name, port in up.ports.items():
        assert not port_open(port), f"{name} {port} still open after Ctrl-C"

    up.start()
    assert "database not empty" in up.text
    with httpx.Client(base_url=up.base, timeout=30) as http:
        login = http.post("/v1/auth/login", json=admin_sign_in(up))
        staff = {"Authorization": f"Bearer {login.json()['access_token']}"}
        codes = [
            c["code"]
            for c in http.get("/v1/categories", headers=staff, params={"limit": 500}).json()["data"]
        ]
        assert "e2e-kept" in codes
    assert up.stop() == 0


def assert_json_lines(up: Up, process: str, expected: str) -> None:
    """Every line the process logged is one JSON object (uvicorn's own lines too), with the
    fields a log pipeline reads, and `expected` is among the messages."""
    lines = (up.data_dir / "logs" / f"{process}.log").read_text().splitlines()
    records = []
    for line in lines:
        assert line.startswith("{"), f"{process}.log: not JSON: {line}"
        records.append(json.loads(line))
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert any(expected in r["message"] for r in records), [r["message"] for r in records]


def assert_an_order_is_placed_and_paid(http: httpx.Client, sandbox_port: int) -> None:
    """The order workflow, the worker and the sandbox provider all run under houtai up."""
    shop = {"X-API-Key": DEMO_STOREFRONT_KEY}
    sku = next(
        row["sku_id"]
        for row in http.get("/v1/stock", headers=shop, params={"limit": 500}).json()["data"]
        if row["sellable"] > 0
    )
    known_customer_now(http, 7, shop)
    placed = http.post(
        "/v1/orders",
        headers=shop,
        json={
            "client_order_key": "e2e-1",
            "customer_id": 7,
            "lines": [{"sku_id": sku, "quantity": 1}],
            "address": {
                "name": "李四",
                "phone": "13900000000",
                "region_code": "310104",
                "detail": "徐汇区漕溪北路 1 号",
            },
        },
    )
    assert placed.status_code == 201, placed.text
    order_no = placed.json()["order_no"]
    payment = http.post(f"/v1/orders/{order_no}/payments", headers=shop)
    assert payment.status_code == 201, payment.text
    simulated = httpx.post(
        f"http://127.0.0.1:{sandbox_port}/v1/payments/{payment.json()['payment_id']}/simulate",
        json={"outcome": "succeeded"},
        timeout=30,
    )
    assert simulated.status_code == 200, simulated.text
    deadline = time.monotonic() + 60
    status = ""
    while time.monotonic() < deadline:
        status = http.get(f"/v1/orders/{order_no}", headers=shop).json()["status"]
        if status == "fulfilling":
            return
        time.sleep(0.3)
    raise AssertionError(f"order {order_no} stuck in {status}")
