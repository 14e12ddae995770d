"""The warehouse report (issue 17) through the real processes: a worker signed in on a device
picks two waves (one line short), one package is held at the scale, the other packs; units per
hour per worker and per device, wave on-time, short-pick and weight-hold rates come out exact,
and move with the second wave."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from api.routes.reports_stock import today
from tests.api.test_devices import _warehouse_id, badge_for, paired_device
from tests.support.order_api import Json, only_in, paid_order, staff
from tests.support.orders import device_for, eventually
from tests.support.picking import claim, plan_now, scan_id, scan_stop
from tests.support.stack import Stack


async def _wave_of(stack: Stack, api: httpx.AsyncClient, sku: int, quantity: int) -> Json:
    order = await paid_order(stack, api, [(sku, quantity)], key=f"cart-report-{quantity}")
    [parcel] = order["packages"]
    manager = await staff(api, "warehouse_manager")

    async def released() -> bool | None:
        view = (await api.get(f"/v1/packages/{parcel['package_no']}", headers=manager)).json()
        return True if view["status"] == "released" else None

    await eventually(released, "released")
    [wave] = await plan_now(api, parcel["warehouse_id"])
    return {**parcel, "wave_no": wave["wave_no"]}


async def _pick(api: httpx.AsyncClient, key: dict[str, str], short_first: bool) -> tuple[int, int]:
    """Pick the claimed task: every stop in full, or the first one short by a unit. Returns
    (units picked, lines finished)."""
    task = await claim(api, key)
    assert task is not None
    units = lines = 0
    while task["next"]["action"] == "pick":
        remaining = task["next"]["stop"]["remaining"]
        if short_first and lines == 0:
            answer = await api.post(
                f"/v1/pick-tasks/{task['task_no']}/short",
                headers=key,
                json={"scan_id": scan_id("short"), "found": remaining - 1},
            )
            units += remaining - 1
        else:
            answer = await scan_stop(api, key, task)
            units += remaining
        assert answer.status_code == 200, answer.text
        task, lines = answer.json(), lines + 1
    return units, lines


async def _pack(api: httpx.AsyncClient, parcel: Json, off_g: int) -> None:
    """Packed at the pack station (the warehouse's own station key) and weighed `off_g` grams
    off the expected weight."""
    key = await device_for(api, parcel["warehouse_id"])
    path = f"/v1/packages/{parcel['package_no']}"

    async def picked() -> Json | None:
        view: Json = (await api.get(path, headers=key)).json()
        return view if view["status"] == "picked" else None

    shown = await eventually(picked, "picked")
    weight = shown["expected_weight_g"] + off_g
    packed = await api.post(f"{path}/pack", headers=key, json={"measured_weight_g": weight})
    assert packed.status_code == 200, packed.text
    wanted = ("weight_hold",) if off_g else ("packed", "waybill_created")

    async def settled() -> bool | None:
        return True if (await api.get(path, headers=key)).json()["status"] in wanted else None

    await eventually(settled, f"{parcel['package_no']} {wanted[0]}")


async def test_the_warehouse_report_from_picks_waves_and_the_scale(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    manager = await staff(api, "warehouse_manager")
    sh01 = await _warehouse_id(api, manager, "SH01")
    _, key = await paired_device(api, manager, sh01, "PDA-R")
    badge = await badge_for(stack, api, manager, sh01, "ops")
    signed = await api.post("/v1/devices/me/sign-in", json={"badge_code": badge}, headers=key)
    assert signed.status_code == 200, signed.text
    sku = await only_in(stack, "SH01")
    window = {
        "date_from": str(today() - timedelta(days=1)),
        "date_to": str(today() + timedelta(days=2)),
    }

    async def report(path: str = "", **params: object) -> Any:
        answer = await api.get(
            f"/v1/reports/warehouse{path}", params={**window, **params}, headers=manager
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def wave_done(number: str) -> bool | None:
        wave = (await api.get(f"/v1/waves/{number}", headers=manager)).json()
        return True if wave["status"] == "done" else None

    first = await _wave_of(stack, api, sku, 3)
    units_a, lines_a = await _pick(api, key, short_first=False)
    assert units_a == 3
    await eventually(lambda: wave_done(first["wave_no"]), "first wave done")
    await _pack(api, first, off_g=5000)  # held at the scale
    totals = (await report(by="month"))["totals"]
    assert {k: totals[k] for k in ("waves_done", "waves_on_time", "lines_picked", "lines_short",
                                    "packages_weighed", "packages_held", "units_picked")} == {
        "waves_done": 1, "waves_on_time": 1, "lines_picked": lines_a, "lines_short": 0,
        "packages_weighed": 1, "packages_held": 1, "units_picked": 3,
    }  # fmt: skip
    assert (totals["on_time_pct"], totals["short_pick_pct"], totals["weight_hold_pct"]) == (
        100.0, 0.0, 100.0,
    )  # fmt: skip

    second = await _wave_of(stack, api, sku, 2)
    units_b, lines_b = await _pick(api, key, short_first=True)
    await eventually(lambda: wave_done(second["wave_no"]), "second wave done")
    await _pack(api, second, off_g=0)
    days = await report()
    totals = days["totals"]
    lines = lines_a + lines_b
    assert (totals["waves_done"], totals["lines_picked"], totals["lines_short"]) == (2, lines, 1)
    assert (totals["units_short"], totals["units_picked"]) == (1, 3 + units_b)
    assert (totals["packages_weighed"], totals["packages_held"]) == (2, 1)
    assert totals["weight_hold_pct"] == 50.0
    assert totals["short_pick_pct"] == round(100 / lines, 1)
    assert {r["warehouse_id"] for r in days["rows"]} == {sh01}
    assert sum(r["packages_held"] for r in days["rows"]) == 1

    # Per worker and per device: the units the scans booked over the hours they took.
    workers = await report("/pickers", by="week")
    assert [(r["who"], r["units_picked"]) for r in workers["rows"]] == [("ops", 3 + units_b)]
    hours = workers["rows"][0]["hours"]
    assert workers["rows"][0]["units_per_hour"] == round((3 + units_b) / hours, 1)
    devices = await report("/pickers", dimension="device")
    assert {r["who"] for r in devices["rows"]} == {"api_key:PDA-R"}
    assert devices["totals"]["units_picked"] == 3 + units_b

    # An empty period, and the warehouse report needs waves.read.
    empty = await report(date_from="2020-01-01", date_to="2020-01-31")
    assert (empty["rows"], empty["totals"]["waves_done"], empty["totals"]["on_time_pct"]) == (
        [], 0, None,
    )  # fmt: skip
    finance = await staff(api, "finance")
    refused = await api.get("/v1/reports/warehouse", headers=finance)
    assert refused.status_code == 403
