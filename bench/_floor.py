"""The warehouse floor as the benchmarks drive it over the API: staff log in, a handheld picks
every task of a planned wave and sorts its put wall."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import httpx
from _stack import ok, until


def login_body(username: str) -> dict[str, str]:
    """A demo user's sign-in: the demo password, and for admin and finance the TOTP code of
    now (a code is accepted once: sign each of them in once per run)."""
    from datetime import UTC, datetime

    from core.totp import time_step, totp_code
    from workers.seed import DEMO_PASSWORD, DEMO_TOTP_SECRETS

    body = {"username": username, "password": DEMO_PASSWORD}
    if username in DEMO_TOTP_SECRETS:
        body["totp_code"] = totp_code(DEMO_TOTP_SECRETS[username], time_step(datetime.now(UTC)))
    return body


async def login(api: httpx.AsyncClient, username: str) -> str:
    """A demo user's bearer token (username = role)."""
    answer = await api.post("/v1/auth/login", json=login_body(username))
    return str(ok(answer, 200)["access_token"])


async def pick_wave(api: httpx.AsyncClient, device: dict[str, str], wave_no: str) -> int:
    """A handheld at work on a planned wave: waits until it is built, picks every task of the
    warehouse, sorts the wave's put wall. Returns the scans made."""
    path = f"/v1/waves/{wave_no}"
    await until(
        lambda: _json(api.get(path, headers=device)), lambda w: w["built"], path, within=120,
        interval=0.2,
    )  # fmt: skip
    _, scans = await pick_tasks(api, device)
    return scans + await sort_wall(api, device, wave_no)


async def pick_tasks(api: httpx.AsyncClient, device: dict[str, str]) -> tuple[int, int]:
    """Claim and scan tasks until none is open (scan ids unique per stop and progress);
    returns (tasks, scans)."""
    tasks = scans = 0
    while (answer := await api.get("/v1/devices/me/next-task", headers=device)).status_code == 200:
        task = answer.json()
        while task["next"]["action"] == "pick":
            stop = task["next"]["stop"]
            body = {
                "scan_id": f"{task['task_no']}-{stop['stop_no']}-{stop['picked']}",
                "location_barcode": stop["location_barcode"],
                "sku_barcode": stop["sku_barcode"],
                "quantity": stop["remaining"],
            }
            scan = await api.post(
                f"/v1/pick-tasks/{task['task_no']}/scans", json=body, headers=device
            )
            task = ok(scan, 200)
            scans += 1
        tasks += 1
    return tasks, scans


async def sort_wall(api: httpx.AsyncClient, device: dict[str, str], wave_no: str) -> int:
    """Put every picked unit of the wave's multi-line packages on the wall; returns the puts."""
    path = f"/v1/waves/{wave_no}"
    wave = await _json(api.get(path, headers=device))
    puts = 0
    for task in wave["tasks"] if wave["slots"] else []:
        view = await _json(api.get(f"/v1/pick-tasks/{task['task_no']}", headers=device))
        for stop in view["stops"]:
            for unit in range(stop["picked"]):
                body = {"scan_id": f"put-{task['task_no']}-{stop['stop_no']}-{unit}",
                        "sku_barcode": stop["sku_barcode"]}  # fmt: skip
                ok(await api.post(f"{path}/put-wall/scans", json=body, headers=device), 200)
                puts += 1
    return puts


async def _json(call: Awaitable[httpx.Response]) -> Any:
    return ok(await call, 200)
