"""Handheld devices (DESIGN §3a, issue 15): paired with a one-time code that expires, revoked at
once, a worker signs in by badge and is recorded with the device on every scan, pick and pack;
the pack station refuses a wrong or missing unit before the label; a retried scan id gets the
stored answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, text

from models.db import AuditEntry, Device, PackCheck, User
from tests.support.order_api import Json, events_of, only_in, paid_order, problem, staff
from tests.support.orders import eventually
from tests.support.picking import claim, pick_task, plan_now, scan_id
from tests.support.stack import Stack


async def _warehouse_id(api: httpx.AsyncClient, headers: dict[str, str], code: str) -> int:
    warehouses = (await api.get("/v1/warehouses", headers=headers)).json()["data"]
    return int(next(w["id"] for w in warehouses if w["code"] == code))


async def _new_device(
    api: httpx.AsyncClient, manager: dict[str, str], warehouse_id: int, name: str = "PDA-01"
) -> Json:
    answer = await api.post(
        f"/v1/warehouses/{warehouse_id}/devices", json={"name": name}, headers=manager
    )
    assert answer.status_code == 201, answer.text
    created: Json = answer.json()
    return created


async def paired_device(
    api: httpx.AsyncClient, manager: dict[str, str], warehouse_id: int, name: str = "PDA-01"
) -> tuple[Json, dict[str, str]]:
    created = await _new_device(api, manager, warehouse_id, name)
    paired = await api.post("/v1/devices/pair", json={"code": created["pairing_code"]})
    assert paired.status_code == 200, paired.text
    return created, {"X-API-Key": paired.json()["api_key"]}


async def _user_id(stack: Stack, username: str) -> int:
    async with stack.sessions() as session:
        found = await session.scalar(select(User.id).where(User.username == username))
    assert found is not None
    return int(found)


async def badge_for(
    stack: Stack, api: httpx.AsyncClient, manager: dict[str, str], warehouse_id: int, who: str
) -> str:
    badge = f"BADGE-{who}"
    answer = await api.post(
        f"/v1/warehouses/{warehouse_id}/badges",
        json={"user_id": await _user_id(stack, who), "badge_code": badge},
        headers=manager,
    )
    assert answer.status_code == 201, answer.text
    return badge


async def test_a_pairing_code_works_once_and_only_until_it_expires(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    manager = await staff(api, "warehouse_manager")
    sh01 = await _warehouse_id(api, manager, "SH01")
    created = await _new_device(api, manager, sh01)
    code = created["pairing_code"]
    assert created["status"] == "pending" and len(code.replace("-", "")) == 8
    qr = await api.get(created["qr_png_url"], params={"code": code}, headers=manager)
    assert qr.status_code == 200 and qr.content.startswith(b"\x89PNG")

    # Typed in lower case and without the dash: the same code.
    paired = await api.post("/v1/devices/pair", json={"code": code.replace("-", "").lower()})
    assert paired.status_code == 200, paired.text
    key = {"X-API-Key": paired.json()["api_key"]}
    me = (await api.get("/v1/devices/me", headers=key)).json()
    assert (me["name"], me["warehouse_id"], me["worker"]) == ("PDA-01", sh01, None)
    # Used once: never again, and no QR of it any more.
    problem(await api.post("/v1/devices/pair", json={"code": code}), 404)
    problem(await api.get(created["qr_png_url"], params={"code": code}, headers=manager), 404)
    listed = (await api.get("/v1/devices", params={"warehouse_id": sh01}, headers=manager)).json()
    assert [(d["name"], d["status"]) for d in listed["data"]] == [("PDA-01", "paired")]

    late = await _new_device(api, manager, sh01, "PDA-02")
    async with stack.sessions() as session:
        device = await session.get(Device, late["id"])
        assert device is not None
        device.pairing_expires_at = datetime.now(UTC) - timedelta(seconds=1)
        await session.commit()
    problem(await api.post("/v1/devices/pair", json={"code": late["pairing_code"]}), 404)
    # Only a manager makes devices; a device or a storefront cannot pair itself a new one.
    problem(await api.post(f"/v1/warehouses/{sh01}/devices", json={"name": "x"}, headers=key), 403)


async def test_a_revoked_device_is_refused_at_once(stack: Stack, api: httpx.AsyncClient) -> None:
    manager = await staff(api, "warehouse_manager")
    sh01 = await _warehouse_id(api, manager, "SH01")
    created, key = await paired_device(api, manager, sh01)
    assert (await api.get("/v1/devices/me", headers=key)).status_code == 200

    revoked = await api.post(f"/v1/devices/{created['id']}/revoke", headers=manager)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"

    problem(await api.get("/v1/devices/me", headers=key), 401)
    problem(await api.get("/v1/devices/me/next-task", headers=key), 401)
    # A code of a revoked pending device pairs nothing either.
    pending = await _new_device(api, manager, sh01, "PDA-03")
    await api.post(f"/v1/devices/{pending['id']}/revoke", headers=manager)
    problem(await api.post("/v1/devices/pair", json={"code": pending["pairing_code"]}), 404)


async def test_a_worker_signs_in_by_badge_of_their_own_warehouse(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    manager = await staff(api, "warehouse_manager")
    sh01 = await _warehouse_id(api, manager, "SH01")
    gz01 = await _warehouse_id(api, manager, "GZ01")
    _, key = await paired_device(api, manager, sh01)
    badge = await badge_for(stack, api, manager, sh01, "ops")
    other = await badge_for(stack, api, manager, gz01, "cs")

    # Until a worker signs in, the device does no work: nothing it did could name them.
    idle = problem(await api.get("/v1/devices/me/next-task", headers=key), 403)
    assert idle["type"] == "/problems/worker-sign-in-required"
    unit = {"scan_id": "idle-0001", "sku_barcode": "1"}
    problem(await api.post("/v1/packages/PK1/check/scans", json=unit, headers=key), 403)
    problem(await api.post("/v1/devices/me/sign-in", json={"badge_code": other}, headers=key), 404)
    problem(
        await api.post("/v1/devices/me/sign-in", json={"badge_code": "NOPE1"}, headers=key), 404
    )
    signed = await api.post("/v1/devices/me/sign-in", json={"badge_code": badge}, headers=key)
    assert signed.status_code == 200, signed.text
    assert signed.json()["worker"] == "ops"
    assert (await api.get("/v1/devices/me", headers=key)).json()["worker"] == "ops"
    async with stack.sessions() as session:
        row = await session.scalar(
            select(AuditEntry)
            .where(AuditEntry.action == "device.sign_in")
            .order_by(AuditEntry.id.desc())
        )
    assert row is not None and row.detail["worker"] == "ops" and row.actor_name == "PDA-01"

    out = await api.post("/v1/devices/me/sign-out", headers=key)
    assert out.status_code == 200 and out.json()["worker"] is None
    # A demo key that no manager paired has no worker to sign in.
    demo = {"X-API-Key": "hk_demosh01_houtai-demo-device-key-shanghai-not-secret"}
    problem(await api.post("/v1/devices/me/sign-in", json={"badge_code": badge}, headers=demo), 409)


async def _audit_rows(stack: Stack, action: str, object_id: str) -> list[AuditEntry]:
    async with stack.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == action, AuditEntry.object_id == object_id)
            .order_by(AuditEntry.id)
        )
        return list(rows)


async def test_pick_and_pack_name_device_and_worker_refuse_wrong_units_retries_get_stored_answer(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    manager = await staff(api, "warehouse_manager")
    sh01 = await _warehouse_id(api, manager, "SH01")
    _, key = await paired_device(api, manager, sh01, "PDA-07")
    badge = await badge_for(stack, api, manager, sh01, "ops")
    assert (
        await api.post("/v1/devices/me/sign-in", json={"badge_code": badge}, headers=key)
    ).status_code == 200

    sku = await only_in(stack, "SH01")
    order = await paid_order(stack, api, [(sku, 2)])
    [parcel] = order["packages"]
    number = parcel["package_no"]
    await plan_now(api, sh01)
    task = await claim(api, key)
    assert task is not None and task["next"]["action"] == "pick"
    # Nothing goes in the box before the floor has picked it (and that answer is not kept).
    early_unit = {"scan_id": scan_id("v"), "sku_barcode": task["next"]["stop"]["sku_barcode"]}
    not_yet = await api.post(f"/v1/packages/{number}/check/scans", json=early_unit, headers=key)
    assert "not picked yet" in problem(not_yet, 409)["detail"]
    stop = task["next"]["stop"]
    first = scan_id("pick")
    body = {
        "scan_id": first,
        "location_barcode": stop["location_barcode"],
        "sku_barcode": stop["sku_barcode"],
        "quantity": 1,
    }
    once = await api.post(f"/v1/pick-tasks/{task['task_no']}/scans", json=body, headers=key)
    again = await api.post(f"/v1/pick-tasks/{task['task_no']}/scans", json=body, headers=key)
    assert once.status_code == again.status_code == 200
    assert once.json() == again.json()  # the stored answer: one unit picked, not two
    assert once.json()["next"]["stop"]["remaining"] == stop["remaining"] - 1
    [scanned, retried] = await _audit_rows(stack, "pick_task.scan", first)
    assert scanned.actor_name == "PDA-07" and scanned.detail["worker"] == "ops"
    assert retried.detail["worker"] == "ops"
    await pick_task(api, key, once.json())

    async def picked() -> bool:
        view = (await api.get(f"/v1/packages/{number}", headers=key)).json()
        return view["status"] in ("picked", "released")

    await eventually(picked, f"{number} picked")
    path = f"/v1/packages/{number}"
    check = (await api.get(f"{path}/check", headers=key)).json()
    [line] = check["lines"]
    assert (line["quantity"], line["scanned"], check["complete"]) == (2, 0, False)

    # A wrong unit is refused and kept out; the answer says what the box needs.
    wrong = await api.post(
        f"{path}/check/scans", json={"scan_id": scan_id("v"), "sku_barcode": "0000"}, headers=key
    )
    assert problem(wrong, 409)["error"] == "wrong_unit"
    unit = {"scan_id": scan_id("v"), "sku_barcode": line["sku_barcode"]}
    first_unit = await api.post(f"{path}/check/scans", json=unit, headers=key)
    retried_unit = await api.post(f"{path}/check/scans", json=unit, headers=key)
    assert first_unit.status_code == retried_unit.status_code == 200
    assert first_unit.json() == retried_unit.json()
    assert first_unit.json()["check"]["lines"][0]["scanned"] == 1
    async with stack.sessions() as session:
        counted = await session.get(PackCheck, (number, line["sku_id"]))
        assert counted is not None and counted.scanned == 1  # the retry counted nothing

    # One unit missing: the pack (and so the label) is refused, nothing is packed.
    weight = (
        parcel.get("expected_weight_g")
        or (await api.get(path, headers=key)).json()["expected_weight_g"]
    )
    early = await api.post(
        f"{path}/verified-pack",
        json={"scan_id": scan_id("k"), "measured_weight_g": weight},
        headers=key,
    )
    assert problem(early, 409)["missing"] == [{"sku_code": line["sku_code"], "missing": 1}]
    # The plain pack route does not let a paired handheld skip the check either.
    raw = await api.post(f"{path}/pack", json={"measured_weight_g": weight}, headers=key)
    assert "scan every unit" in problem(raw, 409)["detail"]
    assert (await api.get(path, headers=key)).json()["waybill_no"] is None
    last = await api.post(
        f"{path}/check/scans",
        json={"scan_id": scan_id("v"), "sku_barcode": line["sku_barcode"]},
        headers=key,
    )
    assert last.json()["check"]["complete"] is True
    surplus = await api.post(
        f"{path}/check/scans",
        json={"scan_id": scan_id("v"), "sku_barcode": line["sku_barcode"]},
        headers=key,
    )
    assert problem(surplus, 409)["error"] == "unit_surplus"

    pack_body = {"scan_id": scan_id("k"), "measured_weight_g": weight}
    packed = await api.post(f"{path}/verified-pack", json=pack_body, headers=key)
    assert packed.status_code == 200, packed.text
    assert packed.json()["status"] == "waybill_created" and packed.json()["tracking_no"]
    lost = await api.post(f"{path}/verified-pack", json=pack_body, headers=key)
    assert lost.json() == packed.json()
    label = await api.get(f"{path}/label.pdf", headers=key)
    assert label.status_code == 200 and label.content.startswith(b"%PDF")

    steps = await events_of(stack, number)
    packers = [e[2] for e in steps if e[0] in ("packed", "waybill_created") and e[1] == "device"]
    assert packers and all(name == "PDA-07 / ops" for name in packers)
    async with stack.sessions() as session:
        packs = await session.scalar(
            text("SELECT count(*) FROM audit_log WHERE action = 'package.pack' AND object_id = :n"),
            {"n": number},
        )
    assert packs == 1  # the retry packed nothing again
