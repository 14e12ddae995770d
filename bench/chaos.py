"""Crash bench (DESIGN §10, "crash a worker at any point"): N orders through their whole
lifecycle against `houtai up` — placed, paid at the sandbox provider, picked in waves by the
device API, packed, handed over, delivered by the sandbox carrier, confirmed, closed — while the
worker is killed with SIGKILL at random moments (10 times by default) and the API too (twice).
`houtai up` restarts each (workers/supervisor.py); the storefront, handhelds and carrier ride
out the API's absence as real clients do (they retry, then look where the order is).

Then it checks and prints: every order terminal; no payment, refund or waybill doubled — in
houtai's tables and in the provider's and carrier's own books; the stock and money ledgers
balanced; each kill followed by a restart, and how long the process took to come back.

The exit status is non-zero only if the run itself breaks; `--json PATH` writes the figures
(tests/e2e/test_worker_crash.py runs a short version and asserts on them)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import random
import re
import shlex
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _figures
import _stack
import httpx
import orders
from _figures import say
from _http import Http, http_clients
from _stack import Stack
from sqlalchemy import text
from temporalio.client import WorkflowExecutionStatus

TERMINAL = ("closed", "cancelled")
DRIVE_ERRORS = (RuntimeError, TimeoutError, httpx.HTTPError)


# --- the chaos ------------------------------------------------------------------------------


@dataclass
class Kill:
    victim: str  # "worker" or "api"
    after_orders: int  # not before this many orders have finished
    at: float = 0.0  # seconds into the run
    pid: int = 0
    back_s: float | None = None  # until `houtai up` said it restarted it
    ready_s: float | None = None  # api: until it answered /readyz again


@dataclass
class Chaos:
    """Kills the worker and the API of a `houtai up` tree at random moments, one at a time and
    spread over the run: each once a random number of orders have finished (the thresholds
    drawn over the first 80 %) and a random gap after the previous victim came back (never
    while it is still away, so `houtai up`'s crash-loop limit is not what is tested)."""

    log: Path  # houtai up's output: the pids of its children
    api: str
    kills: list[Kill]
    rng: random.Random
    gap: float
    began: float = field(default_factory=time.monotonic)

    @classmethod
    def plan(cls, stack: Stack, args: Any) -> Chaos:
        rng = random.Random(args.seed)
        victims = ["worker"] * args.worker_kills + ["api"] * args.api_kills
        rng.shuffle(victims)
        span = range(max(len(victims), int(0.8 * args.orders)))
        thresholds = sorted(rng.sample(span, len(victims)))
        kills = [Kill(v, n) for v, n in zip(victims, thresholds, strict=True)]
        return cls(stack.workdir / "up.log", stack.api, kills, rng, args.gap)

    def pid_of(self, name: str) -> tuple[int, int]:
        """(pid, restarts so far) of a child, from the launcher's lines."""
        found = re.findall(rf"{name}: (?:started|restarted), pid (\d+)", self.log.read_text())
        return int(found[-1]), len(found) - 1

    async def run(self, finished: Callable[[], int]) -> None:
        """`finished`: how many orders have finished so far."""

        async def done() -> int:
            return finished()

        for kill in self.kills:
            await asyncio.sleep(self.rng.uniform(self.gap, 1.5 * self.gap))
            what = f"{kill.after_orders} orders finished"
            ready = lambda n, k=kill.after_orders: n >= k  # noqa: E731
            await _stack.until(done, ready, what, within=7200, interval=0.5)
            kill.pid, restarts = self.pid_of(kill.victim)
            kill.at = time.monotonic() - self.began
            os.kill(kill.pid, signal.SIGKILL)
            say(
                f"[chaos] SIGKILL {kill.victim} pid {kill.pid} at {kill.at:.0f} s, "
                f"{finished()} orders finished"
            )
            await self._restarted(kill.victim, restarts)
            kill.back_s = time.monotonic() - self.began - kill.at
            if kill.victim == "api":
                await self._api_ready()
                kill.ready_s = time.monotonic() - self.began - kill.at
            say(f"[chaos] {kill.victim} restarted after {kill.back_s:.1f} s")

    async def _restarted(self, victim: str, restarts: int) -> None:
        async def seen() -> int:
            return self.pid_of(victim)[1]

        what = f"{victim} restarted by houtai up"
        await _stack.until(seen, lambda n: n > restarts, what, within=300, interval=0.2)

    async def _api_ready(self) -> None:
        async with httpx.AsyncClient(base_url=self.api, timeout=10) as http:
            while True:
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)


