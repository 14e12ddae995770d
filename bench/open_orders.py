"""Open orders benchmark (DESIGN §10, issue 18): --orders (10,000) orders awaiting payment at
once, on the embedded stack (`houtai up` in a temp dir).

The orders are placed through the API (`POST /v1/orders`, --clients at a time) on a stack whose
payment window is --window-minutes, long enough for every order to be placed before the first
deadline, so all of them wait at the same time; their deadlines are spread as they were placed,
at a steady rate. Nobody pays: each order workflow's payment timer closes it at its deadline.
Meanwhile the bench samples the resident memory (RSS) of every worker process of the stack
every second, and while the deadlines fire the machine's load and the stack's CPU by process.
Afterwards it reads each order's history (all, or --history-sample drawn uniformly): the payment
timer's TimerFired event minus the order's `payment_deadline` is how late the deadline fired.
The timeline's `cancelled` step (written after the cancel's activities) is shown beside it.

The worker keeps at most HOUTAI_WORKER__MAX_CACHED_WORKFLOWS workflows in memory (--max-cached,
the settings' default unless given); the others are replayed from their histories when their
timer fires. Targets: worker RSS ≤ 500 MB while they wait, every deadline fired ≤ 2 s late.

Figures are printed, not asserted: the exit status is non-zero only if the run itself breaks."""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import _cpu
import _figures
import _stack
import httpx
from _figures import percentile, say
from _stack import SHOP, Stack, ok, order_body
from sqlalchemy import text
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

from core.settings import WorkerSettings

RSS_TARGET_MB = 500
LATE_TARGET_S = 2.0
Row = tuple[str, ...]  # figure, houtai, baseline, ratio, target, verdict


def worker_pids(root: int) -> list[int]:
    """Every `houtai worker` process under `houtai up` (pid `root`)."""
    found: list[int] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            for task in Path(f"/proc/{pid}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
        if b"workers.cli worker" in command:
            found.append(pid)
    return found


def rss_mb(pids: list[int]) -> float:
    """Resident memory of these processes together, in MB."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])  # kB
        except OSError:
            continue
    return total / 1024


async def stock_up(stack: Stack, units: int) -> list[int]:
    """Ten SH01 SKUs with enough sellable units between them for every order (by the ledger)."""
    async with stack.sessions() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT s.sku_id, s.warehouse_id FROM stocks s "
                    "JOIN warehouses w ON w.id = s.warehouse_id JOIN skus k ON k.id = s.sku_id "
                    "WHERE w.code = 'SH01' AND k.active AND NOT k.batch_managed "
                    "AND s.on_hand > 0 AND k.list_price_fen < 100000 ORDER BY s.sku_id LIMIT 10"
                )
            )
        ).all()
    for sku, warehouse in rows:
        await _stack.adjust_stock(stack.sessions, int(sku), int(warehouse), units // len(rows) + 50)
    return [int(sku) for sku, _ in rows]


async def place_all(
    stack: Stack, skus: list[int], args: argparse.Namespace, refused: list[str]
) -> list[str]:
    """--orders orders over the API, --clients at a time; their numbers (409s in `refused`)."""
    numbers: list[str] = []
    queue = iter(range(args.orders))
    began = time.monotonic()
    limits = httpx.Limits(max_connections=args.clients)
    async with httpx.AsyncClient(base_url=stack.api, timeout=120, limits=limits) as api:

        async def client() -> None:
            for i in queue:
                body = order_body(f"open-{i}", [skus[i % len(skus)]])
                # As a storefront would: a 503 "busy" is sent again with the same key.
                for _ in range(30):
                    answer = await api.post("/v1/orders", json=body, headers=SHOP)
                    if answer.status_code != 503:
                        break
                    await asyncio.sleep(1)
                if answer.status_code == 409:  # e.g. a resend that found its order ended
                    refused.append(answer.json().get("detail", ""))
                    continue
                placed = ok(answer, 201)
                numbers.append(placed["order_no"])
                if len(numbers) % 1000 == 0:
                    pace = (time.monotonic() - began) / len(numbers) * args.orders / 60
                    say(
                        f"[1] {len(numbers):,} placed; at this pace all in {pace:.0f} min "
                        f"of the {args.window_minutes} min window"
                    )

        await asyncio.gather(*(client() for _ in range(args.clients)))
    return numbers


async def status_counts(stack: Stack, numbers: list[str]) -> dict[str, int]:
    async with stack.sessions() as session:
        rows = await session.execute(
            text("SELECT status, count(*) FROM orders WHERE order_no = ANY(:n) GROUP BY status"),
            {"n": numbers},
        )
        return {str(status): int(count) for status, count in rows}


async def deadlines(stack: Stack, numbers: list[str]) -> dict[str, datetime]:
    """Each order's `payment_deadline`, as the order stores it (its placed time + the window)."""
    async with stack.sessions() as session:
        rows = await session.execute(
            text("SELECT order_no, payment_deadline FROM orders WHERE order_no = ANY(:n)"),
            {"n": numbers},
        )
        return {str(no): at for no, at in rows}


async def cancelled_lateness(stack: Stack, numbers: list[str]) -> tuple[list[float], int]:
    """Seconds each order's timeline reached its `cancelled` step after its payment deadline,
    and how many have no such step. The step is written after the timer fired and the cancel's
    activities ran (release the stock, record): it overstates how late the timer fired."""
    async with stack.sessions() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT o.order_no, EXTRACT(EPOCH FROM (min(e.at) - o.payment_deadline)) "
                    "FROM orders o LEFT JOIN order_events e "
                    "ON e.order_no = o.order_no AND e.step = 'cancelled' "
                    "WHERE o.order_no = ANY(:n) GROUP BY o.order_no, o.payment_deadline"
                ),
                {"n": numbers},
            )
        ).all()
    late = [float(seconds) for _, seconds in rows if seconds is not None]
    return late, sum(1 for _, seconds in rows if seconds is None)


