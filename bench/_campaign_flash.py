"""The flash sale (秒杀, DESIGN §6.8 and §10) as bench/campaigns.py runs it: a real flash sale
created over the API (its stock carved when its workflow opens it), then thousands of buyers at
once, each `POST /v1/orders` with `flash_sale_id`, some of them buying a second time over the
per-customer limit. Printed next to the create-order baseline of bench/orders.py (scenario a:
`POST /v1/orders` and a bare Update-with-Start at 50 clients, in the same run).

Figures: orders accepted (201) and orders that exist, oversold units (four ways: claims, held
reservations of the sale's orders, the stock row's `reserved` against the campaign's own hold,
units on order lines), customers above the limit, refusals by reason and their latency."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _floor
import _stack
import httpx
import orders
from _figures import ms, percentile, say
from _http import Http
from _lean import LeanClient, LeanError, lean_client
from _stack import SHOP, Stack, ok
from sqlalchemy import text

from workers.embedded import free_port
from workers.seed import DEMO_STOREFRONT_KEY

Row = tuple[str, ...]
FLASH_DEFAULTS = {"buyers": 5000, "units": 100, "in_flight": "50,500", "repeat": 500, "limit": 1}


async def _flash_sku(stack: Stack, exclude: set[int], units: int) -> tuple[int, int, int]:
    """(sku, SH01 id, list price) of an SH01-stocked SKU with at least `units` sellable there."""
    sql = """SELECT s.sku_id, s.warehouse_id, k.list_price_fen FROM stocks s
        JOIN warehouses w ON w.id = s.warehouse_id JOIN skus k ON k.id = s.sku_id
        WHERE w.code = 'SH01' AND k.active AND s.on_hand > 0 AND k.list_price_fen > 100
        ORDER BY s.sku_id"""
    async with stack.sessions() as session:
        rows = [r for r in (await session.execute(text(sql))).all() if r[0] not in exclude]
    sku, warehouse, price = rows[-1]
    await _stack.adjust_stock(stack.sessions, sku, warehouse, units + 50)
    return int(sku), int(warehouse), int(price)


async def _create_sale(http: Http, sku: int, warehouse: int, price: int, args: Any) -> Any:
    token = await _floor.login(http.api, "ops")
    ops = {"Authorization": f"Bearer {token}"}
    now = datetime.now(UTC)
    body = {
        "name": "bench 秒杀", "sku_id": sku, "warehouse_id": warehouse,
        "price_fen": price // 2, "quantity": args.flash_units,
        "per_customer_limit": args.flash_limit, "starts_at": now.isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(),
    }  # fmt: skip
    sale = ok(await http.api.post("/v1/flash-sales", json=body, headers=ops), 201)
    path = f"/v1/flash-sales/{sale['id']}"

    async def shown() -> Any:
        return ok(await http.api.get(path, headers=ops), 200)

    opened = await _stack.until(shown, lambda s: s["status"] == "open", "open", within=60,
                                interval=0.1)  # fmt: skip
    return opened, ops


async def _checks(stack: Stack, sale: Any) -> dict[str, int]:
    sql = """SELECT
        (SELECT COUNT(*) FROM flash_claims WHERE flash_sale_id = :f AND status <> 'released'),
        (SELECT COALESCE(SUM(quantity), 0) FROM flash_claims
           WHERE flash_sale_id = :f AND status <> 'released'),
        (SELECT COUNT(*) FROM orders o JOIN flash_claims c USING (order_no)
           WHERE c.flash_sale_id = :f),
        (SELECT COALESCE(SUM(r.quantity), 0) FROM reservations r JOIN flash_claims c
           USING (order_no) WHERE c.flash_sale_id = :f AND r.status = 'held'),
        (SELECT COALESCE(SUM(l.quantity), 0) FROM order_lines l JOIN flash_claims c
           USING (order_no) WHERE c.flash_sale_id = :f),
        (SELECT COUNT(*) FROM (SELECT customer_record_id FROM flash_claims
           WHERE flash_sale_id = :f AND status <> 'released'
           GROUP BY customer_record_id HAVING SUM(quantity) > :limit) x),
        (SELECT held FROM flash_sales WHERE id = :f),
        (SELECT reserved FROM stocks WHERE sku_id = :s AND warehouse_id = :w)"""
    params = {"f": sale["id"], "limit": sale["per_customer_limit"], "s": sale["sku_id"],
              "w": sale["warehouse_id"]}  # fmt: skip
    async with stack.sessions() as session:
        row = (await session.execute(text(sql), params)).one()
    keys = ("claims", "claimed_units", "orders", "held_units", "line_units", "over_limit",
            "campaign_held", "stock_reserved")  # fmt: skip
    return dict(zip(keys, (int(v) for v in row), strict=True))


async def _baseline(stack: Stack, http: Http, args: Any) -> tuple[list[Row], float, float]:
    """bench/orders.py scenario a in this run: its rows and POST /v1/orders p50, p99 (s)."""
    rows_, codes = await orders.stocked_skus(stack)
    wh = {code: warehouse_id for warehouse_id, code in codes.items()}
    pool = [sku for sku, code, count in rows_ if count > 1 and code == "SH01"][:8]
    for sku in pool:
        units = 2 * (args.warmup + args.create_requests) // len(pool) + 10
        await _stack.adjust_stock(stack.sessions, sku, wh["SH01"], units)
    skus = orders.Skus(create_pool=pool, pairs=[], flash=0, codes=codes)
    rows = await orders.scenario_a(stack, http, skus, args.raw_queue, args)
    args.pool = pool
    return rows, percentile_of(rows, "p50"), percentile_of(rows, "p99")


def _body(sale: Any, sku: int, key: str, customer: int) -> dict[str, Any]:
    return {
        "client_order_key": key, "customer_id": customer, "flash_sale_id": sale["id"],
        "address": _stack.ADDRESS, "lines": [{"sku_id": sku, "quantity": 1}],
    }  # fmt: skip


@dataclass
class Rush:
    """What the buyers got: answers by kind, (sent at, seconds) of each refusal and each
    acceptance, the wall time and the load generator's own CPU seconds."""

    answers: Counter[str] = field(default_factory=Counter)
    refused: list[tuple[float, float]] = field(default_factory=list)
    accepted: list[tuple[float, float]] = field(default_factory=list)
    wall: float = 0.0
    load_cpu: float = 0.0

    def refusal_split(self) -> tuple[list[float], list[float]]:
        """Refusal latencies while the sale's orders were still being placed (sent before the
        last 201 came back), and after."""
        placed = max((sent + took for sent, took in self.accepted), default=0.0)
        during = [took for sent, took in self.refused if sent < placed]
        return during, [took for sent, took in self.refused if sent >= placed]

    def refusals_opening(self, in_flight: int) -> tuple[list[float], list[float]]:
        """Refusal latencies of the opening burst (the first `in_flight` requests sent, all at
        once before any answer came back, while units were left), and of the later ones."""
        sent = sorted(at for at, _ in self.refused + self.accepted)
        if not sent:
            return [], []
        last = sent[min(in_flight, len(sent)) - 1]
        early = [took for at, took in self.refused if at <= last]
        return early, [took for at, took in self.refused if at > last]