# --- the orders -----------------------------------------------------------------------------


@dataclass
class Drives:
    placed: list[str] = field(default_factory=list)
    finished: int = 0
    over: bool = False  # every drive has ended, finished or given up
    redriven: int = 0  # drives that broke off and were run again
    unfinished: dict[str, str] = field(default_factory=dict)  # order → last error
    refusals: Counter[str] = field(default_factory=Counter)  # why drives broke off


def _refused(exc: BaseException) -> str:
    """What broke a drive off, e.g. `409 POST /v1/packages/{}/pack` or `TimeoutError`."""
    found = re.search(r"https?://[^/]+(/\S*): (\d{3})", str(exc))
    if found is None:
        return type(exc).__name__
    route = re.sub(r"/[A-Z]{2}\d+", "/{}", found[1])
    return f"{found[2]} {route}"


async def drive_orders(
    stack: Stack,
    http: Http,
    pairs: list[tuple[int, int]],
    codes: dict[int, str],
    args: Any,
    drives: Drives,
) -> None:
    """N two-package orders, at most `concurrency` at a time (and `pace` s apart); a drive that
    breaks off is run again from where its order is."""
    gate = asyncio.Semaphore(args.concurrency)
    run = uuid.uuid4().hex[:8]

    async def one(i: int) -> None:
        await asyncio.sleep(i * args.pace)
        async with gate:
            order_no = await orders.place(http, list(pairs[i % len(pairs)]), f"chaos-{run}-{i}")
            drives.placed.append(order_no)
            for attempt in range(args.attempts):
                try:
                    await orders.drive(stack, http, codes, order_no, args)
                    drives.unfinished.pop(order_no, None)
                    drives.finished += 1
                    return
                except DRIVE_ERRORS as exc:
                    drives.unfinished[order_no] = f"{type(exc).__name__}: {str(exc)[:300]}"
                    drives.redriven += attempt + 1 < args.attempts
                    drives.refusals[_refused(exc)] += 1
                    say(f"[orders] {order_no} drive {attempt + 1} broke off: {exc!s:.200}")
                    await asyncio.sleep(min(30.0, 2.0**attempt))  # the worker may be away

    await asyncio.gather(*(one(i) for i in range(args.orders)))
    drives.over = True


async def floor(http: Http, codes: dict[int, str], every: float) -> None:
    """The warehouses' planning and picking (bench/orders.py's floor), started again whenever
    the API's absence breaks it off."""
    while True:
        try:
            await orders.warehouse_floor(http, codes, every)
        except DRIVE_ERRORS as exc:
            say(f"[floor] broke off ({type(exc).__name__}: {exc!s:.200}); going on")
            await asyncio.sleep(1)


# --- the checks -----------------------------------------------------------------------------


async def sql_rows(stack: Stack, sql: str, **params: Any) -> list[Any]:
    async with stack.sessions() as session:
        return list((await session.execute(text(sql), params)).all())


