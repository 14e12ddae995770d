"""The purchasing and finance report pages (console/reports_buy.py): figures of a data set made
by the real processes, shown as percentages and ¥; the chart's data; each table's CSV and XLSX
export holds exactly the rows the table shows; the menu; who may see which."""

from __future__ import annotations

import csv
import html
import io
import json
import re

import httpx
import openpyxl

from api.deps import AppDeps
from console.money import format_fen
from tests.api.test_reconciliation import paid_and_refunded
from tests.support.console import browser, signed_in
from tests.support.order_api import refunds, skus_in
from tests.support.reports_buy import buying, today
from tests.support.stack import Stack


def table(page: str, table_id: str) -> list[list[str]]:
    """The body rows of a table of the page, as text."""
    found = re.search(rf'<table class="list" id="{table_id}">(.*?)</table>', page, re.S)
    assert found, table_id
    body = found[1].split("<tbody>", 1)[1]
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def csv_rows(answer: httpx.Response) -> list[list[str]]:
    assert answer.status_code == 200, answer.text
    return list(csv.reader(io.StringIO(answer.text.lstrip("\ufeff"))))


def xlsx_rows(answer: httpx.Response) -> list[list[str]]:
    assert answer.status_code == 200, answer.text
    sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).active
    assert sheet is not None
    return [["" if c is None else str(c) for c in row] for row in sheet.iter_rows(values_only=True)]


def charts(page: str) -> list[dict[str, object]]:
    return [json.loads(html.unescape(s)) for s in re.findall(r'data-chart="([^"]*)"', page)]


async def test_purchasing_page_shows_the_figures_and_exports_each_table(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    b = await buying(stack, api)
    day = today().isoformat()
    params = {"supplier_id": str(b.supplier), "sku_id": str(b.sku_a)}
    async with browser(deps) as web:
        await signed_in(web, "purchasing")
        page = await web.get("/console/reports/purchasing", params=params)
        assert page.status_code == 200, page.text
        assert "采购报表" in page.text and 'href="/console/reports/purchasing"' in page.text
        assert 'href="/console/reports/finance"' not in page.text  # finance.read only
        [row] = table(page.text, "supplier-table")
        # 110 of 190 units: 57.9 %; one receipt of two on time: 50.0 %.
        assert row[0] == day and row[2:] == ["2", "190", "110", "57.9%", "2", "1", "50.0%"]
        assert re.search(r'id="fill-total">57.9%<', page.text)
        [price] = table(page.text, "price-table")
        assert price[:1] + price[2:] == [day, "3", "160", "¥2.68", "¥2.50", "¥3.00"]
        [open_row] = table(page.text, "open-table")
        assert open_row[1:] == ["1 · ¥28.00", "0 · ¥0.00", "0 · ¥0.00", "0 · ¥0.00", "1", "¥28.00"]
        rates, prices = charts(page.text)
        assert rates["labels"] == [day] and rates["series"][0]["values"] == [57.9]  # type: ignore[index]
        assert prices["unit"] == "fen" and prices["series"][0]["values"] == [268]  # type: ignore[index]

        for name, table_id in (
            ("suppliers", "supplier-table"),
            ("prices", "price-table"),
            ("open_pos", "open-table"),
        ):
            shown = table(page.text, table_id)
            exported = csv_rows(
                await web.get(
                    "/console/reports/purchasing/export.csv", params={**params, "table": name}
                )
            )
            assert exported[1:] == shown, name
            book = xlsx_rows(
                await web.get(
                    "/console/reports/purchasing/export.xlsx", params={**params, "table": name}
                )
            )
            assert book[0] == exported[0] and book[1:] == shown, name
        unknown = await web.get("/console/reports/purchasing/export.csv", params={"table": "nope"})
        assert unknown.status_code == 404
        # Not finance's to read for a buyer.
        assert (await web.get("/console/reports/finance")).status_code == 403


async def test_finance_page_totals_chart_and_exports(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    sku = (await skus_in(stack, "SH01", 1))[0]
    cancelled = await paid_and_refunded(stack, api, sku, "rep-console")
    [refund] = await refunds(stack, cancelled)
    month = today().replace(day=1).isoformat()
    async with browser(deps) as web:
        await signed_in(web, "finance")
        page = await web.get("/console/reports/finance", params={"by": "month"})
        assert page.status_code == 200, page.text
        assert "财务报表" in page.text and 'href="/console/reports/finance"' in page.text
        [spec] = charts(page.text)
        assert spec["kind"] == "bar" and spec["unit"] == "fen" and spec["labels"] == [month]
        assert spec["series"][0] == {"name": "订单取消", "values": [refund.amount_fen]}  # type: ignore[index]
        assert table(page.text, "refund-table") == [
            [month, "订单取消", "1", format_fen(refund.amount_fen)]
        ]
        assert table(page.text, "period-table") == [
            [month, "1", format_fen(refund.amount_fen), "0", "¥0.00", "0", "0"]
        ]
        assert re.search(
            rf'id="refund-total">{re.escape(format_fen(refund.amount_fen))}<', page.text
        )
        for name, table_id in (
            ("periods", "period-table"),
            ("refunds", "refund-table"),
            ("payments", "payment-table"),
            ("payables", "payable-table"),
            ("reconciliation", "difference-table"),
        ):
            shown = table(page.text, table_id)
            exported = csv_rows(
                await web.get(
                    "/console/reports/finance/export.csv", params={"by": "month", "table": name}
                )
            )
            assert [r for r in shown if len(r) > 1] == exported[1:], name
