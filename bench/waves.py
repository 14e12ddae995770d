"""Wave picking benchmark (DESIGN §10, issue 4), on the embedded stack (`houtai up` in a temp
dir) and a scratch database on its PostgreSQL:

  1. planning: --orders (10,000 and 100,000, each in a scratch database of its own) released
     outbound orders of SH01 — 55 % single unit, 10 %
     single line of several units, 35 % multi-line — planned into waves by the planner's own
     code (FOR UPDATE SKIP LOCKED, grouping, caps) as staff "plan now" does (every wave
     released, so all are planned; the figure says how many were planned, held and flagged)
     and every wave built: lines allocated to
     locations/batches (FEFO, location-level holds), stops cut into routed pick tasks, put-wall
     slots. Target ≤ 1 s for 10,000 and ≤ 10 s for 100,000 (DESIGN §10). The orders are
     written straight to the scratch database beforehand (not timed): placing 10,000 orders
     through the API is the order bench's job.
  2. routes: over those tasks, the total walk of S-shape, largest gap, the chosen (shorter of
     the three) and the optimal (Ratliff–Rosenthal) route on the demo layout, each relative to
     the optimum.
  3. devices: --picking-orders orders placed and paid through the API, planned with "plan now",
     then --devices handhelds claim and scan every task through the device API at once: pick
     tasks completed per second (and scans per second).
  4. handheld pages: --page-orders orders, twice (placed, paid, planned, built each time), picked
     one unit per scan by --devices paired handhelds with a worker signed in: first through the
     device API (POST /v1/pick-tasks/{no}/scans with the device's key), then through the
     handheld pages as a browser does (the /pda/pick/scan form post, answered with the next
     screen; the location scan between stops is not counted). Scans per second
     (each device's scans over the time it spent in them, summed), the ratio (target ≥ 0.8×),
     and the CPU one scan cost every process.

Figures are printed, not asserted: the exit status is non-zero only if the run itself breaks."""

from __future__ import annotations

import argparse
import asyncio
import html
import random
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import _cpu
import _figures
import _floor
import _routes
import _stack
import httpx
from _figures import say
from _stack import Stack, ok
from sqlalchemy import func, insert, select, text

from core.db import SessionFactory, make_engine, make_session_factory
from core.security import hash_api_key, new_api_key
from migrations import upgrade_to_head
from models.contracts.waves import PlanRequest, PlanResult, WaveRules
from models.db import (
    ApiKey,
    LocationStock,
    Order,
    OutboundOrder,
    Package,
    PackageLine,
    PickTask,
    Reservation,
    Sku,
    User,
    Warehouse,
)
from services import wave_planning
from workers.seed import DEMO_DEVICE_KEYS, DEMO_PASSWORD, seed_demo

NOW = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai: cutoffs at 12:00, 18:00
# DESIGN §10: 10,000 released packages planned into routed waves in ≤ 1 s, 100,000 in ≤ 10 s.
PLAN_TARGET_S_PER_ORDER = 1 / 10_000


# --- 1. planning ------------------------------------------------------------------------------


async def scratch_database(stack: Stack) -> tuple[SessionFactory, Any]:
    admin = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{stack.pg_port}/postgres")
    async with admin.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("DROP DATABASE IF EXISTS bench_waves"))
        await conn.execute(text("CREATE DATABASE bench_waves"))
    await admin.dispose()
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{stack.pg_port}/bench_waves"
    await asyncio.to_thread(upgrade_to_head, url)
    engine = make_engine(url, pool_size=2)
    sessions = make_session_factory(engine)
    await seed_demo(sessions)
    return sessions, engine