async def houtai_books(stack: Stack, placed: list[str]) -> dict[str, Any]:
    """Order states and what houtai itself recorded, per order and package."""
    states = dict(
        await sql_rows(
            stack, "SELECT order_no, status FROM orders WHERE order_no = ANY(:o)", o=placed
        )
    )
    counts = {
        name: Counter({str(k): int(n) for k, n in await sql_rows(stack, sql, o=placed)})
        for name, sql in {
            "payments": "SELECT order_no, COUNT(*) FROM payments WHERE order_no = ANY(:o) "
            "GROUP BY order_no",
            "money entries": "SELECT order_no, COUNT(*) FROM money_ledger "
            "WHERE order_no = ANY(:o) GROUP BY order_no",
            "sales_out": "SELECT p.package_no, COUNT(*) FROM stock_movements m "
            "JOIN packages p ON p.package_no = m.ref_no WHERE m.movement_type = 'sales_out' "
            "AND p.order_no = ANY(:o) GROUP BY p.package_no",
        }.items()
    }
    packages = {
        str(no): str(waybill)
        for no, waybill in await sql_rows(
            stack, "SELECT package_no, waybill_no FROM packages WHERE order_no = ANY(:o)", o=placed
        )
    }
    return {"states": states, "counts": counts, "packages": packages}


async def provider_books(http: Http, days: list[dt.date], placed: set[str]) -> Counter[str]:
    """The payment provider's own statement: payments and refunds per order."""
    entries: Counter[str] = Counter()
    for day in days:
        statement = _stack.ok(await http.payments.get(f"/v1/statements/{day.isoformat()}"), 200)
        for entry in statement["entries"]:
            if entry["merchant_order_no"] in placed:
                entries[f"{entry['type']}s"] += 1
                entries[f"{entry['type']} {entry['merchant_order_no']}"] += 1
                entries[f"{entry['type']}s fen"] += int(entry["amount_fen"])
    return entries


async def carrier_books(http: Http) -> list[dict[str, Any]]:
    """The carrier's own book of waybills (one per package key, with the calls that asked)."""
    return list(_stack.ok(await http.carrier.get("/_sandbox/waybills"), 200)["waybills"])


async def check(stack: Stack, http: Http, drives: Drives, days: list[dt.date]) -> dict[str, Any]:
    placed = drives.placed
    books = await houtai_books(stack, placed)
    states = Counter(books["states"].values())
    not_terminal = {o: s for o, s in books["states"].items() if s not in TERMINAL}
    running = 0
    for order_no in placed:
        described = await stack.client.get_workflow_handle(f"order-{order_no}").describe()
        running += described.status != WorkflowExecutionStatus.COMPLETED
    provider = await provider_books(http, days, set(placed))
    waybills = [w for w in await carrier_books(http) if w["package_key"] in books["packages"]]
    counts = books["counts"]
    money = await sql_rows(
        stack, "SELECT COALESCE(SUM(amount_fen), 0) FROM money_ledger WHERE order_no = ANY(:o)",
        o=placed,
    )  # fmt: skip
    unbalanced = await sql_rows(
        stack,
        """SELECT o.order_no FROM orders o LEFT JOIN (SELECT order_no, SUM(amount_fen) AS total
           FROM money_ledger GROUP BY order_no) m USING (order_no)
           WHERE o.paid_fen - o.refunded_fen <> COALESCE(m.total, 0)""",
    )
    return {
        "orders": len(placed),
        "order states": dict(states),
        "orders not terminal": not_terminal,
        "order workflows not completed": running,
        "houtai payments doubled": sum(n > 1 for n in counts["payments"].values()),
        "houtai money entries doubled": sum(n > 1 for n in counts["money entries"].values()),
        "packages shipped twice (sales_out rows)": sum(n > 1 for n in counts["sales_out"].values()),
        "packages": len(books["packages"]),
        "provider payments": provider["payments"],
        "provider payments doubled": sum(
            n > 1 for k, n in provider.items() if k.startswith("payment ")
        ),
        "provider refunds": provider["refunds"],
        "carrier waybills": len(waybills),
        "carrier waybills doubled": len(waybills) - len({w["package_key"] for w in waybills}),
        "carrier waybill requests": sum(w["requests"] for w in waybills),
        "waybills not the carrier's": sum(
            books["packages"][w["package_key"]] != w["waybill_no"] for w in waybills
        ),
        "packages without a carrier waybill": len(books["packages"]) - len(waybills),
        "money: provider net = ledger": provider["payments fen"] - provider["refunds fen"]
        == int(money[0][0]),
        "money: orders unbalanced": [str(r[0]) for r in unbalanced],
        "stock invariants broken": await _stack.invariant_violations(stack.sessions),
    }


