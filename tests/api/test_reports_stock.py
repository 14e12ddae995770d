"""The stock reports (issue 17): value by warehouse and category, batch aging and expiry
horizon, days of cover, dead stock and stock-out days, on a hand-computed data set booked
through the stock ledger, and the rollups moving with a later movement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from api.routes.reports_stock import today
from core.db import SessionFactory
from models.db import Category, Sku, Spu, Wave
from services import wave_progress
from services.stock_ledger import BatchRef, Document, move_on_hand
from tests.api.conftest import Ref
from tests.support.api import Headers, MakeHeaders


async def _move(
    session_factory: SessionFactory,
    kind: str,
    sku: int,
    warehouse: int,
    location: int,
    n: int,
    *,
    fen: int | None = None,
    batch: str = "",
    expiry_in: int | None = None,
) -> None:
    expiry = today() + timedelta(days=expiry_in) if expiry_in is not None else None
    async with session_factory() as session:
        await move_on_hand(session, movement_type=kind, sku_id=sku, warehouse_id=warehouse,
                           batch=BatchRef(location, batch, None, expiry), quantity=n,
                           unit_cost_fen=fen, doc=Document("test", f"{kind}-{sku}-{n}",
                           "user:test"))  # fmt: skip
        await session.commit()


async def _received_days_ago(
    session_factory: SessionFactory, sku: int, batch: str, days: int
) -> None:
    """The batch came in `days` days ago (receipts at different dates)."""
    async with session_factory() as session:
        await session.execute(
            text(
                "UPDATE location_stocks SET received_at = :at WHERE sku_id = :s AND batch_no = :b"
            ),
            {"at": datetime.now(UTC) - timedelta(days=days), "s": sku, "b": batch},
        )
        await session.commit()


async def _second_sku(session_factory: SessionFactory) -> tuple[int, int]:
    """A SKU of another category: (category id, SKU id)."""
    async with session_factory() as session:
        drinks = Category(code="drinks", name="饮料")
        session.add(drinks)
        await session.flush()
        spu = Spu(code="P2", name="绿茶", category_id=drinks.id)
        session.add(spu)
        await session.flush()
        tea = Sku(spu_id=spu.id, code="P2-500", name="绿茶 500ml", barcode="6900000000048",
                  weight_g=520, volume_cm3=600, list_price_fen=300)  # fmt: skip
        session.add(tea)
        await session.commit()
        return drinks.id, tea.id


async def test_stock_reports_on_a_hand_computed_set(
    client: httpx.AsyncClient,
    admin: Headers,
    ref: Ref,
    session_factory: SessionFactory,
    user_headers: MakeHeaders,
) -> None:
    drinks, tea = await _second_sku(session_factory)
    nuts, sh, gz = ref.sku_id, ref.warehouse_id, ref.other_warehouse_id
    shl, gzl = ref.location_id, ref.other_location_id
    await _move(session_factory, "purchase_in", nuts, sh, shl, 10, fen=300, batch="B1",
                expiry_in=20)  # fmt: skip
    await _move(session_factory, "purchase_in", nuts, sh, shl, 5, fen=451, batch="B2",
                expiry_in=100)  # fmt: skip
    await _move(session_factory, "purchase_in", nuts, gz, gzl, 4, fen=1000)
    await _move(session_factory, "purchase_in", tea, sh, shl, 3, fen=777)
    await _received_days_ago(session_factory, nuts, "B1", 45)
    await _received_days_ago(session_factory, tea, "", 200)
    # 6 shipped from B1: out at floor(5255 × 6 / 15) = 2102, leaving 9 worth 3153.
    await _move(session_factory, "sales_out", nuts, sh, shl, 6, batch="B1")

    async def get(path: str, **params: object) -> Any:
        answer = await client.get(f"/v1/reports/stock/{path}", params=params, headers=admin)
        assert answer.status_code == 200, answer.text
        return answer.json()

    # Value by warehouse and by category.
    by_wh = await get("value")
    assert [(r["id"], r["on_hand"], r["value_fen"], r["skus"]) for r in by_wh["rows"]] == [
        (sh, 12, 3153 + 2331, 2),
        (gz, 4, 4000, 1),
    ]
    assert by_wh["totals"] == {"on_hand": 16, "value_fen": 9484, "skus": 3}
    by_cat = await get("value", group="category")
    assert [(r["id"], r["name"], r["on_hand"], r["value_fen"]) for r in by_cat["rows"]] == [
        (ref.category_id, "食品", 13, 7153),
        (drinks, "饮料", 3, 2331),
    ]
    assert (await get("value", group="category", warehouse_id=gz))["totals"]["value_fen"] == 4000

    # Aging since receipt and the expiry horizon.
    aging = {r["id"]: r for r in (await get("aging"))["rows"]}
    assert {k: aging[sh][k] for k in ("on_hand", "age_0_30", "age_31_60", "age_over_180")} == {
        "on_hand": 12, "age_0_30": 5, "age_31_60": 4, "age_over_180": 3,
    }  # fmt: skip
    assert (aging[sh]["expires_0_30"], aging[sh]["expires_91_180"], aging[sh]["no_expiry"]) == (
        4, 5, 3,
    )  # fmt: skip
    assert (aging[gz]["age_0_30"], aging[gz]["no_expiry"], aging[gz]["expired"]) == (4, 4, 0)
    by_cat_age = (await get("aging", group="category", category_id=drinks))["rows"]
    assert [(r["id"], r["age_over_180"]) for r in by_cat_age] == [(drinks, 3)]

    # Days of cover: 9 on hand ÷ (6 shipped / 30 days) = 45.0 days; nothing shipped: none.
    cover = await get("cover")
    assert [(r["sku_id"], r["warehouse_id"], r["on_hand"], r["units_out"], r["days_of_cover"])
            for r in cover["rows"]] == [
        (nuts, sh, 9, 6, 45.0), (nuts, gz, 4, 0, None), (tea, sh, 3, 0, None),
    ]  # fmt: skip
    assert cover["rows"][0]["avg_daily_units"] == 0.2
    assert (cover["count"], cover["totals"]) == (3, {"on_hand": 16, "units_out": 6})
    assert (await get("cover", days=1))["rows"][0]["days_of_cover"] == 1.5

    # Dead stock: on hand, nothing shipped in 90 days — most value first.
    dead = await get("dead")
    assert [(r["sku_id"], r["warehouse_id"], r["value_fen"], r["last_out_on"])
            for r in dead["rows"]] == [(nuts, gz, 4000, None), (tea, sh, 2331, None)]  # fmt: skip
    assert (dead["count"], dead["totals"]) == (2, {"on_hand": 7, "value_fen": 6331})

    # A later movement moves every rollup: one tea shipped.
    await _move(session_factory, "sales_out", tea, sh, shl, 1)
    dead = await get("dead")
    assert [(r["sku_id"], r["warehouse_id"]) for r in dead["rows"]] == [(nuts, gz)]
    tea_cover = await get("cover", sku_id=tea)
    assert [(r["on_hand"], r["units_out"], r["days_of_cover"]) for r in tea_cover["rows"]] == [
        (2, 1, 60.0)
    ]
    assert (await get("value"))["rows"][0]["on_hand"] == 11

    # Stock-out days: GZ sells out today (1 day, still out) ...
    assert (await get("stockouts"))["count"] == 0
    await _move(session_factory, "sales_out", nuts, gz, gzl, 4)
    outs = await get("stockouts")
    assert [(r["sku_id"], r["warehouse_id"], r["stockout_days"], r["out_now"])
            for r in outs["rows"]] == [(nuts, gz, 1, True)]  # fmt: skip
    # ... the spell began three days ago (as if sold out then) and ends with a receipt today:
    # four days out, three of them inside a period starting two days ago.
    async with session_factory() as session:
        await session.execute(
            text("UPDATE stock_activity SET zero_since = zero_since - interval '3 days'"
                 " WHERE sku_id = :s AND warehouse_id = :w"), {"s": nuts, "w": gz},
        )  # fmt: skip
        await session.commit()
    assert (await get("stockouts"))["totals"] == {"skus": 1, "stockout_days": 4}
    await _move(session_factory, "purchase_in", nuts, gz, gzl, 2, fen=1000)
    recent = await get("stockouts", date_from=str(today() - timedelta(days=2)))
    assert [(r["stockout_days"], r["out_now"]) for r in recent["rows"]] == [(3, False)]
    assert (await get("stockouts"))["totals"] == {"skus": 1, "stockout_days": 4}
    earlier = str(today() - timedelta(days=10))
    assert (await get("stockouts", date_to=earlier))["count"] == 0  # an empty period

    # Like the stock lists: staff with stock.read; bad input refused.
    ops = await user_headers("ops")
    assert (await client.get("/v1/reports/stock/value", headers=ops)).status_code == 200
    assert (await client.get("/v1/reports/stock/value")).status_code == 401
    for path, bad in (("value", {"group": "sku"}), ("cover", {"days": 0}),
                      ("stockouts", {"date_from": "2026-12-01", "date_to": "2026-11-01"}),
                      ("dead", {"warehouse_id": 0}),
                      ("stockouts", {"date_to": "0001-01-01"}),
                      ("stockouts", {"date_from": "9999-12-31"})):  # fmt: skip
        answer = await client.get(f"/v1/reports/stock/{path}", params=bad, headers=admin)
        assert answer.status_code == 422, (path, bad)


async def test_waves_count_on_their_cutoffs_business_day_across_week_and_month_boundaries(
    client: httpx.AsyncClient, admin: Headers, ref: Ref, session_factory: SessionFactory
) -> None:
    """A wave counts on its cutoff's day in Asia/Shanghai, on time when finished by the cutoff:
    00:30 on Tuesday 1 December (16:30 UTC the day before) is December and the week of Monday
    30 November; Sunday 29 November is the week before. A cancelled wave counts nowhere."""

    def at(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 11, day, hour, minute, tzinfo=UTC)

    waves = {  # number: (cutoff, finished at; None: cancelled)
        "WV-A": (at(29, 10), at(29, 9)),
        "WV-B": (at(30, 15, 59), at(30, 15)),
        "WV-C": (at(30, 16, 30), at(30, 17)),
        "WV-D": (at(30, 16, 30), None),
    }
    async with session_factory() as session:
        for number, (cutoff, _) in waves.items():
            session.add(
                Wave(
                    wave_no=number,
                    warehouse_id=ref.warehouse_id,
                    plan_key=number,
                    carrier_code="SF",
                    cutoff_at=cutoff,
                    profile="single",
                    zone="A",
                    release_reason="manual",
                    orders=1,
                    lines=1,
                    units=1,
                )
            )
        await session.commit()
    async with session_factory() as session:
        for number, (_, finished) in waves.items():
            if finished is None:
                await session.execute(
                    text("UPDATE waves SET status = 'cancelled' WHERE wave_no = :n"), {"n": number}
                )
            else:
                await wave_progress.finish(session, number, finished)
        await session.commit()

    async def counted(by: str) -> list[tuple[str, int, int, float | None]]:
        answer = await client.get(
            "/v1/reports/warehouse",
            params={"date_from": "2026-11-29", "date_to": "2026-12-01", "by": by},
            headers=admin,
        )
        assert answer.status_code == 200, answer.text
        return [
            (r["period"], r["waves_done"], r["waves_on_time"], r["on_time_pct"])
            for r in answer.json()["rows"]
        ]

    assert await counted("day") == [
        ("2026-11-29", 1, 1, 100.0), ("2026-11-30", 1, 1, 100.0), ("2026-12-01", 1, 0, 0.0),
    ]  # fmt: skip
    assert await counted("week") == [("2026-11-23", 1, 1, 100.0), ("2026-11-30", 2, 1, 50.0)]
    assert await counted("month") == [("2026-11-01", 2, 2, 100.0), ("2026-12-01", 1, 0, 0.0)]
    # The week starting 30 November, asked from its Tuesday: only that day's wave.
    answer = await client.get(
        "/v1/reports/warehouse",
        params={"date_from": "2026-12-01", "date_to": "2026-12-06", "by": "week"},
        headers=admin,
    )
    assert answer.json()["totals"]["waves_done"] == 1
