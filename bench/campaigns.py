"""Campaign benchmarks (DESIGN §6.8, §10), each part in its own module bench/_campaign_<part>.py
with one function this script calls; each prints its figures next to a baseline from the same
run on the same stack:

  flash sale (_campaign_flash.py): 5,000 buyers for 100 units → exactly 100 orders, 0 oversold,
  over-limit buyers refused, refusals p99 ≤ 250 ms, next to the create-order baseline of
  bench/orders.py (scenario a).
  coupons (_campaign_coupons.py): a coupon issued to a 100,000-customer segment: issued/s, and
  nothing issued twice after the worker is SIGKILLed in the middle.
  groups (_campaign_groups.py): 200 groups of 5 forming at once, half completing and half
  failing at their time limit; every paid member of a failed group refunded exactly once, read
  from the money ledger.

Targets are reported, not asserted: the exit status is non-zero only if the run itself breaks."""

from __future__ import annotations

import argparse
import sys
import time

import _campaign_flash
import _campaign_groups
import _figures
import _stack
from _baselines import BareWorkflow, noop
from _campaign_coupons import coupon_batch_rows
from _figures import say
from _http import http_clients
from temporalio.worker import Worker

Row = tuple[str, ...]
SECTIONS = ("flash", "coupons", "groups")


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    add = p.add_argument
    add("--only", default=",".join(SECTIONS),
        help=f"the parts to run, comma-separated [{','.join(SECTIONS)}]")  # fmt: skip
    add("--quick", action="store_true", help="smoke runs: 10,000 customers, 20 groups")
    add("--startup-timeout", type=int, default=300,
        help="seconds `houtai up` may take to get ready (a busy machine) [300]")  # fmt: skip
    add("--customers", type=int, default=None, help="coupons: segment size [100,000]")
    add("--clients", type=int, default=50, help="create-order baseline: clients [50]")
    add("--create-requests", type=int, default=300, help="baseline: measured calls [300]")
    add("--warmup", type=int, default=30, help="baseline: unmeasured calls first [30]")
    d = _campaign_flash.FLASH_DEFAULTS
    add("--flash-buyers", type=int, default=d["buyers"], help=f"flash: buyers [{d['buyers']}]")
    add("--flash-units", type=int, default=d["units"], help=f"flash: units [{d['units']}]")
    add("--flash-in-flight", default=d["in_flight"],
        help="flash: requests in flight, comma-separated: one sale for each "
        f"[{d['in_flight']}: the baseline's 50 clients, then a storefront's 500]")  # fmt: skip
    add("--flash-repeat", type=int, default=d["repeat"],
        help=f"flash: buyers who come twice [{d['repeat']}]")  # fmt: skip
    add("--flash-limit", type=int, default=d["limit"], help=f"flash: per customer [{d['limit']}]")
    add("--groups", type=int, help="groups: how many, half completing [200; quick 20]")
    add("--size", type=int, default=5, help="groups: members per group [5]")
    add("--concurrency", type=int, default=40, help="groups: buyers' requests in flight [40]")
    add("--fail-after-minutes", type=int, default=15,
        help="groups: the failing half's time limit, longer than forming takes [15]")  # fmt: skip
    args = p.parse_args(argv)
    args.groups = args.groups or (20 if args.quick else 200)
    if args.customers is None:
        args.customers = 10_000 if args.quick else 100_000
    return args


async def run(args: argparse.Namespace) -> list[Row]:
    began = time.perf_counter()
    async with _stack.running_stack(startup_timeout_s=args.startup_timeout) as stack:
        say(f"[stack] up in {time.perf_counter() - began:.1f} s in {stack.workdir}")
        args.raw_queue = f"{stack.task_queue}-raw"
        raw_worker = Worker(
            stack.client, task_queue=args.raw_queue, workflows=[BareWorkflow], activities=[noop]
        )
        rows: list[Row] = []
        connections = max(500, *_campaign_flash.in_flight_counts(str(args.flash_in_flight)))
        async with raw_worker, http_clients(stack, connections) as http:
            if "flash" in args.only.split(","):
                rows += await _campaign_flash.flash_sale_rows(stack, http, args)
            if "groups" in args.only.split(","):
                # The buyers are customers the storefront knows (2,000,000 + group × 100 + i).
                await _stack.known_customers(stack.sessions, 2_000_000, args.groups * 100)
                found = await _campaign_groups.group_buys(
                    stack, http.api, groups=args.groups, size=args.size,
                    concurrency=args.concurrency, fail_after_minutes=args.fail_after_minutes,
                )  # fmt: skip
                rows += [(figure, got, "", "", expected, "") for figure, got, expected in found]
        if "coupons" in args.only.split(","):
            rows += await coupon_batch_rows(stack, args.customers)
        broken = await _stack.invariant_violations(stack.sessions)
        verdict = "MISSED" if broken else "met"
        rows.append(("stock ledgers balance", str(broken or "yes"), "", "", "yes", verdict))
    return rows


def main(argv: list[str]) -> int:
    args = parse(argv)
    return _figures.run_bench(run, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
