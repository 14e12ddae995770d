"""The handheld pages (/pda) and the manager's device page, over the whole back office: a
manager creates a device and sees its one-time code; the handheld pairs with it (its key stays
in an HttpOnly cookie, never in a page), a worker signs in by badge, picks a task stop by stop
(a wrong location is refused on the screen), and packs with every unit checked (a wrong unit
is refused, the label prints only when all are in). Each action's id sent twice counts once."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import func, select

from api.deps import AppDeps
from models.db import AuditEntry, PackCheck, PickAllocation, StockMovement, User
from tests.support.console import browser, csrf_of, signed_in, text_of
from tests.support.order_api import only_in, paid_order
from tests.support.orders import eventually
from tests.support.picking import plan_now
from tests.support.stack import Stack


async def _user_id(stack: Stack, username: str) -> int:
    async with stack.sessions() as session:
        found = await session.scalar(select(User.id).where(User.username == username))
    assert found is not None
    return int(found)


async def _sh01(web: httpx.AsyncClient) -> str:
    page = (await web.get("/console/devices")).text
    match = re.search(r'<option value="(\d+)"[^>]*>SH01', page)
    assert match, page
    return match.group(1)


def _field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no {name} in the page"
    return match.group(1)


async def test_pair_sign_in_pick_and_pack_on_the_handheld_pages(
    stack: Stack, web: httpx.AsyncClient, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    await signed_in(web, "warehouse_manager")
    listed = await web.get("/console/devices")
    assert listed.status_code == 200 and "手持设备与工牌" in text_of(listed.text)
    sh01 = await _sh01(web)
    created = await web.post(
        "/console/devices", data={"csrf": csrf_of(web), "warehouse_id": sh01, "name": "PDA-21"}
    )
    assert created.status_code == 201, created.text
    code = re.search(r'id="pairing-code">([A-Z0-9-]+)<', created.text)
    assert code, created.text
    qr = re.search(r'src="(/console/devices/\d+/pairing-qr\.png\?code=[^"]+)"', created.text)
    assert qr
    png = await web.get(qr.group(1).replace("&amp;", "&"))
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    badge = await web.post(
        "/console/devices/badges",
        data={
            "csrf": csrf_of(web),
            "warehouse_id": sh01,
            "user_id": str(await _user_id(stack, "ops")),
            "badge_code": "EMP-0007",
        },
    )
    assert badge.status_code == 303
    assert "EMP-0007" in (await web.get(f"/console/devices?warehouse_id={sh01}")).text
    taken = await web.post(
        "/console/devices/badges",
        data={"csrf": csrf_of(web), "warehouse_id": sh01,
              "user_id": str(await _user_id(stack, "cs")), "badge_code": "EMP-0007"},
    )  # fmt: skip
    assert taken.status_code == 409 and "工牌 EMP-0007 已属于别人" in text_of(taken.text)

    async with browser(deps) as pda:
        assert (await pda.get("/pda/")).headers["location"] == "/pda/pair"
        pair_page = await pda.get("/pda/pair")
        assert "请扫描主管在后台显示的配对码" in text_of(pair_page.text)
        wrong = await pda.post("/pda/pair", data={"csrf": csrf_of(pda), "code": "AAAA-AAAA"})
        assert wrong.headers["location"] == "/pda/pair?msg=wrong"
        paired = await pda.post("/pda/pair", data={"csrf": csrf_of(pda), "code": code.group(1)})
        assert paired.headers["location"] == "/pda/sign-in?msg=paired"
        cookie = paired.headers["set-cookie"]
        assert "houtai_device=" in cookie and "HttpOnly" in cookie and "Path=/pda" in cookie
        key = pda.cookies.get("houtai_device")
        assert key
        sign_in = await pda.get("/pda/sign-in?msg=paired")
        assert "PDA-21" in sign_in.text and key not in sign_in.text
        # Unpaired code used twice: refused.
        again = await pda.post("/pda/pair", data={"csrf": csrf_of(pda), "code": code.group(1)})
        assert again.headers["location"] == "/pda/pair?msg=wrong"
        # Nothing else works before a worker signs in.
        assert (await pda.get("/pda/pick")).headers["location"] == "/pda/sign-in"
        bad = await pda.post("/pda/sign-in", data={"csrf": csrf_of(pda), "badge": "EMP-9999"})
        assert bad.headers["location"] == "/pda/sign-in?msg=wrong"
        good = await pda.post("/pda/sign-in", data={"csrf": csrf_of(pda), "badge": "EMP-0007"})
        assert good.headers["location"] == "/pda/?msg=hello"
        home = await pda.get("/pda/?msg=hello")
        assert "result-ok" in home.text and "拣货" in text_of(home.text)

        order = await paid_order(stack, api, [(await only_in(stack, "SH01"), 2)])
        [parcel] = order["packages"]
        number = parcel["package_no"]
        await plan_now(api, int(sh01))

        pick = await pda.get("/pda/pick")
        assert "扫描库位码" in text_of(pick.text)
        location = _field(pick.text, "expected")
        missed = await pda.post(
            "/pda/pick/location",
            data={"csrf": csrf_of(pda), "task_no": "x", "expected": location, "code": "NOPE"},
        )
        shown = await pda.get(missed.headers["location"])
        assert "result-error" in shown.text and "库位不对" in text_of(shown.text)
        picked = 0
        for _ in range(10):
            page = await pda.get("/pda/pick")
            if "扫描库位码" in text_of(page.text):
                at = await at_the_location(pda, page)
                # The SKU screen at once, and its address shows the same screen again.
                assert at.status_code == 200 and "请扫描商品" in text_of(at.text)
                again = await pda.get(at.headers["x-pda-url"])
                assert "请扫描商品" in text_of(again.text)
                assert _field(again.text, "location") == _field(at.text, "location")
                page = at
            if "请扫描商品" not in text_of(page.text):
                break
            barcode = re.search(r"<small>([^<]+)</small>", page.text)
            assert barcode
            sku_barcode = await _barcode(api, barcode.group(1))
            form = {
                "csrf": csrf_of(pda),
                "scan_id": _field(page.text, "scan_id"),
                "task_no": _field(page.text, "task_no"),
                "location": _field(page.text, "location"),
                "code": sku_barcode,
            }
            first = await pda.post("/pda/pick/scan", data=form)
            retry = await pda.post("/pda/pick/scan", data=form)  # the answer got lost
            assert _next_screen(first) == _next_screen(retry)
            if first.status_code == 200:  # the task goes on: its next screen, at once
                assert "result-ok" in first.text and first.text.count('id="remaining"') == 1
                remaining = re.search(r'id="remaining">(\d+)<', first.text)
                again = re.search(r'id="remaining">(\d+)<', retry.text)
                assert remaining and again and remaining.group(1) == again.group(1)
            picked += 1
        assert picked == 2  # two units, each scanned once (the retries counted nothing)
        # The last scan's screen says the task is picked and where its units go next.
        done = await pda.get(_next_screen(first))
        assert "已拣完" in text_of(done.text) and "请送往打包台" in text_of(done.text)

        async def ready() -> bool | None:
            status = (await pda.get(f"/pda/pack/{number}")).text
            return True if ("待拣货" in status or "已拣货" in status) else None

        await eventually(ready, f"{number} on the pack page")
        found = await pda.post("/pda/pack", data={"csrf": csrf_of(pda), "code": number})
        assert found.headers["location"] == f"/pda/pack/{number}"
        box = await pda.get(f"/pda/pack/{number}")
        assert "0/2" in text_of(box.text) and "请逐件扫描" in text_of(box.text)
        wrong_unit = await pda.post(
            f"/pda/pack/{number}/unit",
            data={"csrf": csrf_of(pda), "scan_id": _field(box.text, "scan_id"), "code": "0000"},
        )
        refused = await pda.get(wrong_unit.headers["location"])
        assert "错件" in text_of(refused.text) and "result-error" in refused.text
        for _ in range(2):
            box = await pda.get(f"/pda/pack/{number}")
            unit = {
                "csrf": csrf_of(pda),
                "scan_id": _field(box.text, "scan_id"),
                "code": await _barcode(api, sku_code_of(box.text)),
            }
            await pda.post(f"/pda/pack/{number}/unit", data=unit)
            await pda.post(f"/pda/pack/{number}/unit", data=unit)  # sent again: counted once
        async with stack.sessions() as session:
            checks = list(
                await session.scalars(
                    select(PackCheck.scanned).where(PackCheck.package_no == number)
                )
            )
        assert checks == [2]
        box = await pda.get(f"/pda/pack/{number}")
        assert "2/2" in text_of(box.text) and "请称重" in text_of(box.text)
        weighed = await pda.post(
            f"/pda/pack/{number}/weigh",
            data={
                "csrf": csrf_of(pda),
                "scan_id": _field(box.text, "scan_id"),
                "weight": re.findall(r"预计 (\d+) 克", text_of(box.text))[0],
            },
        )
        assert weighed.headers["location"] == f"/pda/pack/{number}?ok=1&msg=packed"
        packed = await pda.get(weighed.headers["location"])
        assert "打印面单" in text_of(packed.text)
        label = await pda.get(f"/pda/pack/{number}/label.pdf")
        assert label.status_code == 200 and label.content.startswith(b"%PDF")

    async with stack.sessions() as session:
        rows = list(
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "package.pack", AuditEntry.object_id == number
                )
            )
        )
    assert [(r.actor_name, r.detail.get("worker"), r.client_ip) for r in rows] == [
        ("PDA-21", "ops", "203.0.113.7")
    ]


def _next_screen(answer: httpx.Response) -> str:
    """Where a handheld post leads: a redirect's address, or the address of the next screen
    the answer is itself (X-Pda-Url: a pick scan whose task goes on)."""
    return answer.headers.get("location") or answer.headers["x-pda-url"]


def sku_code_of(html: str) -> str:
    match = re.search(r"<small>([^<]+)</small>", html)
    assert match
    return match.group(1)


async def _barcode(api: httpx.AsyncClient, sku_code: str) -> str:
    from tests.support.order_api import staff

    ops = await staff(api, "ops")
    found = (await api.get("/v1/skus", params={"q": sku_code}, headers=ops)).json()
    return str(next(s["barcode"] for s in found["data"] if s["code"] == sku_code))


async def at_the_location(pda: httpx.AsyncClient, page: httpx.Response) -> httpx.Response:
    """The location the pick screen `page` asks for, scanned: the SKU screen of its stop."""
    return await pda.post(
        "/pda/pick/location",
        data={
            "csrf": csrf_of(pda),
            "task_no": _field(page.text, "task_no"),
            "expected": _field(page.text, "expected"),
            "code": _field(page.text, "expected"),
        },
    )


async def _paired_and_signed_in(
    pda: httpx.AsyncClient, api: httpx.AsyncClient, stack: Stack, warehouse_id: int
) -> None:
    from tests.support.order_api import staff

    manager = await staff(api, "warehouse_manager")
    created = await api.post(
        f"/v1/warehouses/{warehouse_id}/devices", json={"name": "PDA-S1"}, headers=manager
    )
    badge = {"user_id": await _user_id(stack, "ops"), "badge_code": "EMP-0101"}
    given = await api.post(f"/v1/warehouses/{warehouse_id}/badges", json=badge, headers=manager)
    assert created.status_code == given.status_code == 201
    await pda.get("/pda/pair")
    code = created.json()["pairing_code"]
    assert (await pda.post("/pda/pair", data={"csrf": csrf_of(pda), "code": code})).is_redirect
    signed = await pda.post("/pda/sign-in", data={"csrf": csrf_of(pda), "badge": "EMP-0101"})
    assert signed.headers["location"] == "/pda/?msg=hello"


async def test_a_short_stop_reports_found_n_once_however_often_it_is_sent(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    from models.db import PickStop
    from tests.support.order_api import staff

    ops = await staff(api, "ops")
    warehouses = (await api.get("/v1/warehouses", headers=ops)).json()["data"]
    sh01 = int(next(w["id"] for w in warehouses if w["code"] == "SH01"))
    async with browser(deps) as pda:
        await _paired_and_signed_in(pda, api, stack, sh01)
        await paid_order(stack, api, [(await only_in(stack, "SH01"), 3)])
        await plan_now(api, sh01)
        page = await at_the_location(pda, await pda.get("/pda/pick"))  # the SKU screen
        task_no = _field(page.text, "task_no")
        form = {
            "csrf": csrf_of(pda),
            "scan_id": _field(page.text, "scan_id"),
            "task_no": task_no,
            "location": _field(page.text, "location"),
            "code": await _barcode(api, sku_code_of(page.text)),
        }
        await pda.post("/pda/pick/scan", data=form)
        short = await pda.get("/pda/pick/short")
        assert "还需 2 件：实际还找到几件？" in text_of(short.text)
        report = {
            "csrf": csrf_of(pda),
            "scan_id": _field(short.text, "scan_id"),
            "task_no": task_no,
            "found": "1",
        }
        first = await pda.post("/pda/pick/short", data=report)
        again = await pda.post("/pda/pick/short", data=report)  # the answer was lost
        assert first.headers["location"] == again.headers["location"]
        shown = await pda.get(first.headers["location"])
        assert "已登记缺货" in text_of(shown.text) and "result-ok" in shown.text
        async with stack.sessions() as session:
            stop = await session.scalar(
                select(PickStop).where(PickStop.task_no == task_no).order_by(PickStop.stop_no)
            )
        assert stop is not None and (stop.picked, stop.short, stop.status) == (2, 1, "short")
        async with stack.sessions() as session:
            allocation = await session.get(PickAllocation, stop.allocation_id)
            assert allocation is not None
            written_off = list(
                await session.scalars(
                    select(StockMovement.actor).where(
                        StockMovement.movement_type == "pick_short",
                        StockMovement.ref_no == allocation.package_no,
                    )
                )
            )
        # The write-off's ledger row names the device and the worker signed in on it.
        assert written_off == ["api_key:PDA-S1 / ops"]


async def test_a_package_off_weight_is_held_and_a_revoked_handheld_must_pair_again(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    from tests.support.order_api import staff
    from tests.support.picking import pick_everything

    manager = await staff(api, "warehouse_manager")
    warehouses = (await api.get("/v1/warehouses", headers=manager)).json()["data"]
    sh01 = int(next(w["id"] for w in warehouses if w["code"] == "SH01"))
    async with browser(deps) as pda:
        await _paired_and_signed_in(pda, api, stack, sh01)
        device = {"X-API-Key": str(pda.cookies.get("houtai_device"))}
        order = await paid_order(stack, api, [(await only_in(stack, "SH01"), 1)])
        number = order["packages"][0]["package_no"]
        await plan_now(api, sh01)
        assert await pick_everything(api, device)

        async def ready() -> bool | None:
            shown = (await api.get(f"/v1/packages/{number}/check", headers=device)).json()
            return True if shown["status"] in ("released", "picked") else None

        await eventually(ready, f"{number} ready to pack")
        box = await pda.get(f"/pda/pack/{number}")
        # The weight is not offered before every unit is in the box.
        assert 'name="weight"' not in box.text and 'name="code"' in box.text
        unit = {
            "csrf": csrf_of(pda),
            "scan_id": _field(box.text, "scan_id"),
            "code": await _barcode(api, sku_code_of(box.text)),
        }
        await pda.post(f"/pda/pack/{number}/unit", data=unit)
        box = await pda.get(f"/pda/pack/{number}")
        assert 'name="weight"' in box.text and 'name="code"' not in box.text
        expected = int(re.findall(r"预计 (\d+) 克", text_of(box.text))[0])
        weighed = await pda.post(
            f"/pda/pack/{number}/weigh",
            data={
                "csrf": csrf_of(pda),
                "scan_id": _field(box.text, "scan_id"),
                "weight": str(expected * 3 + 500),
            },
        )
        assert weighed.headers["location"] == f"/pda/pack/{number}?ok=0&msg=held"
        held = await pda.get(weighed.headers["location"])
        assert "重量超出允许范围，包裹已暂扣" in text_of(held.text) and "result-error" in held.text
        assert "打印面单" not in text_of(held.text)
        assert (await api.get(f"/v1/packages/{number}", headers=device)).json()["status"] == (
            "weight_hold"
        )

        listed = (await api.get("/v1/devices", headers=manager)).json()["data"]
        [mine] = [d for d in listed if d["name"] == "PDA-S1"]
        assert mine["worker"] == "ops"
        assert (await api.post(f"/v1/devices/{mine['id']}/revoke", headers=manager)).is_success
        gone = await pda.get("/pda/pack")
        assert gone.headers["location"] == "/pda/pair?msg=unpaired"
        assert pda.cookies.get("houtai_device") is None
        again = await pda.get(gone.headers["location"])
        assert "本设备已被停用或尚未配对" in text_of(again.text)


async def test_the_devices_page_revokes_and_is_only_for_those_who_manage_the_warehouse(
    stack: Stack, web: httpx.AsyncClient, deps: AppDeps
) -> None:
    await signed_in(web, "warehouse_manager")
    sh01 = await _sh01(web)
    created = await web.post(
        "/console/devices", data={"csrf": csrf_of(web), "warehouse_id": sh01, "name": "PDA-R1"}
    )
    assert created.status_code == 201
    device_id = re.search(r'action="/console/devices/(\d+)/revoke"', created.text)
    assert device_id and "待配对" in text_of(created.text)
    revoked = await web.post(
        f"/console/devices/{device_id.group(1)}/revoke",
        data={"csrf": csrf_of(web), "warehouse_id": sh01},
    )
    assert revoked.status_code == 303
    listed = await web.get(revoked.headers["location"])
    assert "已停用" in text_of(listed.text) and "/revoke" not in listed.text
    # No CSRF token, no revoke.
    bad = await web.post(f"/console/devices/{device_id.group(1)}/revoke", data={})
    assert bad.status_code == 403

    async with browser(deps) as cs_web:
        await signed_in(cs_web, "cs")
        assert 'href="/console/devices"' not in (await cs_web.get("/console/")).text
        refused = await cs_web.get("/console/devices")
        assert refused.status_code == 403 and "<table" not in refused.text


async def test_a_scan_without_a_worker_or_with_a_revoked_key_books_nothing(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    """The scan post asks the API only (no whoami first): its refusals still send the handheld
    to sign-in (nobody signed in) or to pairing (key revoked), and nothing is picked."""
    from models.db import PickStop
    from tests.support.order_api import staff

    manager = await staff(api, "warehouse_manager")
    warehouses = (await api.get("/v1/warehouses", headers=manager)).json()["data"]
    sh01 = int(next(w["id"] for w in warehouses if w["code"] == "SH01"))
    async with browser(deps) as pda:
        await _paired_and_signed_in(pda, api, stack, sh01)
        device = {"X-API-Key": str(pda.cookies.get("houtai_device"))}
        await paid_order(stack, api, [(await only_in(stack, "SH01"), 2)])
        await plan_now(api, sh01)
        page = await pda.get("/pda/pick")
        expected = _field(page.text, "expected")
        at = await pda.post(
            "/pda/pick/location",
            data={"csrf": csrf_of(pda), "task_no": _field(page.text, "task_no"),
                  "expected": expected, "code": expected},
        )  # fmt: skip
        page = at  # the SKU screen itself
        task_no = _field(page.text, "task_no")
        form = {
            "csrf": csrf_of(pda),
            "scan_id": _field(page.text, "scan_id"),
            "task_no": task_no,
            "location": _field(page.text, "location"),
            "code": await _barcode(api, sku_code_of(page.text)),
        }
        # The worker signs out on the device (its own API call, not these pages).
        assert (await api.post("/v1/devices/me/sign-out", headers=device)).status_code == 200
        unsigned = await pda.post("/pda/pick/scan", data=form)
        assert unsigned.headers["location"] == "/pda/sign-in"
        assert (await pda.get("/pda/pick")).headers["location"] == "/pda/sign-in"
        listed = (await api.get("/v1/devices", headers=manager)).json()["data"]
        [mine] = [d for d in listed if d["name"] == "PDA-S1"]
        assert (await api.post(f"/v1/devices/{mine['id']}/revoke", headers=manager)).is_success
        revoked = await pda.post("/pda/pick/scan", data=form)
        assert revoked.headers["location"] == "/pda/pair?msg=unpaired"
    async with stack.sessions() as session:
        picked = await session.scalar(
            select(func.sum(PickStop.picked)).where(PickStop.task_no == task_no)
        )
    assert picked == 0


async def test_a_carton_is_picked_by_typing_its_quantity_with_the_scan(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    from tests.support.order_api import warehouse_id

    sh01 = await warehouse_id(stack, "SH01")
    order = await paid_order(stack, api, [(await only_in(stack, "SH01"), 3)])
    [parcel] = order["packages"]
    async with browser(deps) as pda:
        await _paired_and_signed_in(pda, api, stack, sh01)
        await plan_now(api, sh01)
        page = await at_the_location(pda, await pda.get("/pda/pick"))  # the SKU screen
        assert 'name="quantity"' in page.text and "整箱" in page.text
        remaining = int(re.search(r'id="remaining">(\d+)<', page.text).group(1))  # type: ignore[union-attr]
        form = {
            "csrf": csrf_of(pda),
            "task_no": _field(page.text, "task_no"),
            "location": _field(page.text, "location"),
            "code": await _barcode(api, sku_code_of(page.text)),
        }
        typo = await pda.post(
            "/pda/pick/scan", data={**form, "scan_id": "pda-qty-1", "quantity": "两"}
        )
        assert "msg=quantity" in typo.headers["location"]
        too_many = await pda.post(
            "/pda/pick/scan",
            data={**form, "scan_id": "pda-qty-2", "quantity": str(remaining + 1)},
        )
        shown = await pda.get(too_many.headers["location"])
        assert "result-error" in shown.text and "数量超出" in text_of(shown.text)
        carton = await pda.post(
            "/pda/pick/scan", data={**form, "scan_id": "pda-qty-3", "quantity": str(remaining)}
        )
        done = await pda.get(carton.headers["location"])
        assert "result-ok" in done.text
    async with stack.sessions() as session:
        picked = await session.scalar(
            select(func.sum(PickAllocation.picked)).where(
                PickAllocation.package_no == parcel["package_no"]
            )
        )
    assert picked == remaining  # one post, the whole carton
