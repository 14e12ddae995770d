"""`houtai up` as a user runs it: a subprocess on free ports, probed only over HTTP, stopped with
Ctrl-C (SIGINT), started again on the same data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import totp
from workers.embedded import free_port, port_open
from workers.seed import DEMO_PASSWORD, DEMO_STOREFRONT_KEY

pytestmark = pytest.mark.e2e
READY_TIMEOUT_S = 150


class Up:
    def __init__(self, data_dir: Path) -> None:
        self.ports = {
            "HOUTAI_API__PORT": free_port(),
            "HOUTAI_EMBEDDED__POSTGRES_PORT": free_port(),
            "HOUTAI_EMBEDDED__TEMPORAL_PORT": free_port(),
            "HOUTAI_EMBEDDED__TEMPORAL_UI_PORT": free_port(),
            "HOUTAI_EMBEDDED__SANDBOX_PAYMENTS_PORT": free_port(),
            "HOUTAI_EMBEDDED__SANDBOX_CARRIER_PORT": free_port(),
            "HOUTAI_EMBEDDED__SANDBOX_SUPPLIER_PORT": free_port(),
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOUTAI_")}
        env.update({k: str(v) for k, v in self.ports.items()})
        env["HOUTAI_DATA_DIR"] = str(data_dir)
        self.env = env
        self.base = f"http://127.0.0.1:{self.ports['HOUTAI_API__PORT']}"
        self.output: list[str] = []
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> float:
        houtai = Path(sys.executable).parent / "houtai"
        started = time.monotonic()
        self.output.clear()
        self.proc = subprocess.Popen(
            [str(houtai), "up"],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        ready = threading.Event()

        def read() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                self.output.append(line)
                if "Press Ctrl-C to stop" in line:  # the banner ends with this line
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(READY_TIMEOUT_S):
            self.proc.kill()
            raise AssertionError("houtai up never became ready:\n" + "".join(self.output))
        return time.monotonic() - started

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(90)
        time.sleep(0.5)
        return code

    @property
    def text(self) -> str:
        return "".join(self.output)


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    stack = Up(tmp_path / "houtai-data")
    yield stack
    if stack.proc is not None and stack.proc.poll() is None:
        stack.proc.kill()
        stack.proc.wait()


def admin_sign_in(up: Up) -> dict[str, str]:
    """The demo admin's password and a fresh code of its published TOTP secret."""
    return {
        "username": "admin",
        "password": DEMO_PASSWORD,
        "totp_code": totp.code_now(id(up), "admin"),
    }


def test_up_serves_the_back_office_stops_cleanly_and_keeps_its_data(up: Up) -> None:
    seconds = up.start()
    assert seconds < READY_TIMEOUT_S
    for expected in ("/docs", "Temporal UI", "admin", DEMO_PASSWORD, DEMO_STOREFRONT_KEY):
        assert expected in up.text, expected

    with httpx.Client(base_url=up.base, timeout=30) as http:
        assert http.get("/readyz?deep=true").status_code == 200
        login = http.post("/v1/auth/login", json=admin_sign_in(up))
        assert login.status_code == 200, login.text
        staff = {"Authorization": f"Bearer {login.json()['access_token']}"}
        assert http.get("/v1/skus", headers=staff).json()["count"] >= 45
        shop = {"X-API-Key": DEMO_STOREFRONT_KEY}
        stock = http.get("/v1/stock", headers=shop, params={"limit": 500}).json()
        assert sum(row["on_hand"] for row in stock["data"]) > 0
        assert_an_order_is_placed_and_paid(http, up.ports["HOUTAI_EMBEDDED__SANDBOX_PAYMENTS_PORT"])
        created = http.post(
            "/v1/categories", json={"code": "e2e-kept", "name": "重启后仍在"}, headers=staff
        )
        assert created.status_code == 201, created.text

    assert up.stop() == 0
    assert "stopped" in up.text
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


def assert_an_order_is_placed_and_paid(http: httpx.Client, sandbox_port: int) -> None:
    """The order workflow, the worker and the sandbox provider all run under houtai up."""
    shop = {"X-API-Key": DEMO_STOREFRONT_KEY}
    sku = next(
        row["sku_id"]
        for row in http.get("/v1/stock", headers=shop, params={"limit": 500}).json()["data"]
        if row["sellable"] > 0
    )
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
