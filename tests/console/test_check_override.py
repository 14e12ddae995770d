"""A manager's override of the pack station's unit check (复核放行, issue 15): units the station
could not scan are taken as checked, with a reason, audited with the units it covered; the pack
then goes on. Devices cannot override, nor can anyone before the package is picked or once its
box is complete. The console's package list offers it to managers only."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from api.deps import AppDeps
from models.db import AuditEntry
from tests.api.test_devices import _warehouse_id, badge_for, paired_device
from tests.support.console import browser, csrf_of, signed_in, text_of
from tests.support.order_api import only_in, paid_order, problem, staff
from tests.support.orders import eventually
from tests.support.picking import claim, pick_task, plan_now, scan_id
from tests.support.stack import Stack


async def test_a_manager_takes_the_unscanned_units_as_checked_and_the_pack_goes_on(
    stack: Stack, api: httpx.AsyncClient, deps: AppDeps
) -> None:
    manager = await staff(api, "warehouse_manager")
    sh01 = await _warehouse_id(api, manager, "SH01")
    _, key = await paired_device(api, manager, sh01, "PDA-OV")
    badge = await badge_for(stack, api, manager, sh01, "ops")
    signed = await api.post("/v1/devices/me/sign-in", json={"badge_code": badge}, headers=key)
    assert signed.status_code == 200, signed.text
    order = await paid_order(stack, api, [(await only_in(stack, "SH01"), 3)])
    [parcel] = order["packages"]
    number = parcel["package_no"]

    early = await api.post(
        f"/v1/packages/{number}/check/override", json={"reason": "条码破损"}, headers=manager
    )
    assert early.status_code == 409  # nothing picked yet: nothing to take as checked
    await plan_now(api, sh01)
    task = await claim(api, key)
    assert task is not None
    await pick_task(api, key, task)

    async def ready() -> httpx.Response | None:
        check = await api.get(f"/v1/packages/{number}/check", headers=key)
        unit = {"scan_id": scan_id("v"), "sku_barcode": check.json()["lines"][0]["sku_barcode"]}
        scanned = await api.post(f"/v1/packages/{number}/check/scans", json=unit, headers=key)
        return scanned if scanned.status_code == 200 else None

    await eventually(ready, f"{number} checkable")  # one of three units scanned
    problem(
        await api.post(f"/v1/packages/{number}/check/override", json={"reason": "x"}, headers=key),
        403,
    )
    problem(await api.post(f"/v1/packages/{number}/check/override", json={}, headers=manager), 422)
    weight = (await api.get(f"/v1/packages/{number}", headers=key)).json()["expected_weight_g"]
    refused_pack = await api.post(
        f"/v1/packages/{number}/verified-pack",
        json={"scan_id": scan_id("p"), "measured_weight_g": weight},
        headers=key,
    )
    assert refused_pack.status_code == 409  # two units missing: no label

    async with browser(deps) as web:
        await signed_in(web, "warehouse_manager")
        listed = await web.get("/console/packages", params={"status": "picked"})
        released = await web.get("/console/packages", params={"status": "released"})
        page = listed.text if f'data-package="{number}"' in listed.text else released.text
        row = page.split(f'data-package="{number}"')[1].split("</tr>")[0]
        assert "复核放行" in text_of(row)
        done = await web.post(
            f"/console/packages/{number}/check-override",
            data={"csrf": csrf_of(web), "reason": "两件条码破损，主管目检无误"},
        )
        assert done.status_code == 303, done.text
        assert "done=check_overridden" in done.headers["location"]
        shown = await web.get(done.headers["location"])
        assert "已放行复核" in text_of(shown.text)
    async with browser(deps) as cs_web:
        await signed_in(cs_web, "cs")
        seen = await cs_web.get("/console/packages")
        assert "check-override" not in seen.text  # offered to managers only

    check = (await api.get(f"/v1/packages/{number}/check", headers=key)).json()
    assert check["complete"] is True
    assert [line["scanned"] for line in check["lines"]] == [3]
    again = await api.post(
        f"/v1/packages/{number}/check/override", json={"reason": "再来一次"}, headers=manager
    )
    assert again.status_code == 409  # the box is complete: nothing to override
    packed = await api.post(
        f"/v1/packages/{number}/verified-pack",
        json={"scan_id": scan_id("p"), "measured_weight_g": weight},
        headers=key,
    )
    assert packed.status_code == 200, packed.text
    assert packed.json()["status"] in ("packed", "waybill_created")
    async with stack.sessions() as session:
        [audit] = list(
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "package.check_override", AuditEntry.object_id == number
                )
            )
        )
    assert audit.actor_name == "warehouse_manager" or "warehouse_manager" in audit.actor_name
    assert audit.detail["reason"] == "两件条码破损，主管目检无误"
    assert sum(audit.detail["units"].values()) == 2
