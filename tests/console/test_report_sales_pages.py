"""The console's sales report page (console/reports_sales.py) on sales made through the real
services (tests/support/sales.py): the totals to the fen, periods and a dimension from the
filters, the chart's data, both exports holding exactly the table's rows, both languages."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import UTC, datetime

import httpx
import openpyxl

from api.deps import AppDeps
from console.money import format_fen
from models.domain.business_day import business_day
from tests.support import sales
from tests.support.console import browser, signed_in, text_of
from tests.support.orders import SHOP
from tests.support.stack import Stack

PLACED_A = datetime(2026, 11, 29, 16, 30, tzinfo=UTC)  # Mon 30 Nov 00:30 in Shanghai
PLACED_B = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)  # Tue 1 Dec 00:30 in Shanghai


async def _sales(stack: Stack) -> None:
    """A (Shanghai, 2 lines, paid 32.51) and B (Guangdong, 1 line, paid 10.00, 4.00 refunded)."""
    async with stack.sessions() as session:
        (s1, c1, _), (s2, c2, _) = await sales.skus(session)
        shop = await sales.storefront(session)
        a_lines = [sales.line(1, s1, c1, 2, 1000, 200), sales.line(2, s2, c2, 1, 500, 50)]
        await sales.order(session, "SO-CSALES-A", shop, "310115", a_lines, 1001, PLACED_A)
        b_lines = [sales.line(1, s1, c1, 1, 1000, 0)]
        await sales.order(session, "SO-CSALES-B", shop, "440305", b_lines, 0, PLACED_B)
        await sales.pay(session, "SO-CSALES-A", 3251)
        await sales.pay(session, "SO-CSALES-B", 1000)
        await sales.refund(session, "SO-CSALES-B", "RF-CSALES-B", 400)


def _cells(page: str) -> list[list[str]]:
    body = re.search(r'<table class="list" id="sales-table">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert body
    cells = r"<td[^>]*>(.*?)</td>"
    return [
        [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(cells, row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body[1], re.S)
    ]


def _chart(page: str) -> dict[str, object]:
    found = re.search(r'data-chart="([^"]*)"', page)
    assert found
    spec: dict[str, object] = json.loads(html.unescape(found[1]))
    return spec


def _fen(yuan: str) -> int:
    sign = -1 if yuan.startswith("-") else 1
    whole, cents = yuan.lstrip("-").split(".")
    return sign * (int(whole) * 100 + int(cents))


async def test_sales_report_page_totals_dimensions_and_exports(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    await _sales(stack)
    today = business_day(datetime.now(UTC)).isoformat()
    months = {"date_from": "2026-11-01", "date_to": today, "by": "month"}
    async with browser(deps) as web:
        await signed_in(web, "ops")
        page = await web.get("/console/reports/sales", params=months)
        assert page.status_code == 200, page.text
        assert "销售报表" in page.text and 'href="/console/reports/sales"' in page.text  # menu
        totals = text_of(re.search(r'<tr id="sales-totals">.*?</tr>', page.text, re.S)[0])  # type: ignore[index]
        # GMV 35.00, discount 2.50, paid 42.51, refunded 4.00, net 38.51 (no cost: not shipped)
        for fen in (3500, 250, 4251, 400, 3851):
            assert format_fen(fen) in totals, (fen, totals)
        assert "100.0%" in totals  # margin ÷ net, one decimal
        rows = _cells(page.text)
        assert [r[0] for r in rows][:2] == ["2026-11-01", "2026-12-01"]
        assert rows[0][1:3] == ["3", format_fen(2500)]  # November: A, placed 30 Nov in Shanghai
        assert rows[1][1:3] == ["1", format_fen(1000)]  # December: B, placed 1 Dec in Shanghai
        chart = _chart(page.text)
        assert chart["kind"] == "line" and chart["labels"] == [r[0] for r in rows]
        assert chart["series"][0]["values"][:2] == [2500, 1000]  # type: ignore[index]

        # Split by province: a row per month and province, bars per province, names shown.
        split = {**months, "dimension": "province"}
        by_province = await web.get("/console/reports/sales", params=split)
        shown = _cells(by_province.text)
        assert shown[0][:2] == ["2026-11-01", "上海"] and shown[0][3] == format_fen(2500)
        provinces = {r[1] for r in shown}
        assert provinces == {"上海", "广东"}
        bars = _chart(by_province.text)
        assert bars["kind"] == "bar" and set(bars["labels"]) == {"上海", "广东"}  # type: ignore[arg-type]

        # The exports hold exactly the table's rows, figures as plain yuan.
        exported = await web.get("/console/reports/sales/export.csv", params=split)
        lines = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
        assert lines[0][:4] == ["周期", "收货省份", "下单件数", "GMV"]
        assert len(lines) - 1 == len(shown)
        for line, row in zip(lines[1:], shown, strict=True):
            assert line[:3] == row[:3]
            assert [_fen(v) for v in line[3:10]] == [
                _fen(v.replace("¥", "").replace(",", "")) for v in row[3:10]
            ]
        book = openpyxl.load_workbook(
            io.BytesIO((await web.get("/console/reports/sales/export.xlsx", params=split)).content)
        )
        assert book.active is not None and book.active.max_row == len(shown) + 1

        # The API answers staff only: a storefront's key (orders.read) is refused.
        refused = await api.get("/v1/reports/sales", headers=SHOP)
        assert refused.status_code == 403, refused.text

        # English: the same figures, the words of the other catalogue.
        web.cookies.set("houtai_lang", "en")
        english = await web.get("/console/reports/sales", params=split)
        assert "Sales report" in english.text and "Guangdong" in english.text