async def _rush(
    base_url: str, sale: Any, sku: int, args: Any, in_flight: int, keys: str = "flash"
) -> Rush:
    """Distinct customers and `repeat` of them twice, shuffled, all started at once with
    `in_flight` requests at a time (bench/_lean.py: a load generator that costs little of the
    cores it shares with houtai); each request's storefront key `<keys>-<flash_no>-<i>`."""
    distinct = args.flash_buyers - args.flash_repeat
    customers = [10_000 + i for i in range(distinct)]
    customers += [10_000 + i for i in range(args.flash_repeat)]
    random.Random(7).shuffle(customers)
    rush = Rush()

    async def buyer(client: LeanClient, i: int, customer: int) -> None:
        body = _body(sale, sku, f"{keys}-{sale['flash_no']}-{i}", customer)
        try:  # the client holds at most `in_flight` requests at a time, the others wait
            status, problem, took = await client.post("/v1/orders", body, SHOP)
        except (OSError, LeanError, TimeoutError):
            rush.answers["transport error"] += 1
            return
        sent = time.perf_counter() - took
        if status == 201:
            rush.answers["201"] += 1
            rush.accepted.append((sent, took))
        elif status == 409:
            rush.answers[f"409 {_reason(problem)}"] += 1
            rush.refused.append((sent, took))
        else:
            rush.answers[str(status)] += 1

    async with lean_client(base_url, in_flight) as client:
        wall, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(buyer(client, i, c) for i, c in enumerate(customers)))
        rush.wall, rush.load_cpu = time.perf_counter() - wall, time.process_time() - cpu
    return rush


def _reason_of(answer: httpx.Response) -> str:
    return _reason(answer.json())


def _reason(problem: Any) -> str:
    errors = problem.get("errors") or [{}]  # the gate's reason, else the workflow's refusal
    return str(errors[0].get("reason") or errors[0].get("type") or problem.get("type", "other"))


