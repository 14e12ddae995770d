"""The console's orders and after-sales reports (console/reports_orders.py) on the hand-computed
data set of tests/support/report_orders.py: the figures shown are the API's, to the fen and the
tenth of a percent; the filters reach the API; each export holds exactly the table's rows."""

from __future__ import annotations

import csv
import io
import re

import openpyxl
from sqlalchemy import text

from api.deps import AppDeps
from tests.support.console import browser, signed_in
from tests.support.report_orders import DataSet, make_data_set
from tests.support.stack import Stack

WINDOW = {"date_from": "2026-11-29", "date_to": "2026-12-02"}


async def _data(stack: Stack) -> DataSet:
    async with stack.sessions() as session:
        sku = int(await session.scalar(text("SELECT min(id) FROM skus")) or 0)
        sh, gz = (
            int(w)
            for w in (await session.scalars(text("SELECT id FROM warehouses ORDER BY id LIMIT 2")))
        )
    return await make_data_set(stack.sessions, sku, sh, gz)


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """The cells of a table's body rows, as text."""
    body = re.search(rf'id="{table_id}">.*?<tbody>(.*?)</tbody>', html, re.S)
    assert body is not None, table_id
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body[1], re.S)
    ]


def csv_rows(content: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.lstrip("\ufeff"))))


async def test_orders_report_page_figures_filters_and_exports(stack: Stack, deps: AppDeps) -> None:
    data = await _data(stack)
    async with browser(deps) as web:
        await signed_in(web, "ops")
        page = await web.get("/console/reports/orders", params=WINDOW)
        assert page.status_code == 200, page.text
        html = page.text
        assert "订单报表" in html and 'href="/console/reports/orders"' in html  # in the menu
        assert 'class="chart"' in html and "data-chart=" in html
        steps = dict(re.findall(r'data-step="(\w+)">[^<]*<strong>(\d+)</strong>', html))
        assert steps == {"placed": "7", "paid": "3", "handed_over": "2", "completed": "1",
                         "cancelled": "5"}  # fmt: skip
        assert "42.9%" in html  # paid: 3 of 7 placed, one decimal
        funnel = table_rows(html, "funnel-table")
        assert funnel == [
            ["2026-11-29", "shop-a", "1", "1", "0", "0", "0"],
            ["2026-11-30", "shop-a", "3", "1", "2", "0", "2"],
            ["2026-11-30", "shop-b", "1", "0", "0", "0", "0"],
            ["2026-12-01", "shop-a", "0", "0", "0", "1", "0"],
            ["2026-12-01", "shop-b", "2", "1", "0", "0", "3"],
        ]
        assert table_rows(html, "cancel-table") == [
            ["支付超时", "1", "20.0%"],
            ["顾客取消", "1", "20.0%"],
            ["客服取消", "1", "20.0%"],
            ["风控审核", "1", "20.0%"],
            ["缺货", "1", "20.0%"],
        ]
        handover = table_rows(html, "handover-table")
        assert [r[2:] for r in handover] == [["2", "10.3", "63.0"], ["1", "1447.2", "1447.2"]]
        assert "3 个包裹 · p50 63.0 分钟 · p90 1447.2 分钟" in html

        exported = await web.get("/console/reports/orders/export.csv", params=WINDOW)
        lines = csv_rows(exported.text)
        assert lines[0] == ["周期", "店铺", "下单", "已支付", "已交接", "已完成", "已取消"]
        assert lines[1:] == funnel
        book = openpyxl.load_workbook(io.BytesIO((await web.get(
            "/console/reports/orders/export.xlsx", params={**WINDOW, "table": "handover"}
        )).content))  # fmt: skip
        sheet = [
            [str(c) for c in row] for row in book.active.iter_rows(min_row=2, values_only=True)
        ]
        assert sheet == handover

        weekly = await web.get(
            "/console/reports/orders", params={**WINDOW, "by": "week", "api_key_id": data.shop_b}
        )
        assert table_rows(weekly.text, "funnel-table") == [
            ["2026-11-30", "shop-b", "3", "1", "0", "0", "3"]
        ]
        week_csv = await web.get(
            "/console/reports/orders/export.csv",
            params={**WINDOW, "by": "week", "api_key_id": data.shop_b, "table": "cancellations"},
        )
        assert csv_rows(week_csv.text)[1:] == [["支付超时", "1"], ["风控审核", "1"], ["缺货", "1"]]
        empty = await web.get(
            "/console/reports/orders", params={"date_from": "2026-10-01", "date_to": "2026-10-31"}
        )
        assert (
            table_rows(empty.text, "funnel-table") == [["暂无数据"]]
            or len(table_rows(empty.text, "funnel-table")) == 1
        )


async def test_after_sales_report_page_figures_and_exports(stack: Stack, deps: AppDeps) -> None:
    data = await _data(stack)
    async with browser(deps) as web:
        await signed_in(web, "cs")
        page = await web.get("/console/reports/after-sales", params=WINDOW)
        assert page.status_code == 200, page.text
        html = page.text
        assert "售后报表" in html and "data-chart=" in html
        skus = table_rows(html, "sku-table")
        assert [r[:2] + r[3:] for r in skus] == [
            [str(data.sku_x), skus[0][1], "5", "2", "2", "40.0%", "¥15.00"],
            [str(data.sku_y), "RPT-Y-250", "2", "2", "2", "100.0%", "¥0.00"],
        ]
        reasons = table_rows(html, "reason-table")
        assert reasons == [
            ["质量问题", "2", "3", "42.9%", "1", "¥15.00", "2", "50.0%", "214.3", "2895.3"],
            ["不想要了", "1", "1", "14.3%", "0", "¥0.00", "1", "100.0%", "31.0", "31.0"],
        ]
        totals = dict(re.findall(r'data-total="(\w+)">[^<]*<strong>([^<]*)</strong>', html))
        assert totals == {"rate": "57.1%", "requests": "3", "refunded": "¥15.00",
                          "within_sla": "66.7%", "p50": "214.3", "p90": "2895.3"}  # fmt: skip

        exported = csv_rows((await web.get(
            "/console/reports/after-sales/export.csv", params=WINDOW)).text)  # fmt: skip
        assert exported[0][:3] == ["SKU 编号", "SKU 编码", "SKU"]
        assert [r[:1] + r[3:7] + [r[7]] for r in exported[1:]] == [
            [str(data.sku_x), "5", "2", "2", "40.0%", "15.00"],
            [str(data.sku_y), "2", "2", "2", "100.0%", "0.00"],
        ]
        reason_export = await web.get(
            "/console/reports/after-sales/export.csv", params={**WINDOW, "table": "reasons"}
        )
        by_reason = csv_rows(reason_export.text)
        assert [r[0] for r in by_reason[1:]] == ["质量问题", "不想要了"]
        assert by_reason[1][5] == "15.00" and by_reason[1][7] == "50.0%"

        filtered = await web.get(
            "/console/reports/after-sales", params={**WINDOW, "reason": "不想要了"}
        )
        assert [r[0] for r in table_rows(filtered.text, "sku-table")] == [str(data.sku_y)]