async def released_orders(sessions: SessionFactory, count: int) -> int:
    """`count` paid orders of SH01, one package each, waiting for a wave; stock to cover them."""
    rng = random.Random(7)
    async with sessions() as session, session.begin():
        warehouse = await session.scalar(select(Warehouse.id).where(Warehouse.code == "SH01"))
        skus = sorted(
            set(
                await session.scalars(
                    select(LocationStock.sku_id).where(LocationStock.warehouse_id == warehouse)
                )
            )
        )
        # Plenty on every batch: the bench measures planning, not running out (2,000 more
        # units per batch for every 10,000 orders).
        await session.execute(
            text("UPDATE location_stocks SET quantity = quantity + :more WHERE warehouse_id = :w"),
            {"w": warehouse, "more": 2000 * max(1, -(-count // 10_000))},
        )
        await session.execute(
            text(
                "UPDATE stocks s SET on_hand = (SELECT COALESCE(SUM(quantity), 0) "
                "FROM location_stocks l "
                "WHERE l.sku_id = s.sku_id AND l.warehouse_id = s.warehouse_id) "
                "WHERE s.warehouse_id = :w"
            ),
            {"w": warehouse},
        )
        key = await session.scalar(select(ApiKey.id).where(ApiKey.role == "storefront"))
        orders, packages, lines, held, outbound = [], [], [], [], []
        units = 0
        for i in range(count):
            order_no, package_no = f"SO9{i:015d}", f"PK9{i:017d}"
            roll = rng.random()
            if roll < 0.55:
                cart = [(rng.choice(skus), 1)]
            elif roll < 0.65:
                cart = [(rng.choice(skus), rng.randint(2, 4))]
            else:
                picked = rng.sample(skus, rng.randint(2, 4))
                cart = [(sku, rng.randint(1, 2)) for sku in picked]
            orders.append(_order(order_no, key))
            packages.append(_package(order_no, package_no, warehouse))
            for n, (sku, quantity) in enumerate(cart, start=1):
                line = {"package_no": package_no, "line_no": n, "sku_id": sku, "quantity": quantity}
                lines.append(line)
                held.append(
                    {**line, "order_no": order_no, "warehouse_id": warehouse, "status": "held"}
                )
                units += quantity
            outbound.append(
                {
                    "package_no": package_no,
                    "order_no": order_no,
                    "warehouse_id": warehouse,
                    "carrier_code": "SF",
                    "status": "waiting",
                    "released_at": NOW - timedelta(minutes=rng.randint(1, 120)),
                }
            )
        for table, rows in (
            (Order, orders),
            (Package, packages),
            (PackageLine, lines),
            (Reservation, held),
            (OutboundOrder, outbound),
        ):
            for start in range(0, len(rows), 5_000):
                await session.execute(insert(table), rows[start : start + 5_000])
        await session.execute(
            text(
                "UPDATE stocks s SET reserved = (SELECT COALESCE(SUM(quantity), 0) FROM "
                "reservations r WHERE r.sku_id = s.sku_id AND r.warehouse_id = s.warehouse_id "
                "AND r.status = 'held') WHERE s.warehouse_id = :w"
            ),
            {"w": warehouse},
        )
    return int(warehouse or 0)


def _order(order_no: str, key: int | None) -> dict[str, Any]:
    return {
        "order_no": order_no,
        "api_key_id": key,
        "customer_id": 1,
        "status": "fulfilling",
        "region_code": "310115",
        "address": _stack.ADDRESS,
        "goods_list_fen": 0,
        "discount_fen": 0,
        "freight_fen": 0,
        "payable_fen": 0,
        "payment_deadline": NOW,
        "placed_at": NOW,
    }


def _package(order_no: str, package_no: str, warehouse: int | None) -> dict[str, Any]:
    return {
        "package_no": package_no,
        "order_no": order_no,
        "warehouse_id": warehouse,
        "status": "released",
        "carrier_code": "SF",
        "expected_weight_g": 500,
        "tracking_events": [],
    }


async def plan_and_build(sessions: SessionFactory, warehouse: int) -> tuple[float, PlanResult, int]:
    """One planning run as staff "plan now" does it (every wave released, full or not, so all
    the orders are planned): plan, then build every wave (allocate, route, slots), in one
    transaction. Returns (seconds, the plan, tasks)."""
    began = time.perf_counter()
    async with sessions() as session:
        plan = await wave_planning.plan(
            session,
            PlanRequest(
                warehouse_id=warehouse,
                plan_key="bench",
                now=NOW,
                rules=WaveRules(),
                release_all=True,
            ),
        )
        await session.commit()
    elapsed = time.perf_counter() - began
    async with sessions() as session:
        tasks = await session.scalar(select(func.count()).select_from(PickTask))
    return elapsed, plan, int(tasks or 0)


async def route_rows(sessions: SessionFactory, warehouse: int) -> list[tuple[str, ...]]:
    say("[2] route lengths")
    lengths = await _routes.route_lengths(sessions, warehouse)
    best = lengths["optimal"]
    return [
        (
            f"route length, {name}",
            f"{lengths[name] / 100:,.0f} m",
            f"{lengths[name] / best:.3f}× optimal",
            "",
        )
        for name in ("s_shape", "largest_gap", "shorter heuristic", "chosen", "optimal")
    ]


# --- 3. devices -------------------------------------------------------------------------------


async def place_paid(stack: Stack, api: httpx.AsyncClient, count: int, prefix: str = "") -> None:
    async def all_waiting() -> int:
        async with stack.sessions() as session:
            return int(await session.scalar(text("SELECT count(*) FROM outbound_orders")) or 0)

    before = await all_waiting()
    async with stack.sessions() as session:
        skus = list(
            (
                await session.execute(
                    text(
                        "SELECT s.sku_id FROM stocks s JOIN warehouses w ON w.id = s.warehouse_id "
                        "WHERE w.code = 'SH01' AND s.on_hand - s.reserved >= 40 ORDER BY sku_id"
                    )
                )
            ).scalars()
        )
    numbers = []
    for i in range(count):
        body = _stack.order_body(f"wave-bench-{prefix}{i}", [skus[i % len(skus)]])
        numbers.append(
            ok(await api.post("/v1/orders", json=body, headers=_stack.SHOP), 201)["order_no"]
        )
    async with httpx.AsyncClient(base_url=stack.payments, timeout=30) as provider:
        for number in numbers:
            payment = ok(await api.post(f"/v1/orders/{number}/payments", headers=_stack.SHOP), 201)
            ok(
                await provider.post(
                    f"/v1/payments/{payment['payment_id']}/simulate", json={"outcome": "succeeded"}
                ),
                200,
            )

    await _stack.until(
        all_waiting, lambda n: n >= before + count, "packages released", within=300, interval=0.5
    )


async def devices(stack: Stack, count: int) -> list[dict[str, str]]:
    keys = [{"X-API-Key": DEMO_DEVICE_KEYS["SH01"]}]
    async with stack.sessions() as session:
        warehouse = await session.scalar(select(Warehouse.id).where(Warehouse.code == "SH01"))
        for n in range(count - 1):
            key, prefix = new_api_key()
            session.add(
                ApiKey(
                    name=f"bench-pda-{n}",
                    prefix=prefix,
                    key_hash=hash_api_key(key),
                    role="device",
                    warehouse_id=warehouse,
                )
            )
            keys.append({"X-API-Key": key})
        await session.commit()
    return keys


async def picking(stack: Stack, args: argparse.Namespace) -> list[tuple[str, ...]]:
    async with httpx.AsyncClient(base_url=stack.api, timeout=120) as api:
        await place_paid(stack, api, args.picking_orders)
        login = ok(
            await api.post(
                "/v1/auth/login", json={"username": "warehouse_manager", "password": DEMO_PASSWORD}
            ),
            200,
        )
        manager = {"Authorization": f"Bearer {login['access_token']}"}
        async with stack.sessions() as session:
            warehouse = await session.scalar(select(Warehouse.id).where(Warehouse.code == "SH01"))
        waves = ok(await api.post(f"/v1/warehouses/{warehouse}/waves/plan", headers=manager), 200)

        async def built() -> int:
            async with stack.sessions() as session:
                return int(
                    await session.scalar(text("SELECT count(*) FROM waves WHERE NOT built")) or 0
                )

        await _stack.until(built, lambda n: n == 0, "waves built", within=120, interval=0.3)
        hands = await devices(stack, args.devices)
        began = time.perf_counter()
        done = await asyncio.gather(*(_floor.pick_tasks(api, hand) for hand in hands))
        elapsed = time.perf_counter() - began
        counts = {"tasks": sum(t for t, _ in done), "scans": sum(s for _, s in done)}
    broken = await _stack.invariant_violations(stack.sessions)
    return [
        (
            f"pick tasks/s, {args.devices} devices ({counts['tasks']} tasks, "
            f"{len(waves['waves'])} waves)",
            f"{counts['tasks'] / elapsed:.1f}/s",
            "",
            "",
        ),
        ("scans/s", f"{counts['scans'] / elapsed:.1f}/s", "", ""),
        ("stock ledgers balance", str(broken or "yes"), "yes", "MISSED" if broken else "met"),
    ]


# --- 4. handheld pages next to the device API --------------------------------------------------


async def planned(stack: Stack, api: httpx.AsyncClient, manager: dict[str, str], count: int,
                  prefix: str) -> None:  # fmt: skip
    """`count` more orders placed, paid and planned into built waves."""
    await place_paid(stack, api, count, prefix)
    async with stack.sessions() as session:
        warehouse = await session.scalar(select(Warehouse.id).where(Warehouse.code == "SH01"))
    ok(await api.post(f"/v1/warehouses/{warehouse}/waves/plan", headers=manager), 200)

    async def unbuilt() -> int:
        async with stack.sessions() as session:
            return int(
                await session.scalar(text("SELECT count(*) FROM waves WHERE NOT built")) or 0
            )

    await _stack.until(unbuilt, lambda n: n == 0, "waves built", within=120, interval=0.3)


async def handhelds(stack: Stack, api: httpx.AsyncClient, manager: dict[str, str],
                    count: int) -> list[httpx.AsyncClient]:  # fmt: skip
    """`count` browsers on the handheld pages, each paired with a new device of SH01 (its key in
    the HttpOnly cookie) and a worker signed in by badge."""
    async with stack.sessions() as session:
        warehouse = await session.scalar(select(Warehouse.id).where(Warehouse.code == "SH01"))
        worker = await session.scalar(select(User.id).where(User.username == "ops"))
    badge = {"user_id": worker, "badge_code": "EMP-BENCH-1"}
    ok(await api.post(f"/v1/warehouses/{warehouse}/badges", json=badge, headers=manager), 201)
    browsers = []
    for n in range(count):
        path = f"/v1/warehouses/{warehouse}/devices"
        device = ok(await api.post(path, json={"name": f"bench-hh-{n}"}, headers=manager), 201)
        browser = httpx.AsyncClient(base_url=stack.api, timeout=120)
        await browser.get("/pda/pair")
        csrf = str(browser.cookies.get("houtai_csrf"))
        for form, data in (("/pda/pair", {"code": device["pairing_code"]}),
                           ("/pda/sign-in", {"badge": "EMP-BENCH-1"})):  # fmt: skip
            answer = await browser.post(form, data={"csrf": csrf, **data})
            if answer.status_code != 303 or "wrong" in answer.headers.get("location", ""):
                raise RuntimeError(f"{form}: {answer.status_code} {answer.headers}")
        browsers.append(browser)
    return browsers


async def api_unit_scans(api: httpx.AsyncClient, device: dict[str, str]) -> tuple[int, float]:
    """Every task through the device API, one unit per scan: (scans, seconds spent in them)."""
    scans, spent = 0, 0.0
    while (answer := await api.get("/v1/devices/me/next-task", headers=device)).status_code == 200:
        task = answer.json()
        while task["next"]["action"] == "pick":
            stop = task["next"]["stop"]
            body = {
                "scan_id": f"unit-{task['task_no']}-{stop['stop_no']}-{stop['picked']}",
                "location_barcode": stop["location_barcode"],
                "sku_barcode": stop["sku_barcode"],
                "quantity": 1,
            }
            began = time.perf_counter()
            scan = await api.post(f"/v1/pick-tasks/{task['task_no']}/scans", json=body,
                                  headers=device)  # fmt: skip
            spent += time.perf_counter() - began
            task = ok(scan, 200)
            scans += 1
    return scans, spent


def _form(page: str, action: str) -> dict[str, str]:
    """The hidden fields of the page's form posting to `action`."""
    form = page.split(f'action="{action}"', 1)[1].split("</form>", 1)[0]
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)
    return {name: html.unescape(value) for name, value in fields}


async def page_scans(browser: httpx.AsyncClient, barcodes: dict[str, str]) -> tuple[int, float]:
    """Every task through the handheld pages as a worker does it: the location scanned, then
    each unit of the stop's SKU. (scans, seconds spent in the scan posts and their pages)."""
    scans, spent = 0, 0.0
    page = await browser.get("/pda/pick")
    while True:
        text_ = page.text
        if 'action="/pda/pick/scan"' in text_:
            data = _form(text_, "/pda/pick/scan")
            sku = html.unescape(re.findall(r"<small>([^<]+)</small>", text_)[0])
            began = time.perf_counter()
            page = await browser.post("/pda/pick/scan", data={**data, "code": barcodes[sku]},
                                      follow_redirects=True)  # fmt: skip
            spent += time.perf_counter() - began
            scans += 1
            shown = page.headers.get("x-pda-url") or str(page.url)  # the next screen's address
            if page.status_code != 200 or "ok=1" not in shown:
                raise RuntimeError(f"scan refused: {shown} {page.status_code}")
        elif 'action="/pda/pick/location"' in text_:
            data = _form(text_, "/pda/pick/location")
            page = await browser.post("/pda/pick/location", data={**data, "code": data["expected"]},
                                      follow_redirects=True)  # fmt: skip
        elif "finished=" in str(page.url):
            page = await browser.get("/pda/pick")
        else:
            return scans, spent


async def pages_vs_api(stack: Stack, args: argparse.Namespace) -> list[tuple[str, ...]]:
    async with httpx.AsyncClient(base_url=stack.api, timeout=120) as api:
        manager = {"Authorization": f"Bearer {await _floor.login(api, 'warehouse_manager')}"}
        browsers = await handhelds(stack, api, manager, args.devices)
        async with stack.sessions() as session:
            barcodes = {c: b for c, b in (await session.execute(select(Sku.code, Sku.barcode)))}
        try:
            await planned(stack, api, manager, args.page_orders, "api-")
            keys = [{"X-API-Key": str(b.cookies.get("houtai_device"))} for b in browsers]
            cpu = [_cpu.snapshot(stack.up_pid)]
            raw = await asyncio.gather(*(api_unit_scans(api, key) for key in keys))
            cpu.append(_cpu.snapshot(stack.up_pid))
            await planned(stack, api, manager, args.page_orders, "pages-")
            cpu.append(_cpu.snapshot(stack.up_pid))
            say("[4] the same through the handheld pages")
            pages = await asyncio.gather(*(page_scans(b, barcodes) for b in browsers))
            cpu.append(_cpu.snapshot(stack.up_pid))
        finally:
            for browser in browsers:
                await browser.aclose()
    rate = {
        name: sum(n / s for n, s in done if s) for name, done in (("api", raw), ("pages", pages))
    }
    scans = {"api": sum(n for n, _ in raw), "pages": sum(n for n, _ in pages)}
    cost = {}
    for name, (a, b) in (("api", (cpu[0], cpu[1])), ("pages", (cpu[2], cpu[3]))):
        spent = _cpu.spent(a, b)
        split = ", ".join(
            f"{role} {s * 1000 / max(scans[name], 1):.0f}" for role, s in spent.items()
        )
        say(f"[4] {name}: {scans[name]} scans, CPU ms per scan {split}")
        cost[name] = sum(spent.values()) / max(scans[name], 1)
    ratio = rate["pages"] / rate["api"] if rate["api"] else 0.0
    return [
        (f"scans/s, device API, {args.devices} paired devices, 1 unit a scan ({scans['api']})",
         f"{rate['api']:.1f}/s", "", ""),
        (f"scans/s, handheld pages (post + next page) ({scans['pages']})",
         f"{rate['pages']:.1f}/s", "", ""),
        ("pages / API", f"{ratio:.2f}×", "≥ 0.8×", "met" if ratio >= 0.8 else "MISSED"),
        ("CPU per scan, all processes: API / pages",
         f"{cost['api'] * 1000:.0f} / {cost['pages'] * 1000:.0f} ms", "", ""),
    ]  # fmt: skip


# --- the run ----------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    async with _stack.running_stack() as stack:
        for n, size in enumerate(args.orders):
            say(f"[1] writing {size:,} released outbound orders to a scratch database")
            sessions, engine = await scratch_database(stack)
            try:
                warehouse = await released_orders(sessions, size)
                say(f"[1] planning and building {size:,}")
                total, plan, tasks = await plan_and_build(sessions, warehouse)
                planned = sum(w.orders for w in plan.waves)
                target = PLAN_TARGET_S_PER_ORDER * size
                rows.append(
                    (
                        f"plan {size:,} released orders: {planned:,} planned into "
                        f"{len(plan.waves)} routed waves ({tasks} tasks), {plan.held:,} held, "
                        f"{plan.flagged:,} flagged",
                        f"{total:.2f} s",
                        f"≤ {target:g} s, all {size:,}",
                        "met" if total <= target and planned == size else "MISSED",
                    )
                )
                if n == 0:
                    rows += await route_rows(sessions, warehouse)
            finally:
                await engine.dispose()
        if args.picking_orders:
            say("[3] devices picking through the API")
            rows += await picking(stack, args)
        if args.page_orders:
            say("[4] handheld pages next to the device API")
            rows += await pages_vs_api(stack, args)
    return rows


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="2,000 orders to plan, 40 to pick")
    p.add_argument(
        "--orders",
        help="released orders to plan, one scratch database per size, e.g. 10000,100000 "
        "[10,000 and 100,000; quick 2,000]",
    )
    p.add_argument("--picking-orders", type=int, help="orders picked by devices [120; quick 40]")
    p.add_argument("--page-orders", type=int, help="orders picked twice in 4 [60; quick 30]")
    p.add_argument("--devices", type=int, default=4, help="handhelds picking at once [4]")
    args = p.parse_args(argv)
    sizes = args.orders or ("2000" if args.quick else "10000,100000")
    args.orders = [int(n) for n in str(sizes).split(",") if n.strip()]
    if args.picking_orders is None:
        args.picking_orders = 40 if args.quick else 120
    if args.page_orders is None:
        args.page_orders = 30 if args.quick else 60
    return _figures.run_bench(run, args, ("figure", "houtai", "target", ""))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
