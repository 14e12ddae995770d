"""GET /v1/reports/orders and /v1/reports/after-sales on a hand-computed data set written
through the order, shipment and timeline services (tests/support/report_orders.py): exact
counts, fen and bucketed percentiles, week and month boundaries in Asia/Shanghai, an empty
period, the rollups moving with a later step, and the migration's backfill giving the same rows
the trigger kept."""

from __future__ import annotations

import importlib
from typing import Any

import httpx
from sqlalchemy import text

from core.db import SessionFactory
from models.domain.report_buckets import bucket_of
from tests.api.conftest import Ref
from tests.support.api import Headers, MakeHeaders
from tests.support.report_orders import (
    QUALITY,
    UNWANTED,
    after_sale_step,
    at,
    make_data_set,
    step,
)

WINDOW = {"date_from": "2026-11-29", "date_to": "2026-12-02"}
FUNNEL = ("placed", "paid", "handed_over", "completed", "cancelled")
ROLLUPS = (
    "order_funnel_days",
    "order_cancel_days",
    "handover_time_days",
    "sku_sold_days",
    "after_sale_sku_days",
    "after_sale_reason_days",
    "after_sale_decision_days",
)


async def report(client: httpx.AsyncClient, headers: Headers, name: str, **params: Any) -> Any:
    answer = await client.get(f"/v1/reports/{name}", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def funnel(body: Any, a: int, b: int) -> dict[tuple[str, str], tuple[int, ...]]:
    names = {a: "A", b: "B"}
    return {
        (r["period"], names[r["api_key_id"]]): tuple(r[c] for c in FUNNEL) for r in body["rows"]
    }


async def test_orders_report_funnel_cancels_and_handover_times(
    client: httpx.AsyncClient, admin: Headers, ref: Ref, session_factory: SessionFactory
) -> None:
    data = await make_data_set(
        session_factory, ref.sku_id, ref.warehouse_id, ref.other_warehouse_id
    )
    a, b = data.shop_a, data.shop_b
    body = await report(client, admin, "orders", **WINDOW)
    assert funnel(body, a, b) == {
        ("2026-11-29", "A"): (1, 1, 0, 0, 0),
        ("2026-11-30", "A"): (3, 1, 2, 0, 2),  # SO1 handed over after midnight; SO2 once
        ("2026-11-30", "B"): (1, 0, 0, 0, 0),
        ("2026-12-01", "A"): (0, 0, 0, 1, 0),  # SO2's second package is no second handover
        ("2026-12-01", "B"): (2, 1, 0, 0, 3),
    }
    assert {r["storefront"] for r in body["rows"]} == {"shop-a", "shop-b"}
    assert body["totals"] == dict(zip(FUNNEL, (7, 3, 2, 1, 5), strict=True))
    assert [(c["kind"], c["orders"]) for c in body["cancellations"]] == [
        ("payment_timeout", 1),
        ("customer", 1),
        ("staff", 1),
        ("risk_review", 1),
        ("out_of_stock", 1),
    ]
    # SH on 11-30: 60 and 10 minutes → buckets 23 and 13 (upper 3,780 s and 619 s); GZ on
    # 12-01: 1,440 minutes → bucket 41 (upper 86,830 s).
    assert [
        (h["period"], h["warehouse"], h["packages"], h["p50_s"], h["p90_s"])
        for h in body["handover"]
    ] == [
        ("2026-11-30", "上海仓", 2, 619, 3780),
        ("2026-12-01", "广州仓", 1, 86830, 86830),
    ]
    assert body["handover_totals"] == {"packages": 3, "p50_s": 3780, "p90_s": 86830}

    week = await report(client, admin, "orders", by="week", **WINDOW)
    assert funnel(week, a, b) == {
        ("2026-11-23", "A"): (1, 1, 0, 0, 0),  # Sunday 11-29 closes the week before
        ("2026-11-30", "A"): (3, 1, 2, 1, 2),
        ("2026-11-30", "B"): (3, 1, 0, 0, 3),
    }
    month = await report(client, admin, "orders", by="month", **WINDOW)
    assert funnel(month, a, b) == {
        ("2026-11-01", "A"): (4, 2, 2, 0, 2),
        ("2026-11-01", "B"): (1, 0, 0, 0, 0),
        ("2026-12-01", "A"): (0, 0, 0, 1, 0),
        ("2026-12-01", "B"): (2, 1, 0, 0, 3),
    }
    assert [(h["period"], h["packages"]) for h in month["handover"]] == [
        ("2026-11-01", 2),
        ("2026-12-01", 1),
    ]
    only_b = await report(client, admin, "orders", api_key_id=b, **WINDOW)
    assert only_b["totals"] == dict(zip(FUNNEL, (3, 1, 0, 0, 3), strict=True))
    assert [c["kind"] for c in only_b["cancellations"]] == [
        "payment_timeout", "risk_review", "out_of_stock"
    ]  # fmt: skip
    gz = await report(client, admin, "orders", warehouse_id=data.gz, **WINDOW)
    assert [h["warehouse_id"] for h in gz["handover"]] == [data.gz]

    empty = await report(client, admin, "orders", date_from="2026-10-01", date_to="2026-10-31")
    assert empty["rows"] == [] and empty["cancellations"] == [] and empty["handover"] == []
    assert empty["totals"] == dict.fromkeys(FUNNEL, 0)
    assert empty["handover_totals"] == {"packages": 0, "p50_s": None, "p90_s": None}

    # A later step moves the rollup: SO2 completed on 12-02.
    await step(session_factory, "SO2", "completed", at(2, 9))
    again = await report(client, admin, "orders", **WINDOW)
    assert funnel(again, a, b)[("2026-12-02", "A")] == (0, 0, 0, 1, 0)
    assert again["totals"]["completed"] == 2


async def test_after_sales_report_rates_refunds_and_decisions_against_the_sla(
    client: httpx.AsyncClient, admin: Headers, ref: Ref, session_factory: SessionFactory
) -> None:
    data = await make_data_set(
        session_factory, ref.sku_id, ref.warehouse_id, ref.other_warehouse_id
    )
    body = await report(client, admin, "after-sales", **WINDOW)
    rows = {
        r["sku_id"]: (r["sold_units"], r["after_sale_units"], r["requests"], r["rate"],
                      r["refunded_fen"])
        for r in body["rows"]
    }  # fmt: skip
    assert rows == {data.sku_x: (5, 2, 2, 0.4, 1500), data.sku_y: (2, 2, 2, 1.0, 0)}
    assert body["count"] == 2
    # 200 min → bucket 30 (upper 12,857 s), 48 h → 45 (173,719 s), 30 min → 19 (1,860 s).
    assert [
        (r["reason"], r["requests"], r["after_sale_units"], r["refunds"], r["refunded_fen"],
         r["decided"], r["within_sla"], r["p50_s"], r["p90_s"])
        for r in body["reasons"]
    ] == [
        (QUALITY, 2, 3, 1, 1500, 2, 1, 12857, 173719),
        (UNWANTED, 1, 1, 0, 0, 1, 1, 1860, 1860),
    ]  # fmt: skip
    assert body["reasons"][0]["rate"] == round(3 / 7, 6)
    assert body["totals"] == {
        "sold_units": 7, "after_sale_units": 4, "requests": 3, "rate": round(4 / 7, 6),
        "refunds": 1, "refunded_fen": 1500, "decided": 3, "within_sla": 2,
        "p50_s": 12857, "p90_s": 173719,
    }  # fmt: skip
    # The late decision falls on 12-02: a window to 12-01 has only the two in time.
    earlier = await report(client, admin, "after-sales", date_from="2026-11-29",
                           date_to="2026-12-01")  # fmt: skip
    assert (earlier["totals"]["decided"], earlier["totals"]["within_sla"]) == (2, 2)
    unwanted = await report(client, admin, "after-sales", reason=UNWANTED, **WINDOW)
    assert [(r["sku_id"], r["after_sale_units"]) for r in unwanted["rows"]] == [(data.sku_y, 1)]
    by_rate = await report(client, admin, "after-sales", sort="-rate", limit=1, **WINDOW)
    assert [r["sku_id"] for r in by_rate["rows"]] == [data.sku_y] and by_rate["count"] == 2

    # AS2 refunded later: 3,400 fen, its first line (X) takes 900 + the 500 freight.
    await after_sale_step(session_factory, "AS2", "SO2", "refunded", at(2, 11), 3400)
    again = await report(client, admin, "after-sales", **WINDOW)
    assert {r["sku_id"]: r["refunded_fen"] for r in again["rows"]} == {
        data.sku_x: 1500 + 1400,
        data.sku_y: 2000,
    }
    assert (again["totals"]["refunds"], again["totals"]["refunded_fen"]) == (2, 4900)


async def test_the_migration_backfill_gives_the_rows_the_trigger_kept(
    ref: Ref, session_factory: SessionFactory
) -> None:
    await make_data_set(session_factory, ref.sku_id, ref.warehouse_id, ref.other_warehouse_id)
    await after_sale_step(session_factory, "AS2", "SO2", "refunded", at(2, 11), 3400)
    migration = importlib.import_module("migrations.versions.0052_order_rollups")

    async def snapshot() -> dict[str, list[Any]]:
        async with session_factory() as session:
            out = {
                t: sorted(tuple(r) for r in (await session.execute(text(f"SELECT * FROM {t}"))))
                for t in ROLLUPS
            }
            out["orders"] = sorted(
                tuple(r)
                for r in await session.execute(
                    text("SELECT order_no, cancel_kind, paid_at, handed_over_at FROM orders")
                )
            )
            return out

    kept = await snapshot()
    assert kept["order_cancel_days"]  # the data set is there
    async with session_factory() as session:
        for table in ROLLUPS:
            await session.execute(text(f"DELETE FROM {table}"))
        await session.execute(
            text("UPDATE orders SET cancel_kind = NULL, paid_at = NULL, handed_over_at = NULL")
        )
        for statement in migration.BACKFILL:
            await session.execute(text(statement))
        await session.commit()
    assert await snapshot() == kept


async def test_the_sql_buckets_are_the_python_ones(session_factory: SessionFactory) -> None:
    minutes = [0, 0.05, 0.99, 1, 1.5, 10, 59.9, 60, 61, 1439, 1440, 2880, 10_080, 100_000, -3]
    async with session_factory() as session:
        got = [
            int(await session.scalar(text("SELECT order_report_bucket(:m)"), {"m": m}) or 0)
            for m in minutes
        ]
    assert got == [bucket_of(m) for m in minutes]


async def test_reports_are_for_staff_with_the_read_permission(
    client: httpx.AsyncClient, user_headers: MakeHeaders, key_headers: MakeHeaders
) -> None:
    storefront = await key_headers("storefront")
    for name in ("orders", "after-sales"):
        answer = await client.get(f"/v1/reports/{name}", headers=storefront)
        assert answer.status_code == 403, answer.text
    cs = await user_headers("cs")
    assert (await client.get("/v1/reports/after-sales", headers=cs)).status_code == 200
    bad = await client.get(
        "/v1/reports/orders",
        params={"date_from": "2026-12-02", "date_to": "2026-12-01"},
        headers=cs,
    )
    assert bad.status_code == 422
    # The first days of the calendar: the default window stops at its start.
    edge = await client.get("/v1/reports/orders", params={"date_to": "0001-01-05"}, headers=cs)
    assert edge.status_code == 200 and edge.json()["date_from"] == "0001-01-01"
