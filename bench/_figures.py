"""What every bench prints: progress lines, percentiles, the table of figures and its run line
(the command, the machine's load and speed before and after), and the figures kept for
`make bench`'s table at its end (bench/_summary.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shlex
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def say(message: str) -> None:
    """A progress line, stamped with the time of day (the phases' durations show in them)."""
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear-interpolated percentile (pct in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def table(rows: Sequence[tuple[str, ...]], header: tuple[str, ...]) -> str:
    """A plain fixed-width table."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)

    def fmt(row: tuple[str, ...]) -> str:
        return "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()

    return "\n".join([fmt(header), line, *(fmt(r) for r in rows)])


HEADER = ("figure", "houtai", "baseline", "ratio", "target", "")
FIGURES_ENV = "HOUTAI_BENCH_FIGURES"


def keep_figures(
    rows: Sequence[tuple[str, ...]], header: tuple[str, ...], command: str, run: str
) -> None:
    """Add this bench's figures to the file HOUTAI_BENCH_FIGURES names, one JSON line each and
    one for the run (its command, load and time), so that `make bench` can print every bench's
    figures as one table at its end (bench/_summary.py). Nothing when the variable is unset."""
    path = os.environ.get(FIGURES_ENV)
    if not path:
        return
    bench = Path(sys.argv[0]).name
    lines = [{"bench": bench, "command": command, "run": run}]
    lines += [{"bench": bench, "cells": dict(zip(header, row, strict=True))} for row in rows]
    with open(path, "a", encoding="utf-8") as out:
        out.writelines(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)


YARDSTICK_STEPS = 5_000_000
ROUND_TRIPS = 10_000


def yardstick() -> float:
    """Seconds this machine takes now for a fixed pure-Python loop of YARDSTICK_STEPS additions.
    The shared machine's speed moves through the day (by 1.7× on 2026-12-07, load or not), and
    so do the figures: the yardstick before and after a bench says how fast the machine ran it."""
    began = time.perf_counter()
    total = 0
    for step in range(YARDSTICK_STEPS):
        total += step
    return time.perf_counter() - began


def round_trip_us() -> float:
    """Microseconds one byte takes to go to another process and back (a socket pair, a forked
    child echoing it), over ROUND_TRIPS: what a statement to PostgreSQL or a call to another
    service pays besides the work itself. The Python loop above does not see it move: on
    2026-12-07 a flash sale's refusals and a wave plan (round trips to PostgreSQL, mostly) ran
    twice as slow as hours earlier with the loop as fast as then."""
    ours, theirs = socket.socketpair()
    child = os.fork()
    if child == 0:  # pragma: no cover - the echoing child
        ours.close()
        for _ in range(ROUND_TRIPS):
            theirs.sendall(theirs.recv(1))
        os._exit(0)
    theirs.close()
    try:
        began = time.perf_counter()
        for _ in range(ROUND_TRIPS):
            ours.sendall(b"x")
            ours.recv(1)
        return (time.perf_counter() - began) / ROUND_TRIPS * 1e6
    finally:
        ours.close()
        os.waitpid(child, 0)


@dataclass(frozen=True)
class Before:
    """The machine when a bench began: its load (1 min), the yardsticks, the clock."""

    load: float
    yardstick_s: float
    round_trip_us: float
    began: float

    @staticmethod
    def now() -> Before:
        return Before(os.getloadavg()[0], yardstick(), round_trip_us(), time.perf_counter())


def run_line(before: Before) -> str:
    """The line under a bench's command: the machine, its load and speed before and after, the
    time."""
    return (
        f"{os.cpu_count()} CPUs, load {before.load:.2f} before / {os.getloadavg()[0]:.2f} after, "
        f"{time.perf_counter() - before.began:.0f} s in all; yardsticks before / after: a "
        f"{YARDSTICK_STEPS:,}-step Python loop {before.yardstick_s:.2f} / {yardstick():.2f} s, "
        f"a round trip to another process {before.round_trip_us:.0f} / {round_trip_us():.0f} µs. "
        "The machine is shared: figures are noisy."
    )


def run_bench(
    run: Callable[[Any], Awaitable[Sequence[tuple[str, ...]]]],
    args: Any,
    header: tuple[str, ...] = HEADER,
) -> int:
    """A bench's main: run it, then print the command, the machine's load before and after
    and the table of figures; 130 after Ctrl-C (everything started is stopped by then)."""
    logging.getLogger("temporalio").setLevel(logging.ERROR)  # no warning per refused call
    command = shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    before = Before.now()
    try:
        rows = asyncio.run(run(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted: everything started was stopped", file=sys.stderr)
        return 130
    run_ = run_line(before)
    print(f"\n$ {command}\n{run_}")
    print(table(rows, header))
    keep_figures(rows, header, command, run_)
    return 0