@dataclass
class TimerLateness:
    """Per order, from its history: the payment timer's TimerFired − the order's deadline; the
    part of it the server planned (TimerStarted + start_to_fire_timeout − the deadline); and the
    worker's next workflow task started (it took the fired timer up) − the deadline."""

    fired: list[float] = field(default_factory=list)
    planned: list[float] = field(default_factory=list)
    taken_up: list[float] = field(default_factory=list)
    no_timer: list[str] = field(default_factory=list)  # no payment timer fired in the history
    measured: int = 0
    fetch_s: float = 0.0


PLANNED_WITHIN_S = 60.0


def payment_timer(
    events: Sequence[HistoryEvent], deadline: datetime
) -> tuple[float, float, float] | None:
    """(TimerFired, planned fire, next WorkflowTaskStarted) − deadline, in seconds, of the
    payment timer: `OrderWorkflow._paid_and_approved` awaits payment with
    `workflow.wait_condition(..., timeout=payment_deadline - written)`, `written` the worker's
    clock when record_order wrote the order, the placement task's last step. The server plans
    a timer's fire at its TimerStarted event (when the workflow task that started it completed)
    + its start_to_fire_timeout: a little after the deadline, by the time between the order
    written and the task's completion (orders placed before that patch timed a second timer
    from a short task 15 s before the deadline). The payment timer is the timer
    planned nearest the deadline (within a minute: an unpaid order starts no other timer that
    near it)."""
    planned: dict[int, float] = {}  # TimerStarted event id → planned fire − deadline
    for event in events:
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            timeout = event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
            at = event.event_time.ToDatetime(tzinfo=UTC) + timeout
            planned[event.event_id] = (at - deadline).total_seconds()
    near = [eid for eid, off in planned.items() if abs(off) <= PLANNED_WITHIN_S]
    if not near:
        return None
    timer = min(near, key=lambda eid: abs(planned[eid]))
    fired: datetime | None = None
    for event in events:
        if fired is None:
            if (
                event.event_type == EventType.EVENT_TYPE_TIMER_FIRED
                and event.timer_fired_event_attributes.started_event_id == timer
            ):
                fired = event.event_time.ToDatetime(tzinfo=UTC)
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            taken = event.event_time.ToDatetime(tzinfo=UTC)
            late = (fired - deadline).total_seconds()
            return late, planned[timer], (taken - deadline).total_seconds()
    if fired is None:
        return None
    return (fired - deadline).total_seconds(), planned[timer], float("nan")


async def timer_lateness(
    stack: Stack, due: dict[str, datetime], sample: int, concurrency: int
) -> TimerLateness:
    """`payment_timer` over the orders' histories, `sample` of them drawn uniformly (every one
    when there are no more), fetched `concurrency` at a time with the bench's Temporal client."""
    numbers = sorted(due)
    if sample < len(numbers):
        numbers = sorted(random.Random(18).sample(numbers, sample))
    found = TimerLateness(measured=len(numbers))
    gate = asyncio.Semaphore(concurrency)
    began = time.monotonic()

    async def one(order_no: str) -> None:
        async with gate:
            handle = stack.client.get_workflow_handle(f"order-{order_no}")
            history = await asyncio.wait_for(handle.fetch_history(), timeout=60)
        late = payment_timer(history.events, due[order_no])
        if late is None:
            found.no_timer.append(order_no)
            if len(found.no_timer) <= 3:  # what the history holds instead, to look into
                timers = [
                    (e.event_id, e.timer_started_event_attributes.start_to_fire_timeout.seconds)
                    for e in history.events
                    if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED
                ]
                say(f"[3] {order_no}: no payment timer fired; timers started {timers}")
            return
        found.fired.append(late[0])
        found.planned.append(late[1])
        if not math.isnan(late[2]):
            found.taken_up.append(late[2])

    await asyncio.gather(*(one(n) for n in numbers))
    found.fetch_s = time.monotonic() - began
    return found