async def _again(stack: Stack, http: Http, sale: Any, sku: int) -> tuple[Counter[str], int]:
    """Every winner comes back for a second unit: each must be refused over the limit."""
    winners = await _winners(stack, sale["id"])
    again: Counter[str] = Counter()
    for n, customer in enumerate(winners):
        body = _body(sale, sku, f"flash-{sale['flash_no']}-again-{n}", customer)
        answer = await http.api.post("/v1/orders", json=body, headers=SHOP)
        reason = _reason_of(answer) if answer.status_code == 409 else ""
        again[f"{answer.status_code} {reason}".strip()] += 1
    return again, len(winners)


def in_flight_counts(text_: str) -> list[int]:
    """`--flash-in-flight` "50,500": one flash sale per count, in that order."""
    return [int(n) for n in text_.split(",") if n.strip()]


async def flash_sale_rows(stack: Stack, http: Http, args: Any) -> list[Row]:
    """The create-order baseline (bench/orders.py scenario a), then one flash sale (its own SKU,
    the same buyers) per `--flash-in-flight` count, as table rows."""
    rows, baseline_p50, baseline_p99 = await _baseline(stack, http, args)
    used = set(args.pool)
    sold: Sold | None = None
    for in_flight in in_flight_counts(str(args.flash_in_flight)):
        more, sold = await _one_sale(stack, http, args, in_flight, used, baseline_p50, baseline_p99)
        rows += more
    if sold is not None:
        rows += await floor_rows(stack, http, args, sold)
    return rows


@dataclass
class Sold:
    """houtai's figures of one sale's rush, for the floor's rows."""

    sale: Any
    sku: int
    in_flight: int
    label: str


async def floor_rows(stack: Stack, http: Http, args: Any, sold: Sold) -> list[Row]:
    """The same buyers, as many in flight, on the same sale, sold out by then (every answer a
    refusal): first houtai, then the floor (bench/_flash_floor.py: a bare ASGI app on uvicorn
    running houtai's one refusal statement): what the machine allows a refusal, next to what
    houtai's refusal costs."""
    ours = await _measured(stack, str(http.api.base_url), sold, args, "again",
                           lambda: cpu_seconds(stack.up_pid).get("api", 0.0))  # fmt: skip
    port = free_port()
    floor = await asyncio.to_thread(_start_floor, port, stack.pg_port)
    try:
        await _listening(port, floor, within=60)
        theirs = await _measured(stack, f"http://127.0.0.1:{port}", sold, args, "floor",
                                 lambda: _own_cpu(floor.pid))  # fmt: skip
    finally:
        await asyncio.to_thread(_stop_floor, floor)
    label = f"{sold.label}, sold out: houtai vs the floor (bare ASGI + the one statement)"

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}×" if b else ""

    return [
        (f"{label}: 409 p50", ms(ours.p50), f"floor {ms(theirs.p50)}",
         ratio(ours.p50, theirs.p50), "", ""),
        (f"{label}: 409 p99", ms(ours.p99), f"floor {ms(theirs.p99)}",
         ratio(ours.p99, theirs.p99), "≤ 250 ms", "met" if ours.p99 <= 0.250 else "MISSED"),
        (f"{label}: refusals per second", f"{ours.rate:.0f}/s", f"floor {theirs.rate:.0f}/s",
         ratio(ours.rate, theirs.rate), "", ""),
        (f"{label}: CPU per refusal, server / PostgreSQL",
         f"{1000 * ours.server_cpu:.2f} ms / {1000 * ours.postgres_cpu:.2f} ms",
         f"floor {1000 * theirs.server_cpu:.2f} ms / {1000 * theirs.postgres_cpu:.2f} ms",
         ratio(ours.server_cpu + ours.postgres_cpu, theirs.server_cpu + theirs.postgres_cpu),
         "", ""),
        (f"{label}: answers other than 409", f"{ours.others}", f"floor {theirs.others}", "",
         "= 0", ""),
    ]  # fmt: skip


@dataclass
class Measured:
    p50: float
    p99: float
    rate: float  # refusals per second
    server_cpu: float  # seconds per request: the API (or the floor) process
    postgres_cpu: float
    others: int  # answers other than 409