# --- the run --------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    began = time.perf_counter()
    async with _stack.running_stack() as stack:
        say(f"[stack] up in {time.perf_counter() - began:.1f} s in {stack.workdir}")
        _, codes = await orders.stocked_skus(stack)
        pairs = await orders.stock_pairs(stack, args.orders + 10)
        days = [dt.datetime.now(dt.UTC).date()]
        chaos = Chaos.plan(stack, args)
        drives = Drives()
        async with http_clients(stack, retry_within=args.step_timeout) as http:
            floor_task = asyncio.create_task(floor(http, codes, args.poll_interval))
            # Orders given up never finish: once all drives are over, the last kills go ahead.
            progress = lambda: args.orders if drives.over else drives.finished  # noqa: E731
            chaos_task = asyncio.create_task(chaos.run(progress))
            started = time.perf_counter()
            await drive_orders(stack, http, pairs, codes, args, drives)
            driven = time.perf_counter() - started
            await chaos_task  # a last kill may come after the last order
            floor_task.cancel()
            days.append(dt.datetime.now(dt.UTC).date())
            figures = await check(stack, http, drives, sorted(set(days)))
        assert http.retrying is not None
        log = (stack.workdir / "up.log").read_text()
    figures.update(
        {
            "seconds driving orders": round(driven, 1),
            "orders per second": round(len(drives.placed) / driven, 3),
            "drives run again": drives.redriven,
            "why drives broke off": dict(drives.refusals),
            "orders whose drive never finished": drives.unfinished,
            "API requests retried": http.retrying.retries,
            "worker kills": sum(k.victim == "worker" for k in chaos.kills),
            "api kills": sum(k.victim == "api" for k in chaos.kills),
            "worker restarts": len(re.findall(r"worker: restarted", log)),
            "api restarts": len(re.findall(r"api: restarted", log)),
            "kills": [vars(k) for k in chaos.kills],
            "kills while orders were in flight": sum(k.at <= driven for k in chaos.kills),
            "stack gave up": "giving up" in log,
        }
    )
    return figures