def spread(values: list[float]) -> str:
    return (
        f"{percentile(values, 50):.2f} / {percentile(values, 99):.2f} / {max(values):.2f} s"
        if values
        else "none measured"
    )


@dataclass
class Sampler:
    """Every second: the worker processes' RSS (its max kept) and, while the deadlines fire,
    the machine's 1-minute load average."""

    root: int
    peak: float = 0.0
    loads: list[float] = field(default_factory=list)
    firing: bool = False
    running: bool = True

    async def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_mb(worker_pids(self.root)))
            if self.firing:
                self.loads.append(os.getloadavg()[0])
            await asyncio.sleep(1)


async def watch_deadlines(
    stack: Stack, numbers: list[str], due: dict[str, datetime], drain_s: float, rss: Sampler
) -> tuple[dict[str, int], dict[str, float], float]:
    """From the first deadline until every order is cancelled (or the last deadline + drain_s):
    the final status counts, the stack's CPU seconds by process, and how long that took."""
    first, last = min(due.values()), max(due.values())
    say(f"[2] deadlines from {first:%H:%M:%S} to {last:%H:%M:%S} UTC")
    await asyncio.sleep(max(0.0, (first - datetime.now(UTC)).total_seconds()))
    rss.firing = True
    cpu_before, began = _cpu.snapshot(stack.up_pid), time.monotonic()
    give_up = time.monotonic() + (last - datetime.now(UTC)).total_seconds() + drain_s
    counts = await status_counts(stack, numbers)
    while time.monotonic() < give_up and counts.get("cancelled", 0) < len(numbers):
        await asyncio.sleep(2)
        counts = await status_counts(stack, numbers)
    rss.firing = False
    cpu = _cpu.spent(cpu_before, _cpu.snapshot(stack.up_pid))
    fire_s = time.monotonic() - began
    say(f"[2] after the deadlines: {counts}")
    say(
        f"[2] CPU while they fired ({fire_s:.0f} s): "
        + ", ".join(f"{role} {seconds:.0f} s" for role, seconds in cpu.items())
        + f"; load average {min(rss.loads, default=0):.1f} to {max(rss.loads, default=0):.1f}"
    )
    return counts, cpu, fire_s