async def _measured(
    stack: Stack,
    base_url: str,
    sold: Sold,
    args: Any,
    keys: str,
    server_seconds: Callable[[], float],
) -> Measured:
    """A rush on the sold-out sale, with the CPU the server process and PostgreSQL spent."""
    before, server_before = cpu_seconds(stack.up_pid), server_seconds()
    rush = await _rush(base_url, sold.sale, sold.sku, args, sold.in_flight, keys=keys)
    server = (server_seconds() - server_before) / args.flash_buyers
    postgres = (cpu_seconds(stack.up_pid).get("postgres", 0.0)
                - before.get("postgres", 0.0)) / args.flash_buyers  # fmt: skip
    say(f"[flash] {keys}: {rush.wall:.1f} s for {args.flash_buyers} buyers, {sold.in_flight} "
        f"in flight, sold out; answers {dict(rush.answers)}")  # fmt: skip
    refused = [took for _, took in rush.refused]
    return Measured(
        p50=percentile(refused, 50),
        p99=percentile(refused, 99),
        rate=len(refused) / rush.wall if rush.wall else 0.0,
        server_cpu=server,
        postgres_cpu=postgres,
        others=sum(n for k, n in rush.answers.items() if not k.startswith("409")),
    )


def _start_floor(port: int, pg_port: int) -> subprocess.Popen[bytes]:
    dsn = f"postgresql://postgres@127.0.0.1:{pg_port}/houtai"
    script = Path(__file__).with_name("_flash_floor.py")
    return subprocess.Popen(
        [sys.executable, str(script), str(port), dsn, DEMO_STOREFRONT_KEY],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop_floor(floor: subprocess.Popen[bytes]) -> None:
    floor.send_signal(signal.SIGINT)  # its own pid: uvicorn stops and closes its pool
    try:
        floor.wait(timeout=15)
    except subprocess.TimeoutExpired:
        floor.kill()
        floor.wait()


async def _listening(port: int, process: subprocess.Popen[bytes], within: float) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError as exc:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the floor did not listen on {port} (exit {process.poll()})"
                ) from exc
            await asyncio.sleep(0.2)
        else:
            writer.close()
            return