def report(figures: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    def back(victim: str, key: str) -> str:
        values = [k[key] for k in figures["kills"] if k["victim"] == victim and k[key] is not None]
        if not values:
            return ""
        return f"mean {sum(values) / len(values):.1f} s, max {max(values):.1f} s"

    f = figures

    def zero(value: object) -> str:
        return "MISSED" if value else "met"

    return [
        ("orders", str(f["orders"]), str(f["order states"]), ""),
        ("orders not terminal", str(len(f["orders not terminal"])), "= 0",
         zero(f["orders not terminal"])),
        ("order workflows still running", str(f["order workflows not completed"]), "= 0",
         zero(f["order workflows not completed"])),
        ("worker SIGKILLs / restarts", f"{f['worker kills']} / {f['worker restarts']}", "equal",
         "met" if f["worker kills"] == f["worker restarts"] else "MISSED"),
        ("api SIGKILLs / restarts", f"{f['api kills']} / {f['api restarts']}", "equal",
         "met" if f["api kills"] == f["api restarts"] else "MISSED"),
        ("kills while orders were in flight",
         f"{f['kills while orders were in flight']} of {f['worker kills'] + f['api kills']}",
         "all", ""),
        ("worker back (restart line)", back("worker", "back_s"), "", ""),
        ("api back (readyz 200)", back("api", "ready_s"), "", ""),
        ("payments doubled: houtai / provider",
         f"{f['houtai payments doubled']} / {f['provider payments doubled']}", "= 0",
         zero(f["houtai payments doubled"] + f["provider payments doubled"])),
        ("provider payments / refunds", f"{f['provider payments']} / {f['provider refunds']}",
         f"{f['orders']} / 0",
         "met" if (f["provider payments"], f["provider refunds"]) == (f["orders"], 0)
         else "MISSED"),
        ("money entries doubled", str(f["houtai money entries doubled"]), "= 0",
         zero(f["houtai money entries doubled"])),
        ("waybills: packages / carrier's / asked for",
         f"{f['packages']} / {f['carrier waybills']} / {f['carrier waybill requests']}",
         "packages = carrier's",
         "met" if f["packages"] == f["carrier waybills"] and not f["carrier waybills doubled"]
         and not f["waybills not the carrier's"] else "MISSED"),
        ("packages shipped twice", str(f["packages shipped twice (sales_out rows)"]), "= 0",
         zero(f["packages shipped twice (sales_out rows)"])),
        ("money ledger = provider net, per order balanced",
         f"{f['money: provider net = ledger']}, {len(f['money: orders unbalanced'])} unbalanced",
         "True, 0",
         "met" if f["money: provider net = ledger"] and not f["money: orders unbalanced"]
         else "MISSED"),
        ("stock ledgers balance", str(f["stock invariants broken"] or "yes"), "yes",
         zero(f["stock invariants broken"])),
        ("drives run again / API requests retried",
         f"{f['drives run again']} / {f['API requests retried']}", "", ""),
        ("why drives broke off", str(f["why drives broke off"] or "-"), "", ""),
        ("orders per second (with the kills)", f"{f['orders per second']:.2f}/s", "", ""),
    ]  # fmt: skip


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    add = p.add_argument
    add("--quick", action="store_true", help="60 orders, 4 worker kills, 1 API kill")
    add("--orders", type=int, help="orders through their lifecycle [500; quick 60]")
    add("--worker-kills", type=int, help="SIGKILLs of the worker [10; quick 4]")
    add("--api-kills", type=int, help="SIGKILLs of the API [2; quick 1]")
    add("--gap", type=float, default=20, help="seconds at least between kills (random up to "
        "1.5×), counted from the previous victim's return [20]")  # fmt: skip
    add("--concurrency", type=int, default=20, help="orders in flight [20]")
    add("--pace", type=float, default=0.0, help="seconds at least between order starts [0]")
    add("--attempts", type=int, default=8, help="drives of one order before it is given up, "
        "1, 2, 4 … s apart [8]")  # fmt: skip
    add("--poll-interval", type=float, default=0.5, help="the floor's 'plan now' every … s [0.5]")
    add("--step-timeout", type=float, default=180, help="seconds per wait [180]")
    add("--seed", type=int, default=None, help="the kills' random seed [random, printed]")
    add("--json", type=Path, help="also write the figures to this file")
    args = p.parse_args(argv)
    counts = (60, 4, 1) if args.quick else (500, 10, 2)
    for key, value in zip(("orders", "worker_kills", "api_kills"), counts, strict=True):
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.seed is None:
        args.seed = random.randrange(1_000_000)
    return args


def main(argv: list[str]) -> int:
    args = parse(argv)
    logging.getLogger("temporalio").setLevel(logging.ERROR)
    command = shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    before = _figures.Before.now()
    say(f"[chaos] seed {args.seed}")
    try:
        figures = asyncio.run(run(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted: everything started was stopped", file=sys.stderr)
        return 130
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    for order_no, error in figures["orders whose drive never finished"].items():
        print(f"  {order_no}: {error}")
    command += f"   (seed {args.seed})"
    run_ = _figures.run_line(before)
    print(f"\n$ {command}\n{run_}")
    header, rows = ("figure", "houtai", "target", ""), report(figures)
    print(_figures.table(rows, header))
    _figures.keep_figures(rows, header, command, run_)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
