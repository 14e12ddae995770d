"""Wave picking over HTTP as staff and devices do it: plan now, claim tasks, scan every stop,
sort multi-line packages on the put wall."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import httpx

from api.schemas.picking import PutAnswer, ScanAnswer
from core.settings import WaveSettings
from tests.support.order_api import Json, staff
from tests.support.orders import device_for, eventually

_scans = itertools.count()


def staff_release_reason(wave: Json) -> str:
    """Why a wave staff planned now was released: "manual", unless its cutoff was close enough
    (cutoff − lead time − urgency margin, the planner's rule) for it to be "urgent" anyway —
    as it is for an hour and a half before each carrier's daily cutoff."""
    policy = WaveSettings()
    margin = timedelta(minutes=policy.lead_time_minutes + policy.urgency_margin_minutes)
    planned = datetime.fromisoformat(wave["created_at"])
    return "urgent" if planned >= datetime.fromisoformat(wave["cutoff_at"]) - margin else "manual"


def scan_id(tag: str = "s") -> str:
    return f"{tag}-{next(_scans):08d}"


async def plan_now(api: httpx.AsyncClient, warehouse_id: int) -> list[Json]:
    manager = await staff(api, "warehouse_manager")
    planned = await api.post(f"/v1/warehouses/{warehouse_id}/waves/plan", headers=manager)
    assert planned.status_code == 200, planned.text
    waves: list[Json] = planned.json()["waves"]
    for wave in waves:  # each wave allocates and routes its tasks right after it is planned

        async def built(number: str = wave["wave_no"]) -> bool:
            answer = await api.get(f"/v1/waves/{number}", headers=manager)
            return bool(answer.json()["built"])

        await eventually(built, f"wave {wave['wave_no']} built")
    return waves


async def claim(api: httpx.AsyncClient, device: dict[str, str]) -> Json | None:
    answer = await api.get("/v1/devices/me/next-task", headers=device)
    if answer.status_code == 204:
        return None
    assert answer.status_code == 200, answer.text
    task: Json = answer.json()
    return task


async def scan_stop(
    api: httpx.AsyncClient, device: dict[str, str], task: Json, **extra: Any
) -> httpx.Response:
    stop = task["next"]["stop"]
    body = {
        "scan_id": scan_id(),
        "location_barcode": stop["location_barcode"],
        "sku_barcode": stop["sku_barcode"],
        "quantity": stop["remaining"],
    } | extra
    return await api.post(f"/v1/pick-tasks/{task['task_no']}/scans", headers=device, json=body)


async def pick_task(api: httpx.AsyncClient, device: dict[str, str], task: Json) -> Json:
    """Scan every stop of a claimed task in route order; returns the last answer."""
    while task["next"]["action"] == "pick":
        answer = await scan_stop(api, device, task)
        assert answer.status_code == 200, answer.text
        task = answer.json()
        ScanAnswer.model_validate(task)  # the answer is what the OpenAPI document declares
    return task


async def pick_everything(api: httpx.AsyncClient, device: dict[str, str]) -> list[Json]:
    """Claim and pick tasks until the warehouse has none open; returns the finished tasks."""
    done = []
    while (task := await claim(api, device)) is not None:
        done.append(await pick_task(api, device, task))
    return done


async def sort_wave(api: httpx.AsyncClient, device: dict[str, str], wave_no: str) -> list[Json]:
    """Put every picked unit of the wave's multi-line packages on the wall."""
    wave = (await api.get(f"/v1/waves/{wave_no}", headers=device)).json()
    if not wave["slots"]:
        return []
    answers = []
    for task in wave["tasks"]:
        view = (await api.get(f"/v1/pick-tasks/{task['task_no']}", headers=device)).json()
        for stop in view["stops"]:
            for _ in range(stop["picked"]):
                put = await api.post(
                    f"/v1/waves/{wave_no}/put-wall/scans",
                    headers=device,
                    json={"scan_id": scan_id("p"), "sku_barcode": stop["sku_barcode"]},
                )
                assert put.status_code == 200, put.text
                answers.append(put.json())
                PutAnswer.model_validate(answers[-1])  # as the OpenAPI document declares
    return answers


async def pick_package(api: httpx.AsyncClient, package: Json) -> Json:
    """Plan the package's warehouse, pick and sort everything there; the package is picked."""
    device = await device_for(api, package["warehouse_id"])
    number = package["package_no"]

    async def released() -> Json | None:  # shown released once it waits for a wave
        view: Json = (await api.get(f"/v1/packages/{number}", headers=device)).json()
        return view if view["status"] != "pending" else None

    async def picked() -> Json | None:
        view: Json = (await api.get(f"/v1/packages/{number}", headers=device)).json()
        return view if view["status"] != "released" else None

    shown = await eventually(released, f"{number} released")
    if shown["status"] == "released":
        for wave in await plan_now(api, package["warehouse_id"]):
            await pick_everything(api, device)
            await sort_wave(api, device, wave["wave_no"])
    found: Json = await eventually(picked, f"{number} picked")
    return found
