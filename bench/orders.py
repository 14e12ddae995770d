"""Order lifecycle benchmark against DESIGN §10, each figure next to its Temporal baseline
measured on the same dev server in the same run:

  (a) create-order latency (POST /v1/orders) vs a bare Update-with-Start, at 50 clients;
  (b) full-lifecycle orders/s and CPU per lifecycle vs the floor: houtai's workflows, children,
      timers, activities and messages with no-op bodies, driven the same way;
  (c) a flash sale: many buyers, 100 units: accepted, oversold, rejection latency.

Targets are reported, not asserted: the exit status is non-zero only if the run itself breaks."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import _cpu
import _figures
import _floor
import _stack
import _topology
import httpx
from _baselines import (
    FLOOR_ACTIVITIES,
    FLOOR_WORKFLOWS,
    USE_EXISTING,
    BareWorkflow,
    floor_lifecycle,
    floor_warehouses,
    noop,
)
from _figures import ms, percentile, say
from _http import Http, http_clients, watch
from _stack import SHOP, Stack, ok, order_body
from sqlalchemy import text
from temporalio.client import WithStartWorkflowOperation
from temporalio.worker import Worker

from workers.seed import DEMO_DEVICE_KEYS
from workflows.order import OrderWorkflow

Row = tuple[str, ...]  # figure, houtai, baseline, ratio, target, verdict
LIST_WAVES_EVERY_S = 2.0  # the warehouse floor's look for waves whose plan answer was lost


# --- the storefront, devices and carrier, over HTTP ----------------------------------------


@dataclass
class Skus:
    create_pool: list[int]  # stocked in both warehouses: one-package orders from SH01
    pairs: list[tuple[int, int]]  # (SH01-only, GZ01-only): two-package orders
    flash: int  # SH01-only, left with exactly --flash-units sellable
    codes: dict[int, str]  # warehouse id → code


async def pick_skus(stack: Stack, args: Any) -> Skus:
    """Choose demo SKUs by where they are stocked and give them enough stock (by the ledger)."""
    rows, codes = await stocked_skus(stack)
    only = {c: [sku for sku, code, n in rows if n == 1 and code == c] for c in ("SH01", "GZ01")}
    wh = {code: warehouse_id for warehouse_id, code in codes.items()}
    pool = [sku for sku, code, count in rows if count > 1 and code == "SH01"][:8]
    flash = only["SH01"].pop()
    units = 2 * (args.warmup + args.create_requests) // len(pool) + 10
    for sku in pool:
        await _stack.adjust_stock(stack.sessions, sku, wh["SH01"], units)
    pairs = await stock_pairs(stack, args.lifecycle_orders + 10, exclude={flash})
    offered = await _stack.sellable(stack.sessions, flash)
    await _stack.adjust_stock(stack.sessions, flash, wh["SH01"], args.flash_units - offered)
    return Skus(pool, pairs, flash, codes)


async def stocked_skus(stack: Stack) -> tuple[list[tuple[int, str, int]], dict[int, str]]:
    """Active demo SKUs with stock: (sku, warehouse code, warehouses holding it), and the
    warehouses' codes by id."""
    sql = """SELECT s.sku_id, s.warehouse_id, w.code, COUNT(*) OVER (PARTITION BY s.sku_id)
        FROM stocks s JOIN warehouses w ON w.id = s.warehouse_id JOIN skus k ON k.id = s.sku_id
        WHERE k.active AND s.on_hand > 0 AND k.list_price_fen < 100000
        ORDER BY k.batch_managed, s.sku_id"""
    async with stack.sessions() as session:
        rows = (await session.execute(text(sql))).all()
    codes = {int(r[1]): str(r[2]) for r in rows}
    return [(int(sku), str(code), int(n)) for sku, _, code, n in rows], codes


