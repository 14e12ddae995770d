"""A pack sent twice at once (DESIGN §6, an answer is a promise): the handheld lost the answer of
its first pack and sent the same action again while the first was still being packed. Both
answers say packed, and the package is packed once: one packed step, one waybill."""

from __future__ import annotations

import asyncio

import httpx

from tests.api.test_devices import _warehouse_id, badge_for, paired_device
from tests.support.order_api import events_of, only_in, paid_order, staff
from tests.support.orders import eventually
from tests.support.picking import claim, pick_task, plan_now, scan_id
from tests.support.stack import Stack


async def test_the_same_pack_sent_twice_at_once_packs_once_and_both_answers_say_so(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    manager = await staff(api, "warehouse_manager")
    sh01 = await _warehouse_id(api, manager, "SH01")
    _, key = await paired_device(api, manager, sh01, "PDA-RT")
    badge = await badge_for(stack, api, manager, sh01, "ops")
    signed = await api.post("/v1/devices/me/sign-in", json={"badge_code": badge}, headers=key)
    assert signed.status_code == 200, signed.text
    order = await paid_order(stack, api, [(await only_in(stack, "SH01"), 1)])
    [parcel] = order["packages"]
    path = f"/v1/packages/{parcel['package_no']}"
    await plan_now(api, sh01)
    task = await claim(api, key)
    assert task is not None
    await pick_task(api, key, task)

    async def boxed() -> bool | None:
        check = (await api.get(f"{path}/check", headers=key)).json()
        unit = {"scan_id": scan_id("v"), "sku_barcode": check["lines"][0]["sku_barcode"]}
        scanned = await api.post(f"{path}/check/scans", json=unit, headers=key)
        return True if scanned.status_code == 200 else None

    await eventually(boxed, "the unit in the box")
    weight = (await api.get(path, headers=key)).json()["expected_weight_g"]
    body = {"scan_id": scan_id("k"), "measured_weight_g": weight}
    first, second = await asyncio.gather(
        api.post(f"{path}/verified-pack", json=body, headers=key),
        api.post(f"{path}/verified-pack", json=body, headers=key),
    )
    assert first.status_code == 200, first.text
    assert second.status_code == 200, second.text
    assert first.json()["status"] in ("packed", "waybill_created")
    assert second.json()["status"] in ("packed", "waybill_created")
    third = await api.post(f"{path}/verified-pack", json=body, headers=key)
    assert third.status_code == 200 and third.json()["measured_weight_g"] == weight

    async def labelled() -> bool | None:
        shown = (await api.get(path, headers=key)).json()
        return True if shown["status"] == "waybill_created" else None

    await eventually(labelled, "labelled")
    steps = [step for step, *_ in await events_of(stack, parcel["package_no"])]
    assert steps.count("packed") == 1
    assert steps.count("waybill_created") == 1
