"""The warehouse floor's whole journey on a handheld, in real Chromium at 360x640 (issue 15, done
means). The manager creates a device and gives a badge in the console; the handheld pairs by
typing the one-time code into its one focused input, the worker signs in by badge and picks
every task of the wave by typing scans: one stop comes up short ("found 1"), and a two-line
order goes over the put wall, unit by unit into its slot. Each package is then verified unit by
unit at the pack station (复核), weighed and its label printed; the packages are handed over by
scanning them onto their carrier's manifest (交接单), whose printable manifest names them.

After each stage the stock figures of every location the wave touched are exactly what the
wave's allocations say, the stock ledger balances (tests/support/invariants.py), and the
orders' timelines show the step with the device and the worker who did it."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

import httpx
from playwright.async_api import BrowserContext, Page, expect
from sqlalchemy import select

from models.db import (
    AuditEntry,
    LocationStock,
    PickAllocation,
    PickTask,
    Stock,
    StockMovement,
    User,
)
from tests.browser.conftest import photograph
from tests.browser.test_pda_journey import barcode_of, scan
from tests.support.invariants import assert_stock_invariants
from tests.support.order_api import (
    Headers,
    Json,
    package_row,
    paid_order,
    skus_in,
    staff,
    warehouse_id,
)
from tests.support.orders import eventually
from tests.support.pdf_read import page_texts
from tests.support.picking import plan_now
from tests.support.stack import Stack
from workers.seed import DEMO_PASSWORD

DEVICE, WORKER, BADGE = "PDA-W1", "ops", "EMP-0100"
BY = f"{DEVICE} / {WORKER}"  # how a timeline names a device and the worker signed in on it

# (on_hand, reserved) of each SKU in the warehouse, and (quantity, reserved) of each batch at
# each location (location_stocks.id) of those SKUs.
Pair = tuple[int, int]


@dataclass
class Figures:
    stocks: dict[int, Pair]
    places: dict[int, Pair]


async def _figures(stack: Stack, warehouse: int, skus: list[int]) -> Figures:
    """The figures as the database has them; the ledger must balance whenever they are read."""
    async with stack.sessions() as session:
        stocks = await session.scalars(
            select(Stock).where(Stock.warehouse_id == warehouse, Stock.sku_id.in_(skus))
        )
        places = await session.scalars(
            select(LocationStock).where(
                LocationStock.warehouse_id == warehouse, LocationStock.sku_id.in_(skus)
            )
        )
        shown = Figures(
            {s.sku_id: (s.on_hand, s.reserved) for s in stocks},
            {p.id: (p.quantity, p.reserved) for p in places},
        )
        await assert_stock_invariants(session)
    return shown


async def _allocations(stack: Stack, packages: list[str]) -> list[PickAllocation]:
    async with stack.sessions() as session:
        rows = await session.scalars(
            select(PickAllocation)
            .where(PickAllocation.package_no.in_(packages), PickAllocation.status != "cancelled")
            .order_by(PickAllocation.id)
        )
        return list(rows)


def _moved(figures: dict[int, Pair], key: int, quantity: int, reserved: int) -> None:
    now = figures[key]
    figures[key] = (now[0] + quantity, now[1] + reserved)


def _expected(
    before: Figures,
    ordered: dict[int, int],
    allocations: list[PickAllocation],
    stage: str,
    backordered: dict[int, int] | None = None,
) -> Figures:
    """What each stage leaves, from the figures before the orders were paid and the wave's
    allocations: paid reserves in the warehouse; planning holds units at their locations;
    picking writes off what was not found there (held units stay on the books, reserved) and
    the order reserves again what it backorders; handing over takes exactly the picked units
    out of their batches."""
    stocks, places = dict(before.stocks), dict(before.places)
    for sku, units in ordered.items():
        _moved(stocks, sku, 0, units)
    if stage == "paid":
        return Figures(stocks, places)
    if stage == "planned":
        for a in allocations:
            assert a.status == "open" and a.picked == 0, (a.id, a.status)
            _moved(places, a.location_stock_id, 0, a.quantity)
        return Figures(stocks, places)
    stocks = dict(before.stocks)
    picked: dict[int, int] = defaultdict(int)
    for a in allocations:
        missing = a.quantity - a.picked if a.status == "short" else 0
        assert a.status == "short" or a.picked == a.quantity, (a.id, a.status, a.picked)
        picked[a.sku_id] += a.picked
        if stage == "handed over":
            _moved(places, a.location_stock_id, -missing - a.picked, 0)
            _moved(stocks, a.sku_id, -missing - a.picked, 0)
        else:  # picked, packed: still at the location, reserved there and in the warehouse
            _moved(places, a.location_stock_id, -missing, a.picked)
            _moved(stocks, a.sku_id, -missing, 0)
    if stage != "handed over":
        for sku, units in picked.items():
            _moved(stocks, sku, 0, units)
    for sku, units in (backordered or {}).items():
        _moved(stocks, sku, 0, units)
    return Figures(stocks, places)


async def _timeline(api: httpx.AsyncClient, ops: Headers, order_no: str) -> list[Json]:
    shown = await api.get(f"/v1/orders/{order_no}", headers=ops)
    assert shown.status_code == 200, shown.text
    timeline: list[Json] = shown.json()["timeline"]
    return timeline


async def _steps(
    api: httpx.AsyncClient, ops: Headers, order_no: str, package_no: str, step: str
) -> list[Json]:
    return [
        row
        for row in await _timeline(api, ops, order_no)
        if row["package_no"] == package_no and row["step"] == step
    ]


async def _backordered(
    api: httpx.AsyncClient, ops: Headers, order_no: str, parcel: Json, not_found: int
) -> dict[int, int]:
    """The order's answer to units its wave did not find (policy backorder): once recorded,
    the units its backorder package reserves again, by SKU ({} when it refunded them)."""
    if not not_found:
        return {}

    async def answered() -> list[Json] | None:
        steps = ("backorder", "short_refunded")
        found = [row for row in await _timeline(api, ops, order_no) if row["step"] in steps]
        return found or None

    [answer] = await eventually(answered, f"{order_no}'s answer to the short")
    if answer["step"] == "short_refunded":
        return {}
    assert answer["detail"]["of"] == parcel["package_no"]
    shown = (await api.get(f"/v1/orders/{order_no}", headers=ops)).json()
    [again] = [p for p in shown["packages"] if p["package_no"] == answer["detail"]["package_no"]]
    assert again["warehouse_id"] == parcel["warehouse_id"]
    return {line["sku_id"]: line["quantity"] for line in again["lines"]}


async def _pair_in_the_console(page: Page, stack: Stack) -> str:
    """The manager gives the worker a badge and creates a device: its one-time code (and QR)."""
    async with stack.sessions() as session:
        ops_id = await session.scalar(select(User.id).where(User.username == WORKER))
    await page.goto("/console/devices")
    await page.get_by_label("用户名").fill("warehouse_manager")
    await page.get_by_label("密码", exact=True).fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await expect(page.get_by_role("heading", name="手持设备与工牌")).to_be_visible()
    await page.get_by_label("员工 ID").fill(str(ops_id))
    await page.get_by_label("工牌码").fill(BADGE)
    await page.get_by_role("button", name="发放工牌").click()
    await expect(page.locator("#badges")).to_contain_text(BADGE)
    await page.get_by_label("设备名称").fill(DEVICE)
    await page.get_by_role("button", name="创建并配对").click()
    code = (await page.locator("#pairing-code").inner_text()).strip()
    qr = page.get_by_role("img", name="配对二维码")
    await expect(qr).to_be_visible()
    # Loaded and decoded (visible alone may be before the picture arrives): a real picture.
    assert await qr.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
    return code


async def _sign_in(pda: Page, stack: Stack, code: str) -> None:
    await pda.goto("/pda/")
    await expect(pda).to_have_url(f"{stack.api}/pda/pair")
    await photograph(pda, "pda-pair")
    await scan(pda, code)
    await expect(pda).to_have_url(f"{stack.api}/pda/sign-in?msg=paired")
    await expect(pda.locator("#say")).to_contain_text(DEVICE)
    assert "hk_" not in await pda.content()  # the device's key is never shown
    await photograph(pda, "pda-sign-in")
    await scan(pda, BADGE)
    await expect(pda.locator("#say")).to_contain_text("请选择作业")
    await photograph(pda, "pda-home")


async def _pick_everything(
    pda: Page, barcodes: dict[str, str], short_sku: str
) -> tuple[list[str], bool]:
    """Every task, stop by stop, as the screen asks; the first stop of `short_sku` is reported
    short with one unit found. Answers the tasks whose units went to the put wall, and whether
    the short was reported."""
    await pda.get_by_role("link", name="拣货").click()
    to_wall: list[str] = []
    shorted = False
    for _ in range(80):
        say = await pda.locator("#say").inner_text()
        if "暂无拣货任务" in say:
            return to_wall, shorted
        if "已拣完" in say:
            wall = pda.locator("#go-put-wall")
            if await wall.count():
                href = await wall.get_attribute("href")
                assert href
                to_wall.append(href.split("task=")[1])
            await pda.get_by_role("link", name="下一个任务").click()
            continue
        if "扫描库位码" in say:
            await scan(pda, await pda.locator("input[name=expected]").input_value())
            await expect(pda.locator("#say")).to_contain_text("请扫描商品")
            continue
        assert "请扫描商品" in say, say
        sku_code = await pda.locator("#stop small").inner_text()
        remaining = int(await pda.locator("#remaining").inner_text())
        if sku_code == short_sku and not shorted and remaining >= 2:
            shorted = True
            await pda.locator("#short").click()
            await expect(pda.locator("#say")).to_contain_text("实际还找到几件")
            await scan(pda, str(remaining - 1))
            await expect(pda.locator("#msg")).to_contain_text("已登记缺货")
            continue
        await scan(pda, barcodes[sku_code])
        await expect(pda.locator("body")).to_have_class("pda result-ok")
    raise AssertionError("the pick screens never ran out of tasks")


async def _pack(
    pda: Page, api: httpx.AsyncClient, manager: Headers, barcodes: dict[str, str], number: str
) -> None:
    """Verify every unit into the box, weigh at the expected weight, print the label."""

    async def sorted_or_picked() -> bool | None:
        shown = (await api.get(f"/v1/packages/{number}/check", headers=manager)).json()
        return True if shown["status"] in ("released", "picked") else None

    await eventually(sorted_or_picked, f"{number} ready to pack")
    if not pda.url.endswith(f"/pda/pack/{number}"):
        await pda.goto("/pda/pack")
        await scan(pda, number)
    await scan(pda, "6999999999999")  # not in this box: refused before anything prints
    await expect(pda.locator("#msg")).to_contain_text("错件")
    await expect(pda.locator("body")).to_have_class("pda result-error")
    rows = pda.locator("#box tr")
    for row in range(await rows.count()):
        sku_code = await rows.nth(row).locator("small").inner_text()
        scanned, wanted = (await rows.nth(row).locator("td.qty").inner_text()).split("/")
        for _ in range(int(wanted) - int(scanned)):
            await scan(pda, barcodes[sku_code])
            await expect(pda.locator("body")).to_have_class("pda result-ok")
    await expect(pda.locator("#say")).to_contain_text("请称重")
    expected = (await api.get(f"/v1/packages/{number}", headers=manager)).json()
    await scan(pda, str(expected["expected_weight_g"]))
    label = pda.get_by_role("link", name="打印面单")
    if not await label.count():  # the carrier's waybill took a moment: the screen's refresh

        async def waybilled() -> bool:
            shown = (await api.get(f"/v1/packages/{number}", headers=manager)).json()
            return bool(shown["waybill_no"])

        await eventually(waybilled, f"{number}'s waybill")
        await pda.get_by_role("link", name="刷新").click()
    await expect(label).to_be_visible()
    href = await label.get_attribute("href")
    assert href and await label.get_attribute("target") == "_blank"
    pdf = await pda.request.get(href)
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    assert (await pdf.body()).startswith(b"%PDF")


async def _hand_over(pda: Page, carrier: str, codes: list[tuple[str, str, str]]) -> str:
    """Open the carrier's manifest, scan each (package, code it is scanned by, tracking number),
    hand over and print the manifest, which names every tracking number; answers the manifest's
    number. The first manifest also sees a stranger
    and a package scanned twice, both refused in red."""
    await pda.goto("/pda/")
    await pda.get_by_role("link", name="交接").click()
    await expect(pda.locator("#say")).to_contain_text("交接单")
    await pda.locator(f"#open-{carrier}").click()
    await expect(pda).to_have_url(re.compile(r"/pda/handover/MF\d+$"))
    await expect(pda.locator("#count")).to_have_text("0 件")
    number = pda.url.rsplit("/", 1)[1]
    await scan(pda, "NOT-A-PACKAGE")
    await expect(pda.locator("#msg")).to_contain_text("未知包裹")
    await expect(pda.locator("body")).to_have_class("pda result-error")
    for count, (package_no, code, _) in enumerate(codes, start=1):
        await scan(pda, code)
        await expect(pda.locator("body")).to_have_class("pda result-ok")
        await expect(pda.locator("#count")).to_have_text(f"{count} 件")
        await expect(pda.locator("#last")).to_contain_text(package_no)
    await photograph(pda, "pda-handover")
    await scan(pda, codes[-1][1])  # scanned twice: refused, counted once
    await expect(pda.locator("#msg")).to_contain_text("已在交接单上")
    await expect(pda.locator("#count")).to_have_text(f"{len(codes)} 件")
    await pda.get_by_role("button", name=f"交接 {len(codes)} 件").click()
    await expect(pda.locator("#msg")).to_contain_text("已交接")
    await expect(pda.locator("body")).to_have_class("pda result-ok")
    printed = pda.get_by_role("link", name="打印交接单")
    href = await printed.get_attribute("href")
    assert href and await printed.get_attribute("target") == "_blank"
    pdf = await pda.request.get(href)
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    text = "\n".join(page_texts(await pdf.body()))
    assert number in text and all(tracking in text for _, _, tracking in codes)
    return number


async def test_pair_sign_in_pick_a_whole_wave_pack_print_and_hand_over_on_a_handheld(
    page: Page,
    handheld: tuple[BrowserContext, list[str]],
    stack: Stack,
    api: httpx.AsyncClient,
) -> None:
    context, problems = handheld
    manager = await staff(api, "warehouse_manager")
    sh01 = await warehouse_id(stack, "SH01")
    one, two, three = skus = await skus_in(stack, "SH01", count=3)
    ops = await staff(api, "ops")
    codes = {sku: (await api.get(f"/v1/skus/{sku}", headers=ops)).json()["code"] for sku in skus}
    barcodes = {code: await barcode_of(api, code) for code in codes.values()}
    before = await _figures(stack, sh01, skus)

    # Paid: reserved in the warehouse, nothing held at a location yet.
    wall_order = await paid_order(stack, api, [(one, 1), (two, 1)], key="cart-wall")
    short_order = await paid_order(stack, api, [(three, 2)], key="cart-short")
    [wall_parcel] = wall_order["packages"]
    [short_parcel] = short_order["packages"]
    parcels = {wall_parcel["package_no"]: wall_order, short_parcel["package_no"]: short_order}
    ordered = {one: 1, two: 1, three: 2}
    assert await _figures(stack, sh01, skus) == _expected(before, ordered, [], "paid")

    code = await _pair_in_the_console(page, stack)
    pda = await context.new_page()
    await _sign_in(pda, stack, code)

    # Planned: the wave holds the units at their locations.
    waves = {wave["wave_no"] for wave in await plan_now(api, sh01)}
    planned = await _allocations(stack, list(parcels))
    assert {a.package_no for a in planned} == set(parcels)
    assert await _figures(stack, sh01, skus) == _expected(before, ordered, planned, "planned")

    # Picked, stop by stop, one short; the two-line order over the put wall.
    to_wall, shorted = await _pick_everything(pda, barcodes, codes[three])
    assert to_wall, "the two-line order's task did not send its units to the put wall"
    assert shorted
    await pda.goto("/pda/put-wall?wave=WV0000")  # no such wave: said, in red
    await expect(pda.locator("#msg")).to_contain_text("没有这个波次")
    await pda.goto(f"/pda/put-wall?task={to_wall[0]}")
    await expect(pda.locator("#say")).to_contain_text("请逐件扫描商品")
    await scan(pda, "6900000000000")  # a stranger: the exception tote, in red
    await expect(pda.locator("#msg")).to_contain_text("异常筐")
    await expect(pda.locator("body")).to_have_class("pda result-error")
    for sku in (one, two):
        await scan(pda, barcodes[codes[sku]])
        await expect(pda.locator("#put")).to_contain_text("号格")
    await expect(pda.locator("#complete")).to_contain_text(wall_parcel["package_no"])
    await expect(pda.locator("#say")).to_contain_text("全部分拣完毕")
    await photograph(pda, "pda-put-wall")

    for package_no, order in parcels.items():

        async def picked_step(order_no: str = order["order_no"], number: str = package_no) -> bool:
            return bool(await _steps(api, ops, order_no, number, "picked"))

        await eventually(picked_step, f"{package_no} picked in its timeline")
    picked = await _allocations(stack, list(parcels))
    missing = {
        a.sku_id: a.quantity - a.picked for a in picked if a.status == "short"
    }  # what the worker did not find: the one unit reported short, of the short SKU only
    assert missing == {three: 1}
    [short_step] = await _steps(
        api, ops, short_order["order_no"], short_parcel["package_no"], "picked"
    )
    assert short_step["detail"]["wave_no"] in waves
    units = {sku: sum(a.picked for a in picked if a.sku_id == sku) for sku in skus}
    not_found = int(short_step["detail"]["missing_units"])  # not replaced at another location
    assert units == {one: 1, two: 1, three: 2 - not_found}
    backordered = await _backordered(api, ops, short_order["order_no"], short_parcel, not_found)
    assert backordered in ({}, {three: not_found})  # reserved again in SH01, or refunded
    after_pick = await _figures(stack, sh01, skus)
    assert after_pick == _expected(before, ordered, picked, "picked", backordered)
    async with stack.sessions() as session:
        written_off = list(
            await session.execute(
                select(StockMovement.on_hand_delta, StockMovement.actor).where(
                    StockMovement.movement_type == "pick_short",
                    StockMovement.ref_no == short_parcel["package_no"],
                )
            )
        )
        tasks = list(
            await session.scalars(select(PickTask.task_no).where(PickTask.wave_no.in_(waves)))
        )
        pickers = set(
            await session.execute(
                select(AuditEntry.actor_name, AuditEntry.detail["worker"].astext).where(
                    AuditEntry.action.in_(("pick_task.scan", "pick_task.short")),
                    AuditEntry.detail["ref"].astext.in_(tasks),
                )
            )
        )
    assert [tuple(row) for row in written_off] == [(-1, f"api_key:{BY}")]  # the ledger's actor
    assert pickers == {(DEVICE, WORKER)}  # every pick scan names the device and the worker

    # Packed, unit by unit, and labelled: stock does not move at the pack station.
    await pda.locator("#pack-it").click()
    await expect(pda).to_have_url(re.compile(f"/pda/pack/{wall_parcel['package_no']}$"))
    await _pack(pda, api, manager, barcodes, wall_parcel["package_no"])
    await _pack(pda, api, manager, barcodes, short_parcel["package_no"])
    for package_no, order in parcels.items():

        async def labelled(order_no: str = order["order_no"], number: str = package_no) -> bool:
            return bool(await _steps(api, ops, order_no, number, "waybill_created"))

        await eventually(labelled, f"{package_no} labelled in its timeline")
        [packed] = await _steps(api, ops, order["order_no"], package_no, "packed")
        assert (packed["actor_kind"], packed["actor_name"]) == ("device", BY)
    check = (
        await api.get(f"/v1/packages/{short_parcel['package_no']}/check", headers=manager)
    ).json()
    assert sum(line["quantity"] for line in check["lines"]) == units[three]  # short: not boxed
    assert await _figures(stack, sh01, skus) == after_pick

    # Handed over on the carrier's manifest: the picked units leave their batches.
    carriers: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for package_no in parcels:
        view = (await api.get(f"/v1/packages/{package_no}", headers=manager)).json()
        tracking = view["tracking_no"]  # the short's package by the number on its label
        by = tracking if package_no == short_parcel["package_no"] else package_no
        carrier = (await package_row(stack, package_no)).carrier_code
        carriers[carrier].append((package_no, by, tracking))
    manifests = [await _hand_over(pda, carrier, on) for carrier, on in carriers.items()]
    for number, on in zip(manifests, carriers.values(), strict=True):
        shown = (await api.get(f"/v1/manifests/{number}", headers=manager)).json()
        assert (shown["status"], shown["count"]) == ("handed_over", len(on))
        assert (shown["handed_over_by"], shown["handed_over_worker"]) == (DEVICE, WORKER)
    assert sum(len(on) for on in carriers.values()) == len(parcels)
    for package_no, order in parcels.items():

        async def shipped(
            order_no: str = order["order_no"], number: str = package_no
        ) -> list[tuple[str, str]]:
            return [
                (row["actor_kind"], row["actor_name"])
                for row in await _steps(api, ops, order_no, number, "shipped")
            ]

        assert await eventually(shipped, f"{package_no} shipped in its timeline") == [
            ("device", BY)
        ]
    assert await _figures(stack, sh01, skus) == _expected(
        before, ordered, picked, "handed over", backordered
    )
    async with stack.sessions() as session:
        sold = list(
            await session.execute(
                select(StockMovement.sku_id, StockMovement.on_hand_delta).where(
                    StockMovement.movement_type == "sales_out",
                    StockMovement.ref_no.in_(list(parcels)),
                )
            )
        )
    sold_units: dict[int, int] = defaultdict(int)
    for sku, delta in sold:
        sold_units[sku] -= delta
    assert sold_units == units  # the ledger sells exactly what was picked, batch by batch

    await pda.goto("/pda/move")  # the move screen (moves themselves: tests/console), for the README
    await expect(pda.locator("input[data-scan]")).to_be_focused()
    await photograph(pda, "pda-move")
    assert problems == []
