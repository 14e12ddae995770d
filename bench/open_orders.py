"""Open orders benchmark (DESIGN §10, issue 18): --orders (10,000) orders awaiting payment at
once, on the embedded stack (`houtai up` in a temp dir).

The orders are placed through the API (`POST /v1/orders`, --clients at a time) on a stack whose
payment window is --window-minutes, long enough for every order to be placed before the first
deadline, so all of them wait at the same time. Nobody pays: each order workflow's payment
timer closes it at its deadline. Meanwhile the bench samples the resident memory (RSS) of every
worker process of the stack; afterwards it reads, from the database, when each order was closed
(its timeline's `cancelled` step, stamped with the workflow's time of the task that closed it)
next to its `payment_deadline`.

The worker keeps at most HOUTAI_WORKER__MAX_CACHED_WORKFLOWS workflows in memory (--max-cached,
the settings' default unless given); the others are replayed from their histories when their
timer fires. Targets: worker RSS ≤ 500 MB while they wait, every deadline closed ≤ 2 s late.

Figures are printed, not asserted: the exit status is non-zero only if the run itself breaks."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import _stack
import httpx
from _stack import SHOP, Stack, ok, order_body, percentile, say
from sqlalchemy import text

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
                    say(f"[1] {len(numbers):,} placed")

        await asyncio.gather(*(client() for _ in range(args.clients)))
    return numbers


async def status_counts(stack: Stack, numbers: list[str]) -> dict[str, int]:
    async with stack.sessions() as session:
        rows = await session.execute(
            text("SELECT status, count(*) FROM orders WHERE order_no = ANY(:n) GROUP BY status"),
            {"n": numbers},
        )
        return {str(status): int(count) for status, count in rows}


async def lateness(stack: Stack, numbers: list[str]) -> tuple[list[float], int]:
    """Seconds each order was closed after its payment deadline (its timeline's `cancelled`
    step), and how many have no such step."""
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
        peak = idle
        sampling = True

        async def sample() -> None:
            nonlocal peak
            while sampling:
                peak = max(peak, rss_mb(worker_pids(stack.up_pid)))
                await asyncio.sleep(1)

        sampler = asyncio.create_task(sample())
        say(f"[1] placing {args.orders:,} orders, {args.clients} at a time")
        refused: list[str] = []
        numbers = await place_all(stack, skus, args, refused)
        placing = time.monotonic() - began
        counts = await status_counts(stack, numbers)
        waiting = counts.get("awaiting_payment", 0)
        say(f"[1] placed in {placing:.0f} s ({args.orders / placing:.1f}/s); now {counts}")
        at_peak_of_placing = peak
        deadline = time.monotonic() + args.window_minutes * 60 + args.drain_s
        while time.monotonic() < deadline:
            counts = await status_counts(stack, numbers)
            if counts.get("cancelled", 0) == len(numbers):
                break
            await asyncio.sleep(5)
        sampling = False
        await sampler
        say(f"[2] after the deadlines: {counts}")
        late, unclosed = await lateness(stack, numbers)
        broken = await _stack.invariant_violations(stack.sessions)
    worst = max(late) if late else float("nan")
    on_time = bool(late) and unclosed == 0 and worst <= LATE_TARGET_S
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
            "orders awaiting payment at once (after the last was placed)",
            f"{waiting:,}",
            "",
            "",
            f"{args.orders:,}",
            "met" if waiting == args.orders else "MISSED",
        ),
        (
            f"worker RSS while they wait, max ({len(pids)} process(es), "
            f"max_cached_workflows {args.max_cached})",
            f"{peak:.0f} MB",
            f"{idle:.0f} MB idle",
            f"{peak / idle:.2f}×" if idle else "",
            f"≤ {RSS_TARGET_MB} MB",
            "met" if peak <= RSS_TARGET_MB else "MISSED",
        ),
        ("worker RSS, max while placing", f"{at_peak_of_placing:.0f} MB", "", "", "", ""),
        (
            "deadline closes late: p50 / p99 / max",
            f"{percentile(late, 50):.2f} / {percentile(late, 99):.2f} / {worst:.2f} s"
            if late
            else "none closed",
            "",
            "",
            f"≤ {LATE_TARGET_S:g} s, every one",
            "met" if on_time else "MISSED",
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
        help="payment window: longer than placing them all takes [15; quick 4]",
    )
    add(
        "--max-cached",
        type=int,
        default=WorkerSettings().max_cached_workflows,
        help="HOUTAI_WORKER__MAX_CACHED_WORKFLOWS of each worker [the settings' default]",
    )
    add("--workers", type=int, default=1, help="worker processes of `houtai up` [1]")
    add("--drain-s", type=float, default=120, help="seconds past the window to wait [120]")
    args = p.parse_args(argv)
    args.orders = args.orders or (300 if args.quick else 10_000)
    args.window_minutes = args.window_minutes or (4 if args.quick else 15)
    return args


def main(argv: list[str]) -> int:
    args = parse(argv)
    return _stack.run_bench(run, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
