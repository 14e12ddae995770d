"""`houtai up` heals itself: a worker or API killed with SIGKILL is started again while the rest
keeps running and orders keep going through; Ctrl-C with a request in flight still stops
everything within 30 s, leaving no process alive and no port taken."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import threading
import time

import httpx
import pytest

from tests.support.orders import known_customer_now
from tests.support.up import Up
from workers.seed import DEMO_STOREFRONT_KEY

pytestmark = pytest.mark.e2e
SHOP = {"X-API-Key": DEMO_STOREFRONT_KEY}
ADDRESS = {
    "name": "李四",
    "phone": "13900000000",
    "region_code": "310104",
    "detail": "漕溪北路 1 号",
}
STOP_LIMIT_S = 30


def test_up_restarts_a_killed_worker_and_api_and_stops_in_time_with_a_request_in_flight(
    up: Up,
) -> None:
    up.start()
    worker = int(up.wait_for(r"worker: started, pid (\d+)")[1])
    api = int(up.wait_for(r"api: started, pid (\d+)")[1])
    with httpx.Client(base_url=up.base, timeout=60) as http:
        # The worker dies: it comes back, the API answered all along, and an order goes to paid.
        seen = len(up.output)
        os.kill(worker, signal.SIGKILL)
        assert up.wait_for(r"worker: pid \d+ died \(killed by SIGKILL\); restarting", after=seen)
        assert http.get("/readyz").status_code == 200  # the API never went away
        new_worker = int(up.wait_for(r"worker: restarted, pid (\d+)", after=seen)[1])
        assert new_worker != worker and alive(new_worker) and not alive(worker)
        order_no = place_and_pay(http, up.ports["HOUTAI_EMBEDDED__SANDBOX_PAYMENTS_PORT"], "w")

        # The API dies: it comes back on the same port, and answers for the order placed before.
        seen = len(up.output)
        os.kill(api, signal.SIGKILL)
        new_api = int(up.wait_for(r"api: restarted, pid (\d+)", after=seen)[1])
        assert new_api != api
        wait_ready(http)
        assert http.get(f"/v1/orders/{order_no}", headers=SHOP).json()["status"] == "fulfilling"
        place_and_pay(http, up.ports["HOUTAI_EMBEDDED__SANDBOX_PAYMENTS_PORT"], "a")
        assert alive(new_worker)  # the worker was left alone

        # Ctrl-C while a client waits on the order (a request the API holds open).
        etag = http.get(f"/v1/orders/{order_no}", headers=SHOP).headers["etag"]
        waiting = threading.Thread(target=wait_on, args=(up.base, order_no, etag), daemon=True)
        waiting.start()
        time.sleep(1)  # the request is in the API now
        assert waiting.is_alive()
        pids = up.pids()
        began = time.monotonic()
        assert up.proc is not None
        up.proc.send_signal(signal.SIGINT)
        assert up.proc.wait(STOP_LIMIT_S + 5) == 0
        took = time.monotonic() - began
    assert took <= STOP_LIMIT_S, f"stopping took {took:.1f} s"
    waiting.join(5)
    assert not waiting.is_alive()
    assert len(pids) >= 8, pids  # PostgreSQL, Temporal, 3 sandboxes, worker ×2, API ×2
    left = {pid: line for pid, line in pids.items() if alive(pid) or group_alive(pid)}
    assert left == {}, f"still running after Ctrl-C: {left}"
    for name, port in up.ports.items():
        assert bindable(port), f"{name} {port} still held after Ctrl-C"


def test_up_gives_up_on_a_worker_that_keeps_dying_and_says_so(up: Up) -> None:
    up.start()
    for death in range(1, 6):  # five deaths within a minute (the backoffs add up to 15 s)
        pid = int(re.findall(r"worker: (?:started|restarted), pid (\d+)", up.text)[-1])
        seen = len(up.output)
        os.kill(pid, signal.SIGKILL)
        if death < 5:
            up.wait_for(r"worker: restarted", after=seen)
    assert up.proc is not None
    assert up.proc.wait(STOP_LIMIT_S + 10) == 1
    assert "worker crashed 5 times within 60 s" in up.text and "stopping the stack" in up.text
    pids = up.pids()
    assert {pid: line for pid, line in pids.items() if alive(pid) or group_alive(pid)} == {}
    for name, port in up.ports.items():
        assert bindable(port), f"{name} {port} still held after giving up"


def place_and_pay(http: httpx.Client, sandbox_port: int, key: str) -> str:
    """Place an order (retried while the API says the back office is busy), pay it at the
    sandbox provider and wait for it to be paid (fulfilling). Returns its number."""
    sku = next(
        row["sku_id"]
        for row in http.get("/v1/stock", headers=SHOP, params={"limit": 500}).json()["data"]
        if row["sellable"] > 0
    )
    body = {"client_order_key": f"heal-{key}", "customer_id": 7, "address": ADDRESS,
            "lines": [{"sku_id": sku, "quantity": 1}]}  # fmt: skip
    known_customer_now(http, 7)
    deadline = time.monotonic() + 90
    while (placed := http.post("/v1/orders", headers=SHOP, json=body)).status_code == 503:
        assert time.monotonic() < deadline, placed.text
    assert placed.status_code == 201, placed.text
    order_no = str(placed.json()["order_no"])
    payment = http.post(f"/v1/orders/{order_no}/payments", headers=SHOP)
    assert payment.status_code == 201, payment.text
    simulated = httpx.post(
        f"http://127.0.0.1:{sandbox_port}/v1/payments/{payment.json()['payment_id']}/simulate",
        json={"outcome": "succeeded"},
        timeout=30,
    )
    assert simulated.status_code == 200, simulated.text
    deadline = time.monotonic() + 60
    while (status := http.get(f"/v1/orders/{order_no}", headers=SHOP).json()["status"]) != (
        "fulfilling"
    ):
        assert time.monotonic() < deadline, f"order {order_no} stuck in {status}"
        time.sleep(0.3)
    return order_no


def wait_ready(http: httpx.Client) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            if http.get("/readyz?deep=true").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the API did not come back"
        time.sleep(0.3)


def wait_on(base: str, order_no: str, etag: str) -> None:
    """A client waiting up to a minute for the order to change; cut off by the stop."""
    headers = {**SHOP, "If-None-Match": etag, "Prefer": "wait=60"}
    with contextlib.suppress(httpx.TransportError):
        httpx.get(f"{base}/v1/orders/{order_no}", headers=headers, timeout=90)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # PostgreSQL runs as its own user when we are root
        return True
    return True


def group_alive(pgid: int) -> bool:
    """Any process left in the group (houtai up's children each lead their own)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