async def stock_pairs(
    stack: Stack, units: int, *, exclude: set[int] | frozenset[int] = frozenset()
) -> list[tuple[int, int]]:
    """Three (SH01-only, GZ01-only) SKU pairs, each SKU given `units` more on hand: a
    two-package order, one package per warehouse."""
    rows, codes = await stocked_skus(stack)
    wh = {code: warehouse_id for warehouse_id, code in codes.items()}
    only = {
        c: [sku for sku, code, n in rows if n == 1 and code == c and sku not in exclude]
        for c in ("SH01", "GZ01")
    }
    pairs = list(zip(only["SH01"], only["GZ01"], strict=False))[:3]
    for sh, gz in pairs:
        await _stack.adjust_stock(stack.sessions, sh, wh["SH01"], units)
        await _stack.adjust_stock(stack.sessions, gz, wh["GZ01"], units)
    return pairs


async def lifecycle(stack: Stack, http: Http, skus: Skus, i: int, args: Any) -> list[str]:
    """place → pay → each package: pack, handover, tracking → confirm receipt → closed.
    Returns the ids of the workflows involved."""
    order_no = await place(http, list(skus.pairs[i % len(skus.pairs)]), f"b-{uuid.uuid4().hex}")
    return await drive(stack, http, skus.codes, order_no, args)


async def place(http: Http, skus: list[int], key: str) -> str:
    """A storefront's order of one unit of each SKU; the same key places it only once."""
    body = order_body(key, skus)
    return str(ok(await http.api.post("/v1/orders", json=body, headers=SHOP), 201)["order_no"])


async def drive(
    stack: Stack, http: Http, codes: dict[int, str], order_no: str, args: Any
) -> list[str]:
    """Pay a placed order, ship each package, confirm receipt, wait until it closes. Each step
    looks first at where the order or package is, so a drive that broke off (an answer lost
    when the API died) can be run again and goes on from there. Returns the workflow ids."""
    path = f"/v1/orders/{order_no}"
    if ok(await http.api.get(path, headers=SHOP), 200)["status"] == "awaiting_payment":
        payment = ok(await http.api.post(f"{path}/payments", headers=SHOP), 201)
        simulate = f"/v1/payments/{payment['payment_id']}/simulate"
        paid = await http.payments.post(simulate, json={"outcome": "succeeded"})
        if paid.status_code != 409:  # 409: paid at the provider by an earlier drive
            ok(paid, 200)

    def released(v: dict[str, Any]) -> bool:  # or further on: the floor may be quicker
        return v["status"] != "awaiting_payment" and all(
            p["status"] != "pending" for p in v["packages"]
        )

    wait = {"within": args.step_timeout}
    shown = await watch(http.api, path, SHOP, released, "release to the warehouses", **wait)
    await asyncio.gather(*(ship(http, codes, p, args) for p in shown["packages"]))
    done = ("delivered", "completed", "closed")
    delivered = await watch(http.api, path, SHOP, lambda v: v["status"] in done, "delivery", **wait)
    if delivered["status"] == "delivered":
        ok(await http.api.post(f"{path}/confirm-receipt", headers=SHOP), 200)
    handle = stack.client.get_workflow_handle_for(OrderWorkflow.run, f"order-{order_no}")
    closed = await asyncio.wait_for(handle.result(), args.step_timeout)
    if closed.status != "closed":
        raise RuntimeError(f"{order_no} ended {closed.status}")
    return [handle.id, *(f"shipment-{p['package_no']}" for p in shown["packages"])]


async def ship(http: Http, codes: dict[int, str], package: dict[str, Any], args: Any) -> None:
    """The package's warehouse packs it once picked and hands it over; the carrier picks it up
    and delivers it. Goes on from the package's status, so it may be run again."""
    device = {"X-API-Key": DEMO_DEVICE_KEYS[codes[package["warehouse_id"]]]}
    path = f"/v1/packages/{package['package_no']}"
    wait = {"within": args.step_timeout}

    def picked(v: dict[str, Any]) -> bool:
        return bool(v["status"] != "released")

    shown = await watch(http.api, path, device, picked, f"{path} picked", **wait)
    if shown["status"] == "picked":
        body = {"measured_weight_g": shown["expected_weight_g"]}
        shown = ok(await http.api.post(f"{path}/pack", headers=device, json=body), 200)
    if shown["status"] == "packed":  # the carrier was slower than the label wait
        labelled = lambda v: v["status"] != "packed"  # noqa: E731
        shown = await watch(http.api, path, device, labelled, path, **wait)
    if shown["status"] == "waybill_created":
        shown = ok(await http.api.post(f"{path}/handover", headers=device), 200)
    if shown["status"] == "shipped":
        for code in ("picked_up", "delivered"):
            event = f"/_sandbox/tracking/{shown['tracking_no']}/events"
            ok(await http.carrier.post(event, json={"code": code}), 201)


