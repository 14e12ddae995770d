"""The sales report (issue 17, docs/architecture.md "Reports") on orders made by the real
services: recorded (services.orders), reserved and shipped (services.reservations, whose
sales_out rows carry the cost of goods), paid and refunded (services.payments). Every figure is
worked out here by hand from the documented definitions; the rollup's triggers keep it current
(a refund after the first read changes the next one), and the report's paid and refunded totals
equal the money ledger's for the same period.

Week and month boundaries are Asia/Shanghai's: order A is placed on Sunday 29 November in UTC but
Monday 30 November 00:30 in Shanghai (its week starts on the 30th); order B on 30 November in
UTC but 1 December 00:30 in Shanghai (December's)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from api.routes.reports_sales import SalesReport, sales_report
from core.db import make_session_factory
from models.contracts.after_sale import InspectedLine, ReturnInbound
from models.contracts.order import Actor
from models.domain.business_day import business_day
from services import customer_returns, reservations
from tests.support import sales
from tests.support.invariants import assert_stock_invariants

PLACED_A = datetime(2026, 11, 29, 16, 30, tzinfo=UTC)  # Mon 30 Nov 00:30 in Shanghai
PLACED_B = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)  # Tue 1 Dec 00:30 in Shanghai


async def _report(session: AsyncSession, by: str, dimension: str = "none") -> SalesReport:
    first, last = date(2026, 11, 23), _today()
    return await sales_report(session, first, last, by, dimension, 0, 500)  # type: ignore[arg-type]


def _today() -> date:
    return business_day(datetime.now(UTC))


def _pick(report: SalesReport, **match: Any) -> dict[str, int]:
    rows = [r for r in report.rows if all(getattr(r, k) == v for k, v in match.items())]
    assert len(rows) == 1, (match, report.rows)
    return rows[0].model_dump(exclude={"period", "key", "name"})


async def _ledger(session: AsyncSession, first: date, last: date) -> tuple[int, int]:
    """(payments, refunds) of orders in the money ledger, by business day of the entry."""
    row = (
        await session.execute(
            text(
                "SELECT COALESCE(SUM(amount_fen) FILTER (WHERE entry_type = 'payment'), 0),"
                " COALESCE(-SUM(amount_fen) FILTER (WHERE entry_type = 'refund'), 0)"
                " FROM money_ledger WHERE order_no IS NOT NULL"
                " AND (created_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN :a AND :b"
            ),
            {"a": first, "b": last},
        )
    ).one()
    return int(row[0]), int(row[1])


async def _cost_of(session: AsyncSession, sku: int, warehouse: int) -> tuple[int, int]:
    row = (
        await session.execute(
            text(
                "SELECT units, value_fen FROM stock_costs WHERE sku_id = :s AND warehouse_id = :w"
            ),
            {"s": sku, "w": warehouse},
        )
    ).one()
    return int(row[0]), int(row[1])


async def _rollups_agree(session: AsyncSession) -> None:
    """The per-dimension rollup the report reads holds the full-grain rollup's sums."""
    figures = "SUM(gmv_fen), SUM(paid_fen), SUM(refunded_fen), SUM(cogs_fen), SUM(units_placed)"
    keys = {
        "category": "s.category_id::text",
        "sku": "r.sku_id::text",
        "storefront": "r.api_key_id::text",
        "warehouse": "r.warehouse_id::text",
        "province": "r.province",
    }
    for dimension, key in keys.items():
        grain = await session.execute(
            text(
                f"SELECT r.day, {key}, {figures} FROM sales_rollup r JOIN skus k ON k.id = r.sku_id"
                " JOIN spus s ON s.id = k.spu_id GROUP BY 1, 2"
            )
        )
        by = await session.execute(
            text(
                f"SELECT day, key, {figures} FROM sales_rollup_by"
                " WHERE dimension = :d GROUP BY 1, 2"
            ),
            {"d": dimension},
        )
        assert sorted(map(tuple, grain)) == sorted(map(tuple, by)), dimension


def _take(units: int, value: int, quantity: int) -> int:
    return value if quantity == units else value * quantity // units


