"""The console's stock value page (console/stock_value.py) on the demo data: the figures are
the database's, to the fen; filters, sort, fragments and both exports hold exactly the
filtered rows; a manager limited to one warehouse sees only its value; both languages."""

from __future__ import annotations

import csv
import io
import re

import openpyxl
from sqlalchemy import text

from api.deps import AppDeps
from console.money import format_fen
from models.db import UserWarehouse
from tests.support.api import PASSWORD, add_user
from tests.support.console import browser, sign_in, signed_in
from tests.support.order_api import warehouse_id
from tests.support.stack import Stack


async def _value(stack: Stack, warehouse: int | None = None) -> tuple[int, int]:
    """(rows with stock, their value in fen) straight from the cost table."""
    async with stack.sessions() as session:
        row = (
            await session.execute(
                text(
                    "SELECT count(*), COALESCE(sum(value_fen), 0) FROM stock_costs"
                    " WHERE units > 0 AND (CAST(:w AS integer) IS NULL OR warehouse_id = :w)"
                ),
                {"w": warehouse},
            )
        ).one()
    return int(row[0]), int(row[1])


def _fen(yuan: str) -> int:
    whole, cents = yuan.split(".")
    return int(whole) * 100 + int(cents)


async def test_stock_value_page_filters_and_exports_to_the_fen(stack: Stack, deps: AppDeps) -> None:
    sh01 = await warehouse_id(stack, "SH01")
    rows, total = await _value(stack)
    sh_rows, sh_total = await _value(stack, sh01)
    assert 0 < sh_rows < rows and 0 < sh_total < total  # the demo's stock is valued
    async with browser(deps) as web:
        await signed_in(web, "finance")
        page = await web.get("/console/stock-value")
        assert page.status_code == 200, page.text
        assert "库存金额" in page.text and 'href="/console/stock-value"' in page.text  # menu
        assert f"共 {rows} 条" in page.text
        assert re.search(r'id="value-total">[^<]*<strong>([^<]*)</strong>', page.text)[1] == (  # type: ignore[index]
            format_fen(total)
        )

        filtered = await web.get(
            "/console/stock-value", params={"warehouse_id": sh01, "sort": "-value_fen"}
        )
        assert f"共 {sh_rows} 条" in filtered.text and format_fen(sh_total) in filtered.text
        shown = re.findall(r'data-value="\d+/(\d+)"', filtered.text)
        assert shown and set(shown) == {str(sh01)}

        exported = await web.get(
            "/console/stock-value/export.csv", params={"warehouse_id": sh01, "sort": "-value_fen"}
        )
        lines = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
        assert lines[0] == ["SKU", "仓库", "在库", "平均成本", "库存金额"]
        assert len(lines) - 1 == sh_rows and {r[1] for r in lines[1:]} == {str(sh01)}
        values = [_fen(r[4]) for r in lines[1:]]
        assert sum(values) == sh_total and values == sorted(values, reverse=True)
        for r in lines[1:]:  # the average shown is value ÷ units, rounded down
            assert _fen(r[3]) == _fen(r[4]) // int(r[2])
        book = openpyxl.load_workbook(
            io.BytesIO(
                (
                    await web.get("/console/stock-value/export.xlsx", params={"warehouse_id": sh01})
                ).content
            )
        )
        cells = list(book.active.iter_rows(min_row=2, values_only=True))  # type: ignore[union-attr]
        assert len(cells) == sh_rows and sum(_fen(str(c[4])) for c in cells) == sh_total

        fragment = await web.get(
            "/console/stock-value", params={"warehouse_id": sh01}, headers={"HX-Request": "true"}
        )
        assert "<html" not in fragment.text and 'id="value-total"' in fragment.text
        assert fragment.headers["HX-Push-Url"] == f"/console/stock-value?warehouse_id={sh01}"
        bad = await web.get("/console/stock-value", params={"sort": "nope", "in_stock": "x"})
        assert "无效的筛选条件：sort" in bad.text and "无效的筛选条件：in_stock" in bad.text

        web.cookies.set("houtai_lang", "en")
        english = await web.get("/console/stock-value", params={"warehouse_id": sh01})
        assert "Average cost" in english.text and f"{sh_rows} rows" in english.text
        assert "平均成本" not in english.text


async def test_a_manager_of_one_warehouse_sees_only_its_value(stack: Stack, deps: AppDeps) -> None:
    sh01, gz01 = await warehouse_id(stack, "SH01"), await warehouse_id(stack, "GZ01")
    sh_rows, sh_total = await _value(stack, sh01)
    user = await add_user(deps.session_factory, "sh01-value", "warehouse_manager")
    async with deps.session_factory() as session:
        session.add(UserWarehouse(user_id=user, warehouse_id=sh01))
        await session.commit()
    async with browser(deps) as web:
        assert (await sign_in(web, "sh01-value", PASSWORD)).status_code == 303
        page = await web.get("/console/stock-value")
        assert f"共 {sh_rows} 条" in page.text and format_fen(sh_total) in page.text
        assert set(re.findall(r'data-value="\d+/(\d+)"', page.text)) == {str(sh01)}
        for path in ("/console/stock-value", "/console/stock-value/export.csv"):
            refused = await web.get(path, params={"warehouse_id": gz01})
            assert refused.status_code == 403, path
