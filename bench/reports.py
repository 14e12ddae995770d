"""Reports benchmark (DESIGN §10, issue 17): every report ≤ 1 s with 1,000,000 orders in the
database.

Starts its own stack (`houtai up` in a temp dir, bench/_stack.py), fills --orders orders with
payments, refunds, shipments and their cost (bench/_reports_data.py: bulk SQL, spread over 365
days, SKUs, storefronts, provinces and warehouses, the ledgers balanced, the rollups filled by
their triggers), then times each report part's API (bench/_reports_<part>.py, `report_rows`):
p50/p95 server-side, printed next to a baseline from the same run.

  .venv/bin/python bench/reports.py            # 1,000,000 orders (about 10 minutes to fill)
  .venv/bin/python bench/reports.py --quick    # 100,000 orders, 5 calls each

Figures are printed, not asserted: the exit status is non-zero only if the run itself breaks."""

from __future__ import annotations

import argparse
import os
import sys

import _figures
import _reports_buy
import _reports_data
import _reports_orders
import _reports_sales
import _reports_stock
import _stack
from _figures import say
from _http import http_clients

from workers.embedded import free_port

Row = tuple[str, ...]
PARTS = ("sales", "orders", "stock", "buy")


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    add = p.add_argument
    add("--orders", type=int, default=None, help="orders to fill [1,000,000; quick 100,000]")
    add("--report-calls", type=int, default=None, help="calls per report timed [20; quick 5]")
    add("--only", default=",".join(PARTS), help=f"the parts to run [{','.join(PARTS)}]")
    add("--quick", action="store_true", help="a smoke run")
    args = p.parse_args(argv)
    if args.orders is None:
        args.orders = 100_000 if args.quick else 1_000_000
    if args.report_calls is None:
        args.report_calls = 5 if args.quick else 20
    return args


async def run(args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    # Servers running_stack does not place yet: on free ports too, so that benches running at
    # the same time on one machine do not collide.
    for name in ("SANDBOX_ROBOTS_PORT", "SANDBOX_SMTP_PORT"):
        os.environ.setdefault(f"HOUTAI_EMBEDDED__{name}", str(free_port()))
    async with _stack.running_stack() as stack:
        say(f"[reports] filling {args.orders:,} orders")
        seconds = await _reports_data.fill(stack, args.orders)
        rows.append((f"fill {args.orders:,} orders (bulk SQL, rollups by trigger)",
                     f"{seconds:.0f} s", "", "", "", ""))  # fmt: skip
        balance = await _reports_data.ledgers_balance(stack)
        say(f"[reports] {balance}")
        off = (
            balance["orders off the ledger"]
            + abs(balance["rollup paid − ledger"])
            + abs(balance["rollup refunded − ledger"])
        )
        rows.append(("money ledger = orders = rollup (differences)", str(off), "", "", "= 0",
                     "met" if off == 0 else "MISSED"))  # fmt: skip
        sizes = f"{balance['rollup rows']:,} / {balance['order lines']:,}"
        rows.append(("rollup rows / order lines", sizes, "", "", "", ""))
        parts = {
            "sales": _reports_sales.report_rows,
            "orders": _reports_orders.report_rows,  # its own year of rollup rows, then timed
            "stock": _reports_stock.report_rows,  # 5,000 SKUs × the warehouses, a year of days
            "buy": _reports_buy.report_rows,  # suppliers, PO lines, refunds, differences
        }
        args.calls = args.report_calls  # the parts' own name for it
        async with http_clients(stack, 10) as http:
            for name in args.only.split(","):
                say(f"[reports] part {name}")
                rows += await parts[name](stack, http, args)
        broken = await _stack.invariant_violations(stack.sessions)
        rows.append(("stock ledgers balance", str(broken or "yes"), "", "", "yes",
                     "MISSED" if broken else "met"))  # fmt: skip
    return rows


def main(argv: list[str]) -> int:
    args = parse(argv)
    return _figures.run_bench(run, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
