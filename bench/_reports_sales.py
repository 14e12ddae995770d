"""The sales report's part of the reports benchmark (issue 17): GET /v1/reports/sales in every
period (day, week, month) × dimension (none, category, SKU, storefront, warehouse, province)
combination, over the last 30 days (the report's default) and over the whole year, each timed
--report-calls times one after another, server-side (the API's Server-Timing header). Target:
p95 ≤ 1 s each.

The baseline is the same figure (GMV per period) computed the way the rollup avoids: one
aggregate over orders and their lines for the same days, timed on the bench's own connection."""

from __future__ import annotations

import sys
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import _floor
from _figures import ms, percentile, say
from _http import Http
from _stack import Stack, ok
from sqlalchemy import text

from models.domain.business_day import business_day

Row = tuple[str, ...]
TARGET_S: Final = 1.0
PERIODS: Final = ("day", "week", "month")
DIMENSIONS: Final = ("none", "category", "sku", "storefront", "warehouse", "province")
SCAN_SQL: Final = {
    by: (
        f"SELECT date_trunc('{by}', (o.placed_at AT TIME ZONE 'Asia/Shanghai'))::date,"  # noqa: S608
        " SUM(l.list_amount_fen) FROM orders o JOIN order_lines l ON l.order_no = o.order_no"
        " WHERE o.placed_at >= CAST(:a AS date) AT TIME ZONE 'Asia/Shanghai'"
        " AND o.placed_at < (CAST(:b AS date) + 1) AT TIME ZONE 'Asia/Shanghai' GROUP BY 1"
    )
    for by in PERIODS
}


def _server_time(answer: Any) -> float:
    """Seconds the API says it spent (Server-Timing: report;dur=<ms>)."""
    timing = answer.headers.get("server-timing", "")
    return float(timing.split("dur=")[1]) / 1000 if "dur=" in timing else 0.0


async def _baseline(stack: Stack, first: date, last: date, by: str) -> float:
    async with stack.sessions() as session:
        await session.execute(text(SCAN_SQL[by]), {"a": first, "b": last})  # warm
        started = time.perf_counter()
        await session.execute(text(SCAN_SQL[by]), {"a": first, "b": last})
        return time.perf_counter() - started


async def report_rows(stack: Stack, http: Http, args: Any) -> list[Row]:
    """Every combination's p50 / p95 as table rows (figure, houtai, baseline, ratio, target,
    verdict)."""
    calls = int(getattr(args, "report_calls", 20))
    headers = {"Authorization": f"Bearer {await _floor.login(http.api, 'ops')}"}
    today = business_day(datetime.now(UTC))
    windows = (("30 days", today - timedelta(days=29)), ("365 days", today - timedelta(days=364)))
    rows: list[Row] = []
    for window, first in windows:
        for by in PERIODS:
            baseline = await _baseline(stack, first, today, by)
            for dimension in DIMENSIONS:
                params = {"date_from": first.isoformat(), "date_to": today.isoformat(),
                          "by": by, "dimension": dimension}  # fmt: skip
                times = []
                for _ in range(calls):
                    answer = await http.api.get("/v1/reports/sales", params=params, headers=headers)
                    body = ok(answer, 200)
                    times.append(_server_time(answer))
                p50, p95 = percentile(times, 50), percentile(times, 95)
                label = f"sales {window} by {by} × {dimension}"
                say(f"[sales] {label}: p50 {ms(p50)} p95 {ms(p95)}, {body['count']} rows, "
                    f"paid {body['totals']['paid_fen']:,} fen")  # fmt: skip
                rows.append(
                    (f"{label}: p50 / p95 (server)", f"{ms(p50)} / {ms(p95)}",
                     f"scan of orders {ms(baseline)}",
                     f"{p95 / baseline:.2f}×" if baseline else "", "≤ 1 s",
                     "met" if p95 <= TARGET_S else "MISSED")
                )  # fmt: skip
    return rows


if __name__ == "__main__":
    import reports

    sys.exit(reports.main(sys.argv[1:]))