async def warehouse_floor(
    http: Http, codes: dict[int, str], every: float, working: asyncio.Event | None = None
) -> None:
    """The warehouses at work while orders flow, each on its own (its manager and handheld do
    not wait for the other warehouse's): each plans what is waiting ("plan now"), its handheld
    picks every task and sorts the put wall; the packages are then picked (until cancelled).
    They rest while `working` is clear (the floor's run: its CPU is the floor's alone)."""
    manager = {"Authorization": f"Bearer {await _floor.login(http.api, 'warehouse_manager')}"}
    if working is None:
        working = asyncio.Event()
        working.set()

    async def one(warehouse: int, code: str) -> None:
        device = {"X-API-Key": DEMO_DEVICE_KEYS[code]}
        plan = f"/v1/warehouses/{warehouse}/waves/plan"
        open_waves = {"warehouse_id": warehouse, "status": "picking", "limit": 100}
        worked: set[str] = set()
        listed = 0.0
        while await working.wait():
            planned = ok(await http.api.post(plan, headers=manager), 200)["waves"]
            # the waves this call planned, and now and then every wave still picking: a plan
            # whose answer was lost (the API killed under it) planned waves nobody was told
            # about. Not every round: an idle floor's reads cost the API by the second, not by
            # the order.
            if time.monotonic() - listed > LIST_WAVES_EVERY_S:
                listed = time.monotonic()
                params = {"params": open_waves, "headers": device}
                planned += ok(await http.api.get("/v1/waves", **params), 200)["data"]
            for wave in planned:
                if wave["wave_no"] not in worked:
                    await _floor.pick_wave(http.api, device, wave["wave_no"])
                    worked.add(wave["wave_no"])
            await asyncio.sleep(every)

    await asyncio.gather(*(one(warehouse, code) for warehouse, code in codes.items()))


# --- the scenarios ---------------------------------------------------------------------------


async def scenario_a(stack: Stack, http: Http, skus: Skus, raw_queue: str, args: Any) -> list[Row]:
    run = uuid.uuid4().hex[:8]

    async def bare(i: int) -> bool:
        start = WithStartWorkflowOperation(
            BareWorkflow.run, id=f"bare-{run}-{i}", task_queue=raw_queue,
            id_conflict_policy=USE_EXISTING,
        )  # fmt: skip
        touched = await stack.client.execute_update_with_start_workflow(
            BareWorkflow.touch, i, start_workflow_operation=start, id=f"touch-{run}-{i}"
        )
        return bool(touched == i)

    async def create(i: int) -> bool:
        body = order_body(f"a-{run}-{i}", [skus.create_pool[i % len(skus.create_pool)]])
        return (await http.api.post("/v1/orders", json=body, headers=SHOP)).status_code == 201

    figures: dict[str, list[float]] = {}
    cpu: dict[str, dict[str, float]] = {}
    for name, call in (("bare Update-with-Start", bare), ("POST /v1/orders", create)):
        say(f"[a] {name}: {args.warmup} warm-up + {args.create_requests} from {args.clients}")
        await _stack.timed_calls(args.warmup, args.clients, call, first=-args.warmup)
        before = _cpu.snapshot(stack.up_pid)
        figures[name], failed = await _stack.timed_calls(args.create_requests, args.clients, call)
        cpu[name] = _cpu.spent(before, _cpu.snapshot(stack.up_pid))
        if failed:
            say(f"[a] {name}: {failed} calls failed (left out of the latencies)")
    rows: list[Row] = []
    for pct in (50, 99):
        order, bare_ = (percentile(f, pct) for f in reversed(figures.values()))
        verdict = "met" if order / bare_ <= 1.5 else "MISSED"
        label = f"(a) create order p{pct}, {args.clients} clients"
        rows.append((label, ms(order), ms(bare_), f"{order / bare_:.2f}×", "≤ 1.5×", verdict))
    return [*rows, cpu_per_create(cpu, args.create_requests)]