def _own_cpu(pid: int) -> float:
    """CPU seconds (user + system) of one process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _one_sale(
    stack: Stack,
    http: Http,
    args: Any,
    in_flight: int,
    used: set[int],
    baseline_p50: float,
    baseline_p99: float,
) -> tuple[list[Row], Sold]:
    sku, warehouse, price = await _flash_sku(stack, used, args.flash_units)
    used.add(sku)
    before_reserved = await _checks_stock(stack, sku, warehouse)
    sale, _ops = await _create_sale(http, sku, warehouse, price, args)
    say(f"[flash] {sale['flash_no']} open: {sale['total']} units of SKU {sku} at "
        f"{sale['price_fen']} fen, limit {sale['per_customer_limit']}")  # fmt: skip
    # The buyers are customers the storefront knows (an unknown one is refused with 422).
    await _stack.known_customers(stack.sessions, 10_000, args.flash_buyers - args.flash_repeat)
    cpu_before = cpu_seconds(stack.up_pid)
    rush = await _rush(str(http.api.base_url), sale, sku, args, in_flight)
    answers, wall = rush.answers, rush.wall
    refused, accepted = [t for _, t in rush.refused], [t for _, t in rush.accepted]
    during, after = rush.refusal_split()
    opening, later = rush.refusals_opening(in_flight)
    cpu = {k: v - cpu_before.get(k, 0.0) for k, v in cpu_seconds(stack.up_pid).items()}
    again, winners = await _again(stack, http, sale, sku)
    found = await _checks(stack, sale)
    units = sale["total"]
    # The stock row's reserved rose by the units carved, whoever holds them: campaign or order.
    reserved_gap = await _checks_stock(stack, sku, warehouse) - before_reserved
    ordered = reserved_gap - found["campaign_held"]
    oversold = max(0, max(found["claimed_units"], found["held_units"], found["line_units"],
                          ordered, answers["201"]) - units)  # fmt: skip
    say(f"[flash] {wall:.1f} s for {args.flash_buyers} buyers, {in_flight} in flight; "
        f"answers {dict(answers)}; winners again {dict(again)}; {found}")  # fmt: skip
    p50, p99 = percentile(refused, 50), percentile(refused, 99)
    label = f"flash sale, {args.flash_buyers} buyers / {units} units, {in_flight} in flight"
    exact = answers["201"] == found["orders"] == found["claims"] == units
    over_refused = again.get("409 over_limit", 0) == winners and found["over_limit"] == 0
    others = sum(n for k, n in answers.items() if k != "201" and not k.startswith("409"))
    sold = Sold(sale, sku, in_flight, label)
    return [
        (f"{label}: orders accepted / existing", f"{answers['201']} / {found['orders']}",
         f"{units} units", "", f"= {units}", "met" if exact else "MISSED"),
        (f"{label}: oversold", str(oversold), "", "", "= 0", "MISSED" if oversold else "met"),
        (f"{label}: over-limit refused (rush)", str(answers["409 over_limit"]), "", "", "", ""),
        (f"{label}: winners again refused over limit",
         f"{again.get('409 over_limit', 0)} / {winners}", "", "", "all",
         "met" if over_refused else "MISSED"),
        (f"{label}: customers above the limit", str(found["over_limit"]), "", "", "= 0",
         "MISSED" if found["over_limit"] else "met"),
        (f"{label}: sold-out refused", str(answers["409 sold_out"]), "", "", "", ""),
        (f"{label}: 409 p50", ms(p50), f"create p50 {ms(baseline_p50)}",
         f"{p50 / baseline_p50:.2f}×" if baseline_p50 else "", "", ""),
        (f"{label}: 409 p99", ms(p99), f"create p99 {ms(baseline_p99)}",
         f"{p99 / baseline_p99:.2f}×" if baseline_p99 else "", "≤ 250 ms",
         "met" if p99 <= 0.250 else "MISSED"),
        (f"{label}: 409 p99 while the orders were placed / after",
         f"{ms(percentile(during, 99))} ({len(during)}) / {ms(percentile(after, 99))} "
         f"({len(after)})", "", "", "", ""),
        (f"{label}: 409 p50 / p99 of the opening {in_flight} requests / later",
         f"{ms(percentile(opening, 50))} / {ms(percentile(opening, 99))} ({len(opening)}) / "
         f"{ms(percentile(later, 50))} / {ms(percentile(later, 99))} ({len(later)})",
         "", "", "", ""),
        (f"{label}: 201 p50 / p99",
         f"{ms(percentile(accepted, 50))} / {ms(percentile(accepted, 99))}", "", "", "", ""),
        (f"{label}: CPU per request, API / PostgreSQL / Temporal+worker",
         " / ".join(f"{1000 * cpu.get(k, 0.0) / args.flash_buyers:.1f} ms"
                    for k in ("api", "postgres", "rest")),
         f"{wall:.0f} s wall", "", "", ""),
        (f"{label}: the load generator's CPU per request",
         f"{1000 * rush.load_cpu / args.flash_buyers:.2f} ms", "", "", "", ""),
        (f"{label}: other answers", str(others), str(dict(answers)) if others else "", "",
         "= 0", ""),
    ], sold  # fmt: skip


def percentile_of(rows: list[Row], which: str) -> float:
    """Scenario a's POST /v1/orders figure (seconds) from its table row."""
    for row in rows:
        if which in row[0]:
            return float(row[1].removesuffix(" ms")) / 1000
    return 0.0


async def _checks_stock(stack: Stack, sku: int, warehouse: int) -> int:
    async with stack.sessions() as session:
        reserved = await session.scalar(
            text("SELECT reserved FROM stocks WHERE sku_id = :s AND warehouse_id = :w"),
            {"s": sku, "w": warehouse},
        )
    return int(reserved or 0)


async def _winners(stack: Stack, sale_id: int) -> list[int]:
    async with stack.sessions() as session:
        found = await session.scalars(
            text("SELECT customer_id FROM flash_claims WHERE flash_sale_id = :f "
                 "AND status <> 'released' ORDER BY customer_id"), {"f": sale_id},
        )  # fmt: skip
        return [int(c) for c in found]


def cpu_seconds(up_pid: int) -> dict[str, float]:
    """CPU seconds (user + system) used so far by the `houtai up` tree's live processes, as the
    API, PostgreSQL (its live backends: one that exits between two readings takes its seconds
    with it, so that figure is a floor) and the rest (Temporal, the worker, the sandboxes): a
    cost per request that the machine's other load does not blur as it blurs latency."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found: dict[str, float] = {}
    todo: list[tuple[int, str]] = [(pid, "") for pid in children.get(up_pid, [])]
    tick = os.sysconf("SC_CLK_TCK")
    while todo:
        pid, parent_kind = todo.pop()
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        # The API's own uvicorn worker processes (`--workers N`) count as the API.
        kind = parent_kind or ("api" if "workers.cli api" in command
                               else "postgres" if "postgres" in command else "")  # fmt: skip
        todo += [(child, kind if kind == "api" else "") for child in children.get(pid, [])]
        kind = kind or "rest"
        found[kind] = found.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return found