async def test_sales_figures_by_period_and_dimension_to_the_fen(
    seeded_engine: AsyncEngine,
) -> None:
    sessions = make_session_factory(seeded_engine)
    today = _today()
    async with sessions() as session:
        (s1, c1, sh), (s2, c2, _) = await sales.skus(session)
        shop = await sales.storefront(session)
        empty = await _report(session, "day")
        assert empty.totals.gmv_fen == 0 and empty.totals.paid_fen == 0  # nothing sold yet
        assert len(empty.rows) == (today - date(2026, 11, 23)).days + 1  # every day, zeros

        # A: Shanghai, two lines, freight 10.01; B: Guangdong, one line, no freight.
        a_lines = [sales.line(1, s1, c1, 2, 1000, 200), sales.line(2, s2, c2, 1, 500, 50)]
        packages_a = await sales.order(
            session, "SO-SALES-A", shop, "310115", a_lines, 1001, PLACED_A
        )
        b_lines = [sales.line(1, s1, c1, 1, 1000, 0)]
        await sales.order(session, "SO-SALES-B", shop, "440305", b_lines, 0, PLACED_B)
        await sales.pay(session, "SO-SALES-A", 3251)
        await sales.pay(session, "SO-SALES-B", 1000)
        # A ships: its cost of goods is what leaves SH01 at the moving average.
        u1, v1 = await _cost_of(session, s1, sh)
        u2, v2 = await _cost_of(session, s2, sh)
        cogs_a1, cogs_a2 = _take(u1, v1, 2), _take(u2, v2, 1)
        shipped = 0
        for package in packages_a:
            shipped += await reservations.ship(session, "SO-SALES-A", package)
        await session.commit()
        assert shipped == 3
        await assert_stock_invariants(session)
        cogs_a = cogs_a1 + cogs_a2
        assert cogs_a > 0

        # By day: placed figures on the Shanghai day placed, money and cost on today's.
        report = await _report(session, "day")
        assert _pick(report, period=date(2026, 11, 29))["gmv_fen"] == 0  # UTC's day: nothing
        nov30 = _pick(report, period=date(2026, 11, 30))
        assert (nov30["units_placed"], nov30["gmv_fen"], nov30["discount_fen"]) == (3, 2500, 250)
        dec1 = _pick(report, period=date(2026, 12, 1))
        assert (dec1["units_placed"], dec1["gmv_fen"], dec1["discount_fen"]) == (1, 1000, 0)
        now = _pick(report, period=today)
        assert (now["paid_fen"], now["refunded_fen"], now["net_fen"]) == (4251, 0, 4251)
        assert (now["units_shipped"], now["cogs_fen"]) == (3, cogs_a)
        assert now["margin_fen"] == 4251 - cogs_a
        totals = report.totals
        assert (totals.gmv_fen, totals.discount_fen, totals.paid_fen) == (3500, 250, 4251)
        assert (totals.cogs_fen, totals.margin_fen) == (cogs_a, 4251 - cogs_a)

        # By week (Monday-first, Shanghai) and by month.
        weeks = await _report(session, "week")
        assert [r.period for r in weeks.rows][:2] == [date(2026, 11, 23), date(2026, 11, 30)]
        assert _pick(weeks, period=date(2026, 11, 23))["gmv_fen"] == 0
        if today < date(2026, 12, 7):  # today still in the week of 30 November
            assert _pick(weeks, period=date(2026, 11, 30))["gmv_fen"] == 3500
        months = await _report(session, "month")
        assert _pick(months, period=date(2026, 11, 1))["gmv_fen"] == 2500
        assert _pick(months, period=date(2026, 12, 1))["gmv_fen"] == 1000

        # By dimension, over the whole range: money spread over lines by their paid amounts,
        # floor, the remainder to the last line (A: 3,251 over 1,800 / 450 → 2,600 + 651).
        def value(rep: SalesReport, key: str) -> dict[str, int]:
            [v] = [x for x in rep.values if x.key == key]
            return v.model_dump(exclude={"key", "name"})

        by_province = await _report(session, "month", "province")
        sh_p, gd_p = value(by_province, "310000"), value(by_province, "440000")
        assert (sh_p["gmv_fen"], sh_p["paid_fen"], sh_p["cogs_fen"]) == (2500, 3251, cogs_a)
        assert (gd_p["gmv_fen"], gd_p["paid_fen"], gd_p["cogs_fen"]) == (1000, 1000, 0)
        assert _pick(by_province, period=date(2026, 11, 1), key="310000")["gmv_fen"] == 2500
        by_sku = await _report(session, "day", "sku")
        first, second = value(by_sku, str(s1)), value(by_sku, str(s2))
        assert (first["gmv_fen"], first["paid_fen"], first["units_placed"]) == (3000, 3600, 3)
        assert (second["gmv_fen"], second["paid_fen"], second["units_placed"]) == (500, 651, 1)
        assert (first["cogs_fen"], second["cogs_fen"]) == (cogs_a1, cogs_a2)
        by_warehouse = await _report(session, "week", "warehouse")
        assert [(v.key, v.paid_fen) for v in by_warehouse.values] == [(str(sh), 4251)]
        assert by_warehouse.values[0].name  # named
        by_store = await _report(session, "day", "storefront")
        assert [(v.key, v.gmv_fen) for v in by_store.values] == [(str(shop), 3500)]
        by_category = await _report(session, "day", "category")
        expected: dict[str, int] = {}
        for category, gmv in ((c1, 3000), (c2, 500)):
            expected[str(category)] = expected.get(str(category), 0) + gmv
        assert {v.key: v.gmv_fen for v in by_category.values} == expected

        # The money ledger agrees for the same period.
        assert await _ledger(session, date(2026, 11, 23), today) == (4251, 0)

        # A later refund of B is in the next read, on today's row and Guangdong's.
        await sales.refund(session, "SO-SALES-B", "RF-SALES-B", 400)
        after = await _report(session, "day")
        now = _pick(after, period=today)
        assert (now["paid_fen"], now["refunded_fen"], now["net_fen"]) == (4251, 400, 3851)
        assert after.totals.margin_fen == 3851 - cogs_a
        assert (after.totals.paid_fen, after.totals.refunded_fen) == await _ledger(
            session, date(2026, 11, 23), today
        )
        gd_p = value(await _report(session, "day", "province"), "440000")
        assert (gd_p["refunded_fen"], gd_p["net_fen"]) == (400, 600)

        # A customer return of A's second line: its cost comes back at the average of the day
        # (the cost ledger's return_in row), and the cost of goods falls by it.
        await session.execute(
            text(
                "INSERT INTO after_sales (as_no, order_no, type, status, status_seq, reason,"
                " evidence_urls, goods_fen, freight_fen, refund_fen, return_coupons,"
                " requested_by, requested_at, last_progress_at) VALUES ('AS-SALES-A',"
                " 'SO-SALES-A', 'return_and_refund', 'received', 1, '不想要了', '[]', 450, 0,"
                " 450, false, 'cs', now(), now())"
            )
        )
        u2, v2 = await _cost_of(session, s2, sh)
        back = await customer_returns.receive_return(
            session,
            ReturnInbound(
                as_no="AS-SALES-A",
                order_no="SO-SALES-A",
                warehouse_id=sh,
                actor=Actor(kind="user", name="returns"),
                lines=[(InspectedLine(line_no=2, sellable=1, damaged=0), s2)],
            ),
        )
        await session.commit()
        assert back == 1
        returned = v2 // u2  # q = 1 unit in at ⌊v × q / u⌋
        by_sku = await _report(session, "day", "sku")
        second = value(by_sku, str(s2))
        assert (second["units_returned"], second["cogs_fen"]) == (1, cogs_a2 - returned)
        now = _pick(await _report(session, "day"), period=today)
        assert (now["cogs_fen"], now["margin_fen"]) == (cogs_a - returned, 3851 - cogs_a + returned)
        await assert_stock_invariants(session)

        await _rollups_agree(session)

        # A period with nothing: zeros, and the ledger has nothing either.
        quiet = await sales_report(session, date(2026, 1, 1), date(2026, 1, 31), "month",
                                   "none", 0, 100)  # fmt: skip
        assert len(quiet.rows) == 1 and quiet.rows[0].gmv_fen == 0 and quiet.totals.paid_fen == 0
        assert await _ledger(session, date(2026, 1, 1), date(2026, 1, 31)) == (0, 0)