def cpu_per_create(cpu: dict[str, dict[str, float]], n: int) -> Row:
    """CPU milliseconds one call cost the whole machine (stack and bench), a create next to a
    bare Update-with-Start; the split by process is printed. At 50 clients the creates are
    bound by CPU, so this ratio is what their latency follows."""
    totals: dict[str, float] = {}
    for name, spent in cpu.items():
        split = ", ".join(f"{role} {1000 * seconds / n:.1f}" for role, seconds in spent.items())
        totals[name] = 1000 * sum(spent.values()) / n
        say(f"[a] CPU ms per {name}: {totals[name]:.1f} ({split})")
    mine, theirs = totals["POST /v1/orders"], totals["bare Update-with-Start"]
    ratio = f"{mine / theirs:.2f}×" if theirs else ""
    return ("(a) CPU ms per create, all processes", f"{mine:.1f}", f"{theirs:.1f}", ratio, "", "")


async def scenario_b(
    stack: Stack, http: Http, skus: Skus, raw_queue: str, args: Any, working: asyncio.Event
) -> list[Row]:
    say("[b] one order through its lifecycle, to count its history")
    working.set()
    houtai = await _topology.live(stack.client, await lifecycle(stack, http, skus, 0, args))
    warehouses = sorted(skus.codes.values())  # one package in each, as the pairs are stocked
    working.clear()  # houtai's warehouses rest while the floor runs: its CPU is the floor's
    floor_floor = asyncio.create_task(
        floor_warehouses(stack.client, raw_queue, warehouses, args.poll_interval)
    )
    try:
        say("[b] one lifecycle of the floor, to count its history")
        floor = await _topology.live(
            stack.client, await floor_lifecycle(stack.client, raw_queue, warehouses)
        )
        recorded_name, recorded = _topology.recorded()
        say(f"[b] topology per lifecycle (recorded: tests/replay/every/{recorded_name}):")
        for line in _topology.show({"recorded": recorded, "houtai": houtai, "floor": floor}):
            print("    " + line)
        for difference in _topology.differences(houtai, floor) or ["none"]:
            say(f"[b] floor ≠ houtai: {difference}")
        n, c = args.lifecycle_orders, args.lifecycle_concurrency
        say(f"[b] the floor, then houtai's lifecycle: {n} each, {c} in flight")
        cpu = [_cpu.snapshot(stack.up_pid)]
        raw = await _stack.throughput(
            n, c, lambda i: floor_lifecycle(stack.client, raw_queue, warehouses)
        )
        cpu.append(_cpu.snapshot(stack.up_pid))
    finally:
        floor_floor.cancel()
        working.set()
    try:
        return await _houtai_lifecycles(stack, http, skus, args, raw, cpu)
    finally:
        working.clear()


async def _houtai_lifecycles(
    stack: Stack, http: Http, skus: Skus, args: Any, raw: float, cpu: list[_cpu.Snapshot]
) -> list[Row]:
    n, c = args.lifecycle_orders, args.lifecycle_concurrency
    say(f"[b] floor: {raw:.2f}/s; now houtai's lifecycle")
    failed: list[str] = []

    async def one(i: int) -> None:
        try:
            await lifecycle(stack, http, skus, i + 1, args)
        except (TimeoutError, RuntimeError) as exc:  # reported below, not fatal
            failed.append(f"{type(exc).__name__}: {exc}")
            say(f"[b] lifecycle failed: {failed[-1]}")

    http.calls.clear()
    orders = await _stack.throughput(n, c, one) * (n - len(failed)) / n
    cpu.append(_cpu.snapshot(stack.up_pid))
    per_order = ", ".join(f"{route} {k / n:.1f}" for route, k in http.calls.most_common())
    say(f"[b] API calls per order: {sum(http.calls.values()) / n:.1f} ({per_order})")
    verdict = "met" if orders / raw >= 0.5 else "MISSED"
    label = f"(b) lifecycle orders/s, {c} in flight"
    return [
        (label, f"{orders:.2f}/s", f"{raw:.2f}/s", f"{orders / raw:.2f}×", "≥ 0.5×", verdict),
        ("(b) lifecycles that did not finish", str(len(failed)), "", "", "= 0", ""),
        cpu_per_lifecycle(cpu, n),
    ]


