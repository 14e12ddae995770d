"""Campaign benchmarks (DESIGN §6.7, §6.8), one section per campaign helper, each in its own
module bench/_campaign_<part>.py, on one throwaway `houtai up` stack:

  coupons: a coupon issued to a 100,000-customer segment: issued/s, and nothing issued twice
           after the worker is SIGKILLed in the middle (bench/_campaign_coupons.py).

Targets are reported, not asserted: the exit status is non-zero only if the run itself breaks."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shlex
import sys
import time

import _stack
from _campaign_coupons import coupon_batch_rows

SECTIONS = ("coupons",)


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a smoke run: 10,000 customers")
    p.add_argument("--customers", type=int, default=None, help="segment size [100000]")
    p.add_argument(
        "--only", default=",".join(SECTIONS), help=f"sections to run [{','.join(SECTIONS)}]"
    )
    args = p.parse_args(argv)
    if args.customers is None:
        args.customers = 10_000 if args.quick else 100_000
    return args


async def run(args: argparse.Namespace) -> list[tuple[str, ...]]:
    began = time.perf_counter()
    rows: list[tuple[str, ...]] = []
    async with _stack.running_stack() as stack:
        _stack.say(f"[stack] up in {time.perf_counter() - began:.1f} s in {stack.workdir}")
        if "coupons" in args.only.split(","):
            rows += await coupon_batch_rows(stack, args.customers)
    return rows


def main(argv: list[str]) -> int:
    args = parse(argv)
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
    print(_stack.table(rows, ("figure", "houtai", "baseline", "ratio", "target", "")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
