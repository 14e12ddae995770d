"""The console's stock and warehouse report pages (console/reports_stock.py) on the demo data:
the figures are the database's to the fen, filters change them, the chart carries the rows, and
both exports hold exactly the rows the table shows; both languages."""

from __future__ import annotations

import csv
import html
import io
import json
import re

import openpyxl
from sqlalchemy import text

from api.deps import AppDeps
from console.money import format_fen
from tests.support.console import browser, signed_in
from tests.support.order_api import warehouse_id
from tests.support.stack import Stack

PAGES = (
    "stock",
    "stock-aging",
    "stock-cover",
    "dead-stock",
    "stock-outs",
    "warehouse",
    "warehouse-pickers",
)


def _table(page: str) -> list[list[str]]:
    body = page.split('id="report-table"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr data-row>(.*?)</tr>", body, re.S)
    return [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)] for r in rows]


def _totals(page: str) -> dict[str, str]:
    found = re.findall(r'data-total="([a-z_0-9]+)"><dt>[^<]*</dt><dd>([^<]*)</dd>', page)
    return {k: html.unescape(v) for k, v in found}


def _chart(page: str) -> dict[str, object]:
    spec = re.search(r'data-chart="([^"]*)"', page)
    assert spec is not None
    loaded: dict[str, object] = json.loads(html.unescape(spec[1]))
    return loaded


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


async def test_report_pages_show_the_database_figures_and_export_exactly_the_rows(
    stack: Stack, deps: AppDeps
) -> None:
    sh01 = await warehouse_id(stack, "SH01")
    async with stack.sessions() as session:
        per_warehouse = {
            name: int(fen)
            for name, fen in (
                await session.execute(
                    text(
                        "SELECT w.name, SUM(c.value_fen) FROM stock_costs c JOIN warehouses w"
                        " ON w.id = c.warehouse_id WHERE c.units > 0 GROUP BY 1"
                    )
                )
            ).all()
        }
        categories = await session.scalar(
            text(
                "SELECT COUNT(DISTINCT p.category_id) FROM stock_costs c JOIN skus s"
                " ON s.id = c.sku_id JOIN spus p ON p.id = s.spu_id WHERE c.units > 0"
            )
        )
    assert len(per_warehouse) >= 2  # the demo's stock is valued in several warehouses
    async with browser(deps) as web:
        await signed_in(web, "admin")
        page = await web.get("/console/reports/stock")
        assert page.status_code == 200, page.text
        assert "库存金额报表" in page.text and 'href="/console/reports/stock"' in page.text
        shown = _table(page.text)
        assert {r[0]: r[3] for r in shown} == {
            name: format_fen(int(fen)) for name, fen in per_warehouse.items()
        }
        assert _totals(page.text)["value_fen"] == format_fen(sum(per_warehouse.values()))
        chart = _chart(page.text)
        assert chart["unit"] == "fen" and chart["labels"] == [r[0] for r in shown]
        assert chart["series"] == [  # type: ignore[comparison-overlap]
            {"name": "库存金额", "values": [per_warehouse[r[0]] for r in shown]}
        ]

        exported = await web.get("/console/reports/stock/export.csv")
        lines = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
        assert lines[0] == ["名称", "在库", "SKU 数", "库存金额"]
        assert [r[:3] for r in lines[1:]] == [r[:3] for r in shown]
        assert [r[3] for r in lines[1:]] == [_yuan(int(per_warehouse[r[0]])) for r in shown]
        book = openpyxl.load_workbook(
            io.BytesIO((await web.get("/console/reports/stock/export.xlsx")).content)
        )
        cells = list(book.active.iter_rows(min_row=2, values_only=True))  # type: ignore[union-attr]
        assert [list(map(str, c[:3])) for c in cells] == [r[:3] for r in shown]

        by_category = await web.get("/console/reports/stock", params={"group": "category"})
        assert len(_table(by_category.text)) == categories
        one = await web.get("/console/reports/stock", params={"warehouse_id": sh01})
        [only] = _table(one.text)
        assert only[3] == format_fen(int(per_warehouse[only[0]]))
        bad = await web.get("/console/reports/stock", params={"group": "sku"})
        assert "无效的筛选条件：group" in bad.text

        # Every report page: its chart, its table, and exports matching the table.
        for name in PAGES:
            shown_page = await web.get(f"/console/reports/{name}")
            assert shown_page.status_code == 200, (name, shown_page.text)
            assert 'class="chart"' in shown_page.text and "echarts.min.js" in shown_page.text
            table = _table(shown_page.text)
            exported = await web.get(f"/console/reports/{name}/export.csv")
            assert exported.status_code == 200, name
            rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))[1:]
            count = re.search(r'id="row-count">[^<]*?([0-9,]+)', shown_page.text)
            assert count is not None
            assert len(rows) == int(count[1].replace(",", "")), name  # every filtered row
            assert [r[:2] for r in rows[: len(table)]] == [r[:2] for r in table], name
        aging = await web.get("/console/reports/stock-aging")  # units at locations = on hand
        assert _totals(aging.text)["on_hand"] == _totals(page.text)["on_hand"]
        empty = await web.get(
            "/console/reports/warehouse",
            params={"date_from": "2020-01-01", "date_to": "2020-01-31"},
        )
        assert _table(empty.text) == [] and _totals(empty.text)["on_time_pct"] == "—"

        web.cookies.set("houtai_lang", "en")
        english = await web.get("/console/reports/stock-cover", params={"days": "7"})
        assert "Days of cover" in english.text and "可售天数" not in english.text
        assert 'value="7"' in english.text