def cpu_per_lifecycle(cpu: list[_cpu.Snapshot], n: int) -> Row:
    """CPU seconds one lifecycle cost the whole machine (stack and bench), houtai next to the
    floor; the split by process is printed."""
    raw, houtai = _cpu.spent(cpu[0], cpu[1]), _cpu.spent(cpu[1], cpu[2])
    for who, spent in (("floor", raw), ("houtai", houtai)):
        split = ", ".join(f"{role} {seconds / n:.3f}" for role, seconds in spent.items())
        say(f"[b] CPU s per {who} lifecycle: {sum(spent.values()) / n:.3f} ({split})")
    mine, theirs = sum(houtai.values()) / n, sum(raw.values()) / n
    ratio = mine / theirs if theirs else float("inf")
    verdict = "met" if ratio <= 2 else "MISSED"
    label = "(b) CPU s per lifecycle, all processes"
    return (label, f"{mine:.3f}", f"{theirs:.3f}", f"{ratio:.2f}×", "≤ 2×", verdict)


async def scenario_c(stack: Stack, http: Http, skus: Skus, args: Any) -> list[Row]:
    sku, units = skus.flash, args.flash_units
    offered = await _stack.sellable(stack.sessions, sku)
    say(f"[c] {args.buyers} buyers, {args.in_flight} in flight, SKU {sku}: {offered} sellable")
    gate = asyncio.Semaphore(args.in_flight)
    answers: Counter[int] = Counter()
    rejected: list[float] = []
    run = uuid.uuid4().hex[:8]

    async def buyer(i: int) -> None:
        async with gate:
            start = time.perf_counter()
            try:
                body = order_body(f"c-{run}-{i}", [sku])
                status = (await http.api.post("/v1/orders", json=body, headers=SHOP)).status_code
            except httpx.HTTPError:
                status = 0
            answers[status] += 1
            if status == 409:
                rejected.append(time.perf_counter() - start)

    wall = time.perf_counter()
    await asyncio.gather(*(buyer(i) for i in range(args.buyers)))
    wall = time.perf_counter() - wall
    held, reserved, ledger, ordered = await _stack.reserved_figures(stack.sessions, sku)
    oversold = max(0, max(held, reserved, ledger, ordered, answers[201]) - offered)
    other = {status: n for status, n in answers.items() if status not in (201, 409)}
    say(
        f"[c] {wall:.1f} s; answers {dict(answers)}; units held {held}, stock reserved "
        f"{reserved}, ledger reserved {ledger}, on order lines {ordered}"
    )
    label = f"(c) flash sale, {args.buyers} buyers"
    accepted = "met" if answers[201] == units == offered else "MISSED"
    return [
        (f"{label}: accepted", str(answers[201]), f"{offered} units", "", f"= {units}", accepted),
        (f"{label}: oversold", str(oversold), "", "", "= 0", "MISSED" if oversold else "met"),
        (f"{label}: 409 p50", ms(percentile(rejected, 50)), "", "", "", ""),
        (f"{label}: 409 p99", ms(percentile(rejected, 99)), "", "", "", ""),
        (f"{label}: other answers", str(sum(other.values())), str(other or ""), "", "= 0", ""),
    ]


# --- the run ---------------------------------------------------------------------------------

NORMAL = {"create_requests": 300, "warmup": 30, "lifecycle_orders": 30,
          "lifecycle_concurrency": 20, "buyers": 2000, "in_flight": 200,
          "workers": "1,2"}  # fmt: skip