async def run(args: argparse.Namespace) -> list[Row]:
    env = {
        "HOUTAI_ORDERS__PAYMENT_WINDOW_MINUTES": str(args.window_minutes),
        "HOUTAI_WORKER__MAX_CACHED_WORKFLOWS": str(args.max_cached),
    }
    async with _stack.running_stack(workers=args.workers, extra_env=env) as stack:
        skus = await stock_up(stack, args.orders)
        pids = worker_pids(stack.up_pid)
        idle = rss_mb(pids)
        say(f"[0] {len(pids)} worker process(es), {idle:.0f} MB resident before any order")
        began = time.monotonic()
        rss = Sampler(stack.up_pid, peak=idle)
        sampler = asyncio.create_task(rss.run())
        say(f"[1] placing {args.orders:,} orders, {args.clients} at a time")
        refused: list[str] = []
        numbers = await place_all(stack, skus, args, refused)
        placing = time.monotonic() - began
        counts = await status_counts(stack, numbers)
        waiting = counts.get("awaiting_payment", 0)
        say(f"[1] placed in {placing:.0f} s ({args.orders / placing:.1f}/s); now {counts}")
        at_peak_of_placing = rss.peak
        due = await deadlines(stack, numbers)
        counts, cpu, fire_s = await watch_deadlines(stack, numbers, due, args.drain_s, rss)
        rss.running = False
        await sampler
        late, unclosed = await cancelled_lateness(stack, numbers)
        sample_n = len(numbers) if args.history_sample <= 0 else args.history_sample
        say(f"[3] reading the payment timers from {min(sample_n, len(numbers)):,} histories")
        timers = await timer_lateness(stack, due, sample_n, args.history_concurrency)
        say(f"[3] {timers.measured:,} histories read in {timers.fetch_s:.0f} s")
        broken = await _stack.invariant_violations(stack.sessions)
    peak, loads = rss.peak, rss.loads
    measured = (
        f"{timers.measured:,} histories"
        if timers.measured == len(numbers)
        else f"{timers.measured:,} of {len(numbers):,} histories, sampled uniformly"
    )
    fired = timers.fired
    on_time = bool(fired) and not timers.no_timer and unclosed == 0 and max(fired) <= LATE_TARGET_S
    busy = ", ".join(f"{role} {seconds / fire_s:.2f}" for role, seconds in cpu.items())
    return [
        (
            "orders placed over the API (409 refused)",
            f"{len(numbers):,} at {args.orders / placing:.1f}/s ({len(refused)})",
            "",
            "",
            f"{args.orders:,}",
            "",
        ),
        (
            "orders awaiting payment at once (after the last was placed, "
            f"before the first deadline, {args.window_minutes} min window)",
            f"{waiting:,}",
            "",
            "",
            f"{args.orders:,}",
            "met" if waiting == args.orders else "MISSED",
        ),
        (
            f"worker RSS while orders are open, max sampled every s ({len(pids)} process(es), "
            f"max_cached_workflows {args.max_cached})",
            f"{peak:.0f} MB",
            f"{idle:.0f} MB idle",
            f"{peak / idle:.2f}×" if idle else "",
            f"≤ {RSS_TARGET_MB} MB",
            "met" if peak <= RSS_TARGET_MB else "MISSED",
        ),
        ("worker RSS, max while placing", f"{at_peak_of_placing:.0f} MB", "", "", "", ""),
        (
            f"payment timer fired late (TimerFired − payment_deadline): p50 / p99 / max, "
            f"{measured}",
            spread(fired),
            "",
            "",
            f"≤ {LATE_TARGET_S:g} s, every one",
            "met" if on_time else "MISSED",
        ),
        (
            "payment timer not found fired in the history",
            f"{len(timers.no_timer):,}",
            "",
            "",
            "0",
            "met" if not timers.no_timer else "MISSED",
        ),
        (
            "(info) of which planned late (TimerStarted + timeout − deadline), same sample",
            spread(timers.planned),
            "",
            "",
            "",
            "",
        ),
        (
            "(info) the server's timer queue (TimerFired − planned fire), same sample",
            spread([f - p for f, p in zip(timers.fired, timers.planned, strict=True)]),
            "",
            "",
            "",
            "",
        ),
        (
            "(info) worker took the fired timer up (next task started − deadline), same sample",
            spread(timers.taken_up),
            "",
            "",
            "",
            "",
        ),
        (
            "(info) timeline's `cancelled` step − deadline (after the cancel's activities), all",
            spread(late),
            "",
            "",
            "",
            "",
        ),
        (
            "orders closed by their deadline / not closed",
            f"{len(late):,} / {unclosed:,}",
            "",
            "",
            f"{args.orders:,} / 0",
            "met" if unclosed == 0 else "MISSED",
        ),
        (
            f"(info) cores busy while the deadlines fired ({fire_s:.0f} s), by process",
            busy,
            "",
            "",
            "",
            "",
        ),
        (
            "(info) machine load average (1 min) while the deadlines fired, min / max",
            f"{min(loads, default=0):.1f} / {max(loads, default=0):.1f}",
            "",
            "",
            "",
            "",
        ),
        (
            "stock ledgers balance",
            str(broken or "yes"),
            "",
            "",
            "yes",
            "MISSED" if broken else "met",
        ),
    ]


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    add = p.add_argument
    add("--quick", action="store_true", help="300 orders, a 4-minute window")
    add("--orders", type=int, help="orders awaiting payment at once [10,000; quick 300]")
    add("--clients", type=int, default=20, help="orders placed at a time [20]")
    add(
        "--window-minutes",
        type=int,
        help="payment window: longer than placing them all takes (10,000 at 8.3/s) [20; quick 4]",
    )
    add(
        "--max-cached",
        type=int,
        default=WorkerSettings().max_cached_workflows,
        help="HOUTAI_WORKER__MAX_CACHED_WORKFLOWS of each worker [the settings' default]",
    )
    add("--workers", type=int, default=1, help="worker processes of `houtai up` [1]")
    add("--drain-s", type=float, default=120, help="seconds past the last deadline to wait [120]")
    add(
        "--history-sample",
        type=int,
        default=2000,
        help="histories read for the payment timers, drawn uniformly; 0: every one [2,000]",
    )
    add("--history-concurrency", type=int, default=16, help="histories read at a time [16]")
    args = p.parse_args(argv)
    args.orders = args.orders or (300 if args.quick else 10_000)
    args.window_minutes = args.window_minutes or (4 if args.quick else 20)
    return args


def main(argv: list[str]) -> int:
    args = parse(argv)
    return _figures.run_bench(run, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
