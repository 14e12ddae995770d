"""Campaigns benchmark on the embedded stack (`houtai up` in a temp dir), issue 16. Each
campaign's section is a function of its own module (bench/_campaign_<part>.py) called here:

  group buys (bench/_campaign_groups.py): 200 groups of 5 forming at once, half completing
  and half failing at their time limit; every paid member of a failed group refunded exactly
  once, read from the money ledger.

Figures are printed, not asserted: the exit status is non-zero only if the run itself breaks."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shlex
import sys
import time

import _campaign_groups
import _stack
import httpx


async def run(args: argparse.Namespace) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    async with (
        _stack.running_stack() as stack,
        httpx.AsyncClient(base_url=stack.api, timeout=120) as api,
    ):
        rows += await _campaign_groups.group_buys(
            stack,
            api,
            groups=args.groups,
            size=args.size,
            concurrency=args.concurrency,
            fail_after_minutes=args.fail_after_minutes,
        )
    return rows


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="20 groups instead of 200")
    p.add_argument("--groups", type=int, help="groups, half completing [200; quick 20]")
    p.add_argument("--size", type=int, default=5, help="members per group [5]")
    p.add_argument("--concurrency", type=int, default=40, help="buyers' requests in flight [40]")
    p.add_argument(
        "--fail-after-minutes",
        type=int,
        default=15,
        help="the failing half's time limit: longer than forming takes [15]",
    )
    args = p.parse_args(argv)
    args.groups = args.groups or (20 if args.quick else 200)
    logging.getLogger("temporalio").setLevel(logging.ERROR)
    command = shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    load, began = os.getloadavg()[0], time.perf_counter()
    try:
        rows = asyncio.run(run(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted: everything started was stopped", file=sys.stderr)
        return 130
    print(f"\n$ {command}")
    print(
        f"{os.cpu_count()} CPUs, load {load:.2f} before / {os.getloadavg()[0]:.2f} after, "
        f"{time.perf_counter() - began:.0f} s in all. The machine is shared: figures are noisy."
    )
    print(_stack.table(rows, ("figure", "houtai", "expected")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