QUICK = {"create_requests": 100, "warmup": 20, "lifecycle_orders": 8,
         "lifecycle_concurrency": 8, "buyers": 400, "in_flight": 100,
         "workers": "1"}  # fmt: skip


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    add = p.add_argument
    add("--quick", action="store_true", help="small counts (bracketed defaults are normal runs)")
    add("--only", default="abc", help="the scenarios to run, e.g. 'a' or 'bc' [abc]")
    add("--clients", type=int, default=50, help="(a) concurrent clients [50]")
    add("--create-requests", type=int, help="(a) measured calls per side [300; quick 100]")
    add("--warmup", type=int, help="(a) unmeasured calls per side first [30; quick 20]")
    add("--lifecycle-orders", type=int, help="(b) lifecycles per side [30; quick 8]")
    add("--lifecycle-concurrency", type=int, help="(b) lifecycles in flight [20; quick 8]")
    add("--poll-interval", type=float, default=0.1, help="(b) seconds between polls [0.1]")
    add("--step-timeout", type=float, default=120, help="(b) seconds per wait [120]")
    add("--buyers", type=int, help="(c) buyers [2000; quick 400]")
    add("--in-flight", type=int, help="(c) buyers' requests in flight [200; quick 100]")
    add("--flash-units", type=int, default=100, help="(c) sellable units [100]")
    add(
        "--workers",
        help="worker processes (and API processes) of `houtai up`, one stack each: '1,2' runs "
        "the scenarios at 1 and at 2 and prints (b)'s orders/s side by side [1,2; quick 1]",
    )
    args = p.parse_args(argv)
    for key, value in (QUICK if args.quick else NORMAL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.workers = [int(n) for n in str(args.workers).split(",") if n.strip()]
    return args


async def run(args: argparse.Namespace) -> list[Row]:
    """The scenarios on a stack of each --workers count; with more than one count, every row
    says its count and (b)'s lifecycle rate is compared with the first count's."""
    if len(args.workers) == 1:
        return await run_once(args, args.workers[0])
    rows: list[Row] = []
    rates: dict[int, float] = {}
    for workers in args.workers:
        say(f"[stack] {workers} worker process(es)")
        mine = await run_once(args, workers)
        for row in mine:
            if row[0].startswith("(b) lifecycle orders/s"):
                rates[workers] = float(row[1].removesuffix("/s"))
        rows += [(f"[{workers} worker(s)] {row[0]}", *row[1:]) for row in mine]
    first = args.workers[0]
    for workers, rate in rates.items():
        if workers != first and rates.get(first):
            rows.append(
                (
                    f"(b) scale-out: lifecycle orders/s, {workers} vs {first} worker process(es)",
                    f"{rate:.2f}/s",
                    f"{rates[first]:.2f}/s",
                    f"{rate / rates[first]:.2f}×",
                    "",
                    "",
                )
            )
    return rows


async def run_once(args: argparse.Namespace, workers: int) -> list[Row]:
    began = time.perf_counter()
    # After-sale window 0 days: an order closes at once.
    async with _stack.running_stack(workers=workers) as stack:
        say(f"[stack] up in {time.perf_counter() - began:.1f} s in {stack.workdir}")
        skus = await pick_skus(stack, args)
        raw_queue = f"{stack.task_queue}-raw"
        raw_worker = Worker(
            stack.client,
            task_queue=raw_queue,
            workflows=[BareWorkflow, *FLOOR_WORKFLOWS],
            activities=[noop, *FLOOR_ACTIVITIES],
        )
        rows: list[Row] = []
        async with raw_worker, http_clients(stack) as http:
            working = asyncio.Event()  # set by (b) alone: (a) and (c) leave orders unpaid
            floor = asyncio.create_task(
                warehouse_floor(http, skus.codes, args.poll_interval, working)
            )
            if "a" in args.only:
                rows += await scenario_a(stack, http, skus, raw_queue, args)
            if "b" in args.only:
                rows += await scenario_b(stack, http, skus, raw_queue, args, working)
            if "c" in args.only:
                rows += await scenario_c(stack, http, skus, args)
            floor.cancel()
        broken = await _stack.invariant_violations(stack.sessions)
        verdict = "MISSED" if broken else "met"
        rows.append(("stock ledgers balance", str(broken or "yes"), "", "", "yes", verdict))
    return rows


def main(argv: list[str]) -> int:
    args = parse(argv)
    return _figures.run_bench(run, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
