"""Who picked: the timeline's "picked" step names the device and the worker signed in on it,
as the packed step after it does — in the API's order view and on the console's order page,
and on a transfer's timeline (a device without a worker is named alone)."""

from __future__ import annotations

import re

import httpx

from api.deps import AppDeps
from tests.api.test_transfers import _manager_of
from tests.console.test_pda_pages import (
    _barcode,
    _field,
    _paired_and_signed_in,
    at_the_location,
    sku_code_of,
)
from tests.support.console import browser, csrf_of, signed_in, text_of
from tests.support.order_api import DEVICE, Json, only_in, paid_order, skus_in, staff, warehouse_id
from tests.support.orders import eventually
from tests.support.picking import plan_now
from tests.support.stack import Stack
from tests.support.transfers import pick_transfer, request_transfer


async def _picked_steps(api: httpx.AsyncClient, order_no: str, package_no: str) -> list[Json]:
    shown = await api.get(f"/v1/orders/{order_no}", headers=await staff(api, "ops"))
    assert shown.status_code == 200, shown.text
    return [
        row
        for row in shown.json()["timeline"]
        if row["step"] == "picked" and row["package_no"] == package_no
    ]


async def test_the_picked_step_names_the_handheld_and_its_worker(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    sh01 = await warehouse_id(stack, "SH01")
    order = await paid_order(stack, api, [(await only_in(stack, "SH01"), 1)], key="picked-by")
    [parcel] = order["packages"]
    async with browser(deps) as pda:
        await _paired_and_signed_in(pda, api, stack, sh01)  # PDA-S1, badge of "ops"
        await plan_now(api, sh01)
        page = await at_the_location(pda, await pda.get("/pda/pick"))  # the only stop
        scanned = await pda.post(
            "/pda/pick/scan",
            data={
                "csrf": csrf_of(pda),
                "scan_id": "pda-picked-by-1",
                "task_no": _field(page.text, "task_no"),
                "location": _field(page.text, "location"),
                "code": await _barcode(api, sku_code_of(page.text)),
            },
        )
        assert "result-ok" in (await pda.get(scanned.headers["location"])).text

    async def picked() -> list[Json]:
        return await _picked_steps(api, order["order_no"], parcel["package_no"])

    [step] = await eventually(picked, "the package's picked step")
    assert (step["actor_kind"], step["actor_name"], step["actor_role"]) == (
        "device",
        "PDA-S1 / ops",
        "device",
    )

    async with browser(deps) as web:
        await signed_in(web, "ops")
        shown = await web.get(f"/console/orders/{order['order_no']}")
    row = re.search(r'<tr data-step="picked">(.*?)</tr>', shown.text, re.S)
    assert row, shown.text
    assert "设备 PDA-S1 / ops" in text_of(row.group(1))


async def test_the_transfer_timeline_names_the_device_that_picked_it(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    sh, gz = await warehouse_id(stack, "SH01"), await warehouse_id(stack, "GZ01")
    [sku] = await skus_in(stack, "SH01")
    ops = await staff(api, "ops")
    requested = await request_transfer(api, sh, gz, [(sku, 1)], ops)
    assert requested.status_code == 201, requested.text
    number = requested.json()["transfer_no"]
    manager = await _manager_of(stack, api, "sh-picked-by", "SH01")
    approved = await api.post(f"/v1/transfers/{number}/approve", headers=manager)
    assert approved.status_code == 200, approved.text
    await pick_transfer(api, DEVICE["SH01"], sh, number)
    device = (await api.get("/v1/auth/me", headers=DEVICE["SH01"])).json()["name"]

    shown = (await api.get(f"/v1/transfers/{number}", headers=ops)).json()
    actors = {e["step"]: e["actor"] for e in shown["timeline"]}
    assert actors["picked"] == f"device:{device}"  # the demo key: no worker signs in on it

    async with browser(deps) as web:
        await signed_in(web, "ops")
        page = await web.get(f"/console/transfers/{number}")
    [line] = [li for li in re.findall(r"<li>(.*?)</li>", page.text) if "波次拣货完成" in li]
    assert line.endswith(f" · device:{device}")
